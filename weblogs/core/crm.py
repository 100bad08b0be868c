"""The CRM extracts' rules, without I/O: what a good customers.csv / ratings.csv is.

The files are hand-made exports, so every problem is reported (file, line, one
line each) before anything changes. A good file is turned into one canonical form
(the contract's columns in the contract's order) because Athena's Glue tables read
CSV columns by position. Reading files and writing the lake is
`weblogs.adapters.crm`'s.
"""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

#: Columns of each extract, in the order the canonical file (and Athena's table) has them.
COLUMNS: dict[str, tuple[str, ...]] = {
    "customers": ("user_id", "customer_id", "loyalty_tier", "is_loyalty_member", "signup_date"),
    "ratings": ("user_id", "rated_at", "rating"),
}
TIERS = ("none", "bronze", "silver", "gold")
FLAGS = ("true", "false")
#: The ratings the models count (`crm_rating` in macros/crm/crm.sql lists the same texts):
#: one ASCII digit, so `05`, `5.0` or `٥` are refused here rather than ignored there.
RATINGS = ("1", "2", "3", "4", "5")
#: Characters no value may hold (after trimming): C0 controls and DEL. A NUL or a tab
#: inside a value would reach the marts as it is, and no join or test expects one.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Longest line accepted: bounds memory on a file without line breaks.
MAX_LINE_BYTES = 64 * 1024
_BOM = b"\xef\xbb\xbf"
#: YYYY-MM-DD in ASCII digits.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
#: ISO-8601 that DuckDB's cast and Athena's from_iso8601_timestamp both read: a date,
#: optionally `T` + hh:mm:ss with up to 6 decimals, optionally Z or a +hh[:mm] offset.
_ISO = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:T(?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?)"
    r"(?P<zone>Z|[+-][0-9]{2}(?::?[0-9]{2})?)?)?",
    re.ASCII,
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file: printed as `file:line: message`."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


def _shown(value: str) -> str:
    """A value as it appears in a message: quoted, shortened, control characters escaped."""
    text = value if len(value) <= 40 else value[:37] + "..."
    return repr(text)


def parse_iso8601(text: str) -> datetime | None:
    """The UTC time of an ISO-8601 text both engines read alike, else None."""
    match = _ISO.fullmatch(text)
    if not match:
        return None
    try:
        day = date.fromisoformat(match["date"])
        if not match["time"]:
            return datetime(day.year, day.month, day.day)
        zone = match["zone"] or ""
        if zone == "Z":
            zone = "+00:00"
        elif len(zone) == 3:
            zone += ":00"
        elif len(zone) == 5:
            zone = f"{zone[:3]}:{zone[3:]}"
        parsed = datetime.fromisoformat(f"{match['date']}T{match['time']}{zone}")
        if parsed.tzinfo is not None:  # years 1 and 9999 may leave the calendar in UTC
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        return None
    return parsed


def check_value(column: str, value: str) -> str | None:
    """Why a (trimmed) value is not acceptable, or None."""
    control = _CONTROL.search(value)
    if control:
        what = (
            "a NUL byte"
            if control.group() == "\x00"
            else f"the control character {control.group()!r}"
        )
        return f"{column} {_shown(value)} contains {what}"
    if "\\" in value:
        return f"{column} {_shown(value)} contains a backslash (Athena's CSV reader takes it as an escape)"
    if column == "user_id" or column == "customer_id":
        return None if value else f"{column} is empty"
    if column == "loyalty_tier":
        if value.lower() in TIERS or not value:
            return None
        return f"loyalty_tier {_shown(value)} is not one of {', '.join(TIERS)} (or empty)"
    if column == "is_loyalty_member":
        if value.lower() in FLAGS:
            return None
        return f"is_loyalty_member {_shown(value)} is not true or false"
    if column == "signup_date":
        if _DATE.fullmatch(value):
            with contextlib.suppress(ValueError):
                date.fromisoformat(value)
                return None
        return f"signup_date {_shown(value)} is not a date YYYY-MM-DD"
    if column == "rated_at":
        if parse_iso8601(value) is None:
            return f"rated_at {_shown(value)} is not an ISO-8601 date or time"
        return None
    if column == "rating":
        if value in RATINGS:
            return None
        return f"rating {_shown(value)} is not one of {', '.join(RATINGS)} (one ASCII digit)"
    return None


def canonical_value(column: str, value: str) -> str:
    """The value as the canonical extract holds it: trimmed (every whitespace, not only
    the spaces SQL's trim removes), the tier and the member flag lower-cased; so the
    models read exactly what was checked."""
    value = value.strip()
    return value.lower() if column in ("loyalty_tier", "is_loyalty_member") else value


def _fields(text: str) -> list[str]:
    """One CSV record from one line (a quoted value cannot span lines: Athena splits on them)."""
    reader = csv.reader([text], strict=True)
    row = next(reader, [])
    if next(reader, None) is not None:
        raise csv.Error("line break inside a value")
    return row


@dataclass
class ExtractChecker:
    """Checks one extract line by line and yields its canonical rows (header first).

    Problems go to `report` as they are found; rows are yielded only while the header
    is good, and only for lines without a problem, so a caller that writes them must
    still discard the output when `problems` is not 0. Memory: the file's user ids (for
    the duplicate check) and one line.
    """

    kind: str
    name: str
    report: Callable[[Problem], None]
    allow_empty: bool = False
    problems: int = 0
    rows: int = 0
    dropped_columns: list[str] = field(default_factory=list)

    def problem(self, line: int | None, message: str) -> None:
        self.problems += 1
        self.report(Problem(self.name, line, message))

    def _header(self, number: int, row: list[str], positions: dict[str, int]) -> bool:
        """Find the contract's columns by name (any order, any case); fills `positions`."""
        columns = COLUMNS[self.kind]
        before = self.problems
        for index, title in enumerate(row):
            key = title.strip().lower()
            if key in positions:
                self.problem(number, f"column {key} appears twice in the header")
            elif key in columns:
                positions[key] = index
            else:
                self.dropped_columns.append(title.strip())
        for column in columns:
            if column not in positions:
                self.problem(number, f"missing column {column}")
        return self.problems == before

    def canonical_rows(self, lines: Iterable[tuple[int, bytes | None]]) -> Iterator[list[str]]:
        """`lines`: (physical line number, the line without its line end, or None when
        it was longer than MAX_LINE_BYTES)."""
        columns = COLUMNS[self.kind]
        first_seen: dict[str, int] = {}
        positions: dict[str, int] = {}
        width = 0
        header_seen = header_ok = False
        for number, raw in lines:
            if raw is None:
                self.problem(number, f"line longer than {MAX_LINE_BYTES} bytes")
                continue
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.problem(number, f"not UTF-8 (byte {exc.start + 1})")
                continue
            if not text.strip():
                self.problem(number, "empty line")
                continue
            try:
                row = _fields(text)
            except csv.Error as exc:
                self.problem(number, f"unreadable CSV: {exc}")
                continue
            if not header_seen:
                header_seen, width = True, len(row)
                header_ok = self._header(number, row, positions)
                if header_ok:
                    yield list(columns)
                continue
            if len(row) != width:
                self.problem(number, f"{len(row)} fields, the header has {width}")
                continue
            values = [row[positions[c]].strip() if c in positions else "" for c in columns]
            bad = False
            for column, value in zip(columns, values, strict=True):
                reason = check_value(column, value) if column in positions else None
                if reason:
                    self.problem(number, reason)
                    bad = True
            user_id = values[0]
            if self.kind == "customers" and user_id:
                earlier = first_seen.setdefault(user_id, number)
                if earlier != number:
                    self.problem(number, f"user_id {_shown(user_id)} already on line {earlier}")
                    bad = True
            if header_ok and not bad:
                self.rows += 1
                yield [canonical_value(c, v) for c, v in zip(columns, values, strict=True)]
        if not header_seen:
            self.problem(None, "is empty (no header line)")
        elif header_ok and not self.rows and not self.problems and not self.allow_empty:
            self.problem(None, "has a header but no rows (--allow-empty loads an empty extract)")
