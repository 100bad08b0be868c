"""The project's one error hierarchy: what the CLI and the handlers turn into one clear line."""


class WeblogsError(Exception):
    """Base of every error weblogs raises on purpose (never a bug)."""


class UsageError(WeblogsError):
    """A problem with the user's arguments or environment: printed as one line, exit 2."""


class ConfigError(UsageError, ValueError):
    """A setting that cannot work; the message names the variable and what is accepted."""


class LakeError(UsageError):
    """The lake cannot be used (unwritable folder, missing bucket): a user-facing message."""


class ModelsError(WeblogsError):
    """dbt ran but the build failed (a model error or a failing data test)."""


class RegistrationError(WeblogsError, RuntimeError):
    """Final failure to register partitions: raised so Lambda retries the event."""
