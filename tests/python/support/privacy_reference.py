"""The bot and redaction rules of docs/contract.md section 7 in plain Python.

Written from the contract's words, not from the SQL: the text is walked item by
item (no regular expression), so a test comparing the two on random URLs checks
one reading against another.
"""

from __future__ import annotations

from collections.abc import Iterable

#: The defaults of `redacted_query_params` and `bot_browser_patterns` (dbt_project.yml).
REDACTED_DEFAULT = (
    "email", "e-mail", "mail", "token", "access_token", "id_token", "password", "pass",
    "pwd", "secret", "ssn", "phone", "tel",
)  # fmt: skip
BOT_DEFAULT = ("bot", "crawler", "spider", "headless", "phantomjs", "python-requests", "curl")
DELIMITERS = "?&#"
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Lower-cases A-Z only: the contract ignores ASCII case, not Unicode case."""
    return text.translate(_ASCII_LOWER)


def redact_url(url: str | None, names: Iterable[str] = REDACTED_DEFAULT) -> str | None:
    """`url` with the value of every listed item after the first `?` or `#` replaced."""
    if url is None:
        return None
    listed = {ascii_lower(n) for n in names}
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=-1)
    if cut < 0 or not listed:
        return url
    out = [url[: cut + 1]]
    item: list[str] = []

    def flush() -> None:
        text = "".join(item)
        name, eq, _ = text.partition("=")
        out.append(f"{name}=redacted" if eq and ascii_lower(name) in listed else text)
        item.clear()

    for char in url[cut + 1 :]:
        if char in DELIMITERS:
            flush()
            out.append(char)
        else:
            item.append(char)
    flush()
    return "".join(out)


def is_bot_browser(browser: str | None, patterns: Iterable[str] = BOT_DEFAULT) -> bool:
    """A session's browser (trimmed, lower-cased) containing one of the patterns."""
    return browser is not None and any(p in browser for p in patterns)
