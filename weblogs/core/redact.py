"""The one redaction function: what may carry a secret never reaches a log line.

The API URL can hold a key in its query string (`?api_key=...`) or its userinfo
(`user:password@`), and libraries repeat the URL in their messages (urllib3
writes the path and query of a refused request, without the scheme). So every
handler the project installs formats through `RedactingFormatter`, and the few
texts that leave by another way (a configuration error, the failed store's
error fields) go through `redact` themselves.
"""

from __future__ import annotations

import logging
import re

MASK = "<redacted>"

# `scheme://user:password@` or `scheme://token@`: the userinfo goes.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s?#@'\"<>]*@")
# A bare `user:password@host` (no scheme), as some messages spell a netloc.
_BARE_USERINFO = re.compile(r"(?<![\w/@.-])[^\s/?#@'\"<>:=]+:[^\s/?#@'\"<>]*@(?=[\w.-]+)")
# A query string after a URL or a path: everything up to white space, a quote or a bracket.
_QUERY = re.compile(r"\?[^\s'\"<>()\[\]{}]*[=&][^\s'\"<>()\[\]{}]*")
# `Authorization: Bearer x`, `'X-Api-Key': 'x'`, `api_key=x`, `token: x`, ...
_SECRET_FIELD = re.compile(
    r"(?i)(\b(?:proxy-)?authorization|\bx-api-key|\bapi[-_]?key|\baccess[-_]?token|\btoken"
    r"|\bsecret|\bpassword|\bpasswd)(['\"]?\s*[:=]\s*['\"]?)"
    r"((?:basic|bearer|token)\s+)?[^\s'\",;&}]+"
)


def redact(text: str) -> str:
    """`text` without URL query strings, userinfo or credential-looking fields."""
    if not text:
        return text
    text = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    text = _BARE_USERINFO.sub(MASK + "@", text)
    text = _QUERY.sub("?" + MASK, text)
    return _SECRET_FIELD.sub(lambda m: m.group(1) + m.group(2) + (m.group(3) or "") + MASK, text)


def redact_url(url: str) -> str:
    """A URL as a log may show it: scheme, host, port and path only."""
    return redact(url.split("#", 1)[0].split("?", 1)[0])


class RedactingFormatter(logging.Formatter):
    """Formats as usual (tracebacks included), then redacts the whole text."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
