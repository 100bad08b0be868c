"""Which stored records are one user's (docs/contract.md, section 7: erasure).

Pure rules, no I/O: `weblogs.adapters.erasure` walks the lake and asks these. A
user is known only by SHA-256 hashes of the identifiers (the user id, the client
ids C of their events, the session ids S of the events of the user or of C), so
a work journal or a record never holds an identifier itself. A record goes when
its `user_id` is the user's, its `client_id` is in C or its `session_id` is in
S, with the values read as the contract reads them (trimmed text, an integer
user id as its decimal text). A payload that is not a JSON object (invalid JSON,
an array) cannot be read by field: it goes when one of its JSON string tokens
(or, for the user id, a bare number) is one of those identifiers.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

#: The longest user id `weblogs forget` accepts (far above any real one).
MAX_USER_ID_CHARS = 1024
#: The columns of events/ that decide whether a row goes.
ID_COLUMNS = ("user_id", "client_id", "session_id")
#: A JSON string token, and a bare integer, in a payload that is not a JSON object.
_STRING_TOKEN = re.compile(rb'"((?:[^"\\]|\\.){1,4096})"')
_NUMBER_TOKEN = re.compile(rb"(?<![0-9.])-?[0-9]{1,64}(?![0-9.])")


def sha256_hex(value: str) -> str:
    """The hash every identifier is known by (UTF-8; a lone surrogate kept as is)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def check_user_id(value: str) -> str:
    """The trimmed id, or ValueError with one line saying why it cannot be one."""
    text = value.strip()
    if not text:
        raise ValueError("--user-id is empty")
    if len(text) > MAX_USER_ID_CHARS:
        raise ValueError(f"--user-id is longer than {MAX_USER_ID_CHARS} characters")
    if any(ord(c) < 32 for c in text):
        raise ValueError("--user-id contains a control character")
    return text


@dataclass
class Targets:
    """The user, C and S as hashes (what a journal keeps); `matches` decides one record.

    The run also holds the plain values it read itself (`user_id`, `clients`,
    `sessions`, never written anywhere): while every hash has its plain value,
    records are compared by value (`fast`), else each value is hashed (a rerun
    whose journal names ids no longer in the lake).
    """

    user_hash: str
    client_hashes: set[str] = field(default_factory=set)
    session_hashes: set[str] = field(default_factory=set)
    user_id: str | None = None
    clients: set[str] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    fast: bool = False

    def add(self, clients: Iterable[str | None], sessions: Iterable[str | None]) -> None:
        """Plain values read from the lake, with their hashes."""
        for value in clients:
            if value is not None and value.strip():
                self.clients.add(value.strip())
        for value in sessions:
            if value is not None and value.strip():
                self.sessions.add(value.strip())
        self.client_hashes |= {sha256_hex(v) for v in self.clients}
        self.session_hashes |= {sha256_hex(v) for v in self.sessions}

    def settle(self) -> None:
        """Compare by value from now on when every hash has its plain value."""
        self.fast = (
            self.user_id is not None
            and sha256_hex(self.user_id) == self.user_hash
            and self.client_hashes == {sha256_hex(v) for v in self.clients}
            and self.session_hashes == {sha256_hex(v) for v in self.sessions}
        )

    def is_user(self, value: str | None) -> bool:
        if value is None:
            return False
        return value == self.user_id if self.fast else sha256_hex(value) == self.user_hash

    def is_client(self, value: str | None) -> bool:
        if value is None:
            return False
        return value in self.clients if self.fast else sha256_hex(value) in self.client_hashes

    def is_session(self, value: str | None) -> bool:
        if value is None:
            return False
        return value in self.sessions if self.fast else sha256_hex(value) in self.session_hashes

    def matches(self, user_id: str | None, client_id: str | None, session_id: str | None) -> bool:
        return self.is_user(user_id) or self.is_client(client_id) or self.is_session(session_id)

    def any_token(self, value: str) -> bool:
        return self.is_user(value) or self.is_client(value) or self.is_session(value)


def _text(value: Any) -> str | None:
    """A field as the contract reads it: trimmed text, blank -> None."""
    if type(value) is str:
        return value.strip() or None
    return None


def _user_text(value: Any) -> str | None:
    if type(value) is int:
        return str(value)
    return _text(value)


def event_ids(event: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(user_id, client_id, session_id) of an event object as received."""
    return (
        _user_text(event.get("user_id")),
        _text(event.get("client_id")),
        _text(event.get("session_id")),
    )


def text_matches(data: bytes, targets: Targets) -> bool:
    """A payload that is not a JSON object: judged by its string tokens and integers."""
    for match in _STRING_TOKEN.finditer(data):
        token = match.group(0)
        try:
            value = orjson.loads(token)
        except orjson.JSONDecodeError:
            value = token[1:-1].decode("utf-8", "replace")
        if isinstance(value, str) and value.strip() and targets.any_token(value.strip()):
            return True
    return any(targets.is_user(m.group(0).decode()) for m in _NUMBER_TOKEN.finditer(data))


def payload_matches(payload: bytes, targets: Targets) -> bool:
    """An event as received (a raw archive line, a failed record's payload)."""
    try:
        event = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return text_matches(payload, targets)
    if isinstance(event, dict):
        return targets.matches(*event_ids(event))
    return text_matches(payload, targets)


def failed_line_matches(line: bytes, targets: Targets) -> bool:
    """A failed-store line, judged by the payload it kept as received."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return text_matches(line, targets)
    if not isinstance(record, dict) or not isinstance(record.get("payload"), str):
        return text_matches(line, targets)
    payload = record["payload"]
    if record.get("payload_encoding") == "base64":
        try:
            return payload_matches(base64.b64decode(payload, validate=True), targets)
        except (binascii.Error, ValueError):
            return text_matches(line, targets)
    return payload_matches(payload.encode("utf-8", "surrogatepass"), targets)


def hashed_members(column: pa.ChunkedArray | pa.Array, hashes: set[str]) -> pa.Array:
    """The distinct values of a text column whose trimmed hash is in `hashes`."""
    if not hashes:
        return pa.array([], pa.string())
    values = pc.unique(column).to_pylist()
    return pa.array([v for v in values if v is not None and sha256_hex(v.strip()) in hashes])


def row_mask(table: pa.Table, targets: Targets) -> pa.Array:
    """True for the rows of an events/ table that are the user's (C and S included)."""
    mask = pc.fill_null(pa.nulls(table.num_rows, pa.bool_()), False)
    checks = (
        ("user_id", {targets.user_hash}, {targets.user_id} if targets.user_id else set()),
        ("client_id", targets.client_hashes, targets.clients),
        ("session_id", targets.session_hashes, targets.sessions),
    )
    for name, hashes, plain in checks:
        if name in table.column_names and hashes:
            column = table.column(name)
            if targets.fast:
                members = pa.array(sorted(plain), pa.string())
            else:
                members = hashed_members(column, hashes)
            if len(members):
                mask = pc.or_(mask, pc.fill_null(pc.is_in(column, value_set=members), False))
    return mask


#: The longest CSV record `weblogs forget` reads (a Python `csv` field holds at most
#: 131,072 characters; an unbalanced quote would make the rest of a file one record).
MAX_CSV_RECORD_CHARS = 4 * 2**20
#: What `str.splitlines` ends a line at (`\r\n` is one end).
_LINE_ENDS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def text_pieces(read: Callable[[], str]) -> Iterator[str]:
    """The pieces `read` returns (a text stream's `readline` with a size limit), a `\r`
    that ends a piece joined to the `\n` that may start the next one (one line end)."""
    held = ""
    for piece in iter(read, ""):
        if held:
            if piece.startswith("\n"):
                held, piece = held + "\n", piece[1:]
            yield held
            held = ""
        if piece.endswith("\r"):
            held = piece
        elif piece:
            yield piece
    if held:
        yield held


def csv_records(text: str | Iterable[str]) -> Iterator[str]:
    """The records of a CSV text (or of its pieces, in order) with their line ends,
    quoted line breaks kept inside: one record in memory at a time, at most
    `MAX_CSV_RECORD_CHARS` long (ValueError beyond)."""
    record: list[str] = []
    quotes = size = 0
    for piece in (text,) if isinstance(text, str) else text:
        for line in piece.splitlines(keepends=True):
            record.append(line)
            quotes += line.count('"')
            size += len(line)
            if quotes % 2 == 0 and line[-1] in _LINE_ENDS:
                yield "".join(record)
                record, quotes, size = [], 0, 0
            elif size > MAX_CSV_RECORD_CHARS:
                raise ValueError(
                    f"a CSV record longer than {MAX_CSV_RECORD_CHARS} characters "
                    "(an unbalanced quote?)"
                )
    if record:
        yield "".join(record)


def _fields(record: str) -> list[str]:
    try:
        rows = list(csv.reader(io.StringIO(record)))
    except csv.Error as exc:
        raise ValueError(f"a CSV record cannot be read ({exc})") from exc
    return rows[0] if rows else []


def csv_verdicts(records: Iterator[str], user_hash: str) -> Iterator[tuple[str, bool]]:
    """Each record of a CRM extract with whether it goes: the rows whose `user_id`
    (found by header) is the user's. A file without a `user_id` column keeps all."""
    header = next(records, None)
    if header is None:
        return
    yield header, False
    names = [n.strip().lstrip("\ufeff").strip().lower() for n in _fields(header)]
    index = names.index("user_id") if "user_id" in names else None
    for record in records:
        if index is None:
            yield record, False
            continue
        values = _fields(record)
        value = values[index].strip() if index < len(values) else ""
        yield record, bool(value) and sha256_hex(value) == user_hash


def filter_csv(text: str, user_hash: str) -> tuple[str, int]:
    """A CRM extract without the rows of the user (`csv_verdicts`), and how many went.

    Kept records are copied byte for byte; a file without a `user_id` column is
    returned as it is.
    """
    kept, removed = [], 0
    for record, goes in csv_verdicts(csv_records(text), user_hash):
        if goes:
            removed += 1
        else:
            kept.append(record)
    return "".join(kept), removed


def new_hashes(values: Iterable[str | None]) -> set[str]:
    """Hashes of the non-blank trimmed values."""
    return {sha256_hex(v.strip()) for v in values if v is not None and v.strip()}
