"""Errors that the CLI turns into one clear line instead of a traceback."""


class UsageError(Exception):
    """A problem with the user's arguments or environment: printed as one line, exit 2."""
