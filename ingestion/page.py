"""An API response split into its elements' JSON texts, each forwarded as sent, and
judged by the shared contract (`judge_page`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import compress, repeat
from operator import itemgetter, not_
from typing import Any

import msgspec

from weblogs.core.contract import (
    MAX_RECORD_BYTES,
    MAX_SESSION_ID_CHARS,
    Invalid,
    Screened,
    exact_int,
    screen_all,
)

#: A record this long or shorter fits Kinesis' limit with any session id (128 characters).
_FITS_ANY_KEY = MAX_RECORD_BYTES - 4 * MAX_SESSION_ID_CHARS
_SESSION, _TIME, _EXTRA = itemgetter(0), itemgetter(1), itemgetter(2)

_SPLIT_ARRAY = msgspec.json.Decoder(list[msgspec.Raw])


def parse_page(body: bytes) -> tuple[list[bytes] | None, str | None]:
    """(the elements' JSON texts, or None and the failure reason) of an API response.

    A JSON array is split into its elements' texts without decoding them (msgspec's
    `Raw`): the consumer forwards each text as sent and the contract judges it. A
    body that will not split that way (not JSON, not an array, NaN, lone surrogates)
    is decoded whole by the stdlib and each element spelled again (`element_text`).
    """
    try:
        texts = list(map(bytes, _SPLIT_ARRAY.decode(body)))
    except (ValueError, RecursionError):  # msgspec's errors are ValueErrors
        try:
            # Bytes that are not UTF-8 are carried through as surrogates and written
            # back as they came (`element_text`): only their element fails.
            parsed = json.loads(body.decode("utf-8", "surrogateescape"), parse_int=exact_int)
        except (ValueError, RecursionError):
            return None, "invalid_json"
        if not isinstance(parsed, list):
            return None, "not_a_list"
        return [element_text(item) for item in parsed], None
    if b"\n" in body or b"\r" in body:  # pretty-printed: one line per element
        texts = [one_line(t) if b"\n" in t or b"\r" in t else t for t in texts]
    return texts, None


def element_text(item: Any) -> bytes:
    """A decoded element as compact JSON text, exact (the stdlib keeps integers past
    64 bits; one too long to convert is kept as its digits, quoted, and fails alone).
    One no valid JSON can carry (NaN, a lone surrogate) is spelled as the stdlib
    spells it all the same: the contract rejects it as `invalid_json` and the failed
    store keeps it."""
    try:
        text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
    except RecursionError:
        return repr(item).encode()
    try:
        return text.encode()
    except UnicodeEncodeError:
        pass
    try:  # bytes that were not UTF-8 in the response: as they came
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate: as an escape in ASCII text
        return json.dumps(item, separators=(",", ":")).encode()


def one_line(text: bytes) -> bytes:
    """An element's text without line breaks (the stream and the archives are JSON lines).

    Only a pretty-printed element has any (JSON strings escape theirs). Text that is
    not JSON stays as it is: the contract rejects it.
    """
    try:
        return element_text(json.loads(text, parse_int=exact_int))
    except (ValueError, RecursionError):
        return b" ".join(text.splitlines())


@dataclass
class Judged:
    """A page's elements sorted by the contract's verdict, each list in the page's order."""

    datas: list[bytes]  # the valid texts, to forward as sent
    keys: list[str]  # their session ids: the partition keys
    extras: list[bytes]  # the valid texts with extra fields
    time_sum: int  # the sum of their event times (epoch ms), for the lag
    failed: list[tuple[bytes, str]]  # (text, reason) of the others


def judge_page(texts: list[bytes], *, now_ms: int) -> Judged:
    """Every element's verdict (`screen_all`, one call per page), sorted for the consumer.

    The sorting is done with C-level iterators (`compress`, `map`), not a Python loop per
    event: only the failed elements are visited one by one. A page with an element long
    enough to pass the contract but not, with its partition key, Kinesis' limit takes
    the loop (`_judge_each`), which fails those as `record_too_large`.
    """
    verdicts = screen_all(texts, now_ms=now_ms)
    if texts and max(map(len, texts)) > _FITS_ANY_KEY:
        return _judge_each(texts, verdicts)
    ok = list(map(isinstance, verdicts, repeat(tuple)))
    valid: list[Screened] = list(compress(verdicts, ok))
    datas = list(compress(texts, ok))
    failed: list[tuple[bytes, str]] = []
    if len(datas) < len(texts):
        pairs: Any = compress(zip(texts, verdicts, strict=True), map(not_, ok))
        failed = [(text, verdict.reason) for text, verdict in pairs]
    extras = list(compress(datas, map(_EXTRA, valid)))
    return Judged(datas, list(map(_SESSION, valid)), extras, sum(map(_TIME, valid)), failed)


def _judge_each(texts: list[bytes], verdicts: list[Screened | Invalid]) -> Judged:
    judged = Judged([], [], [], 0, [])
    for text, verdict in zip(texts, verdicts, strict=True):
        if type(verdict) is Invalid:
            judged.failed.append((text, verdict.reason))
            continue
        session_id, timestamp, has_extra = verdict
        if len(text) + len(session_id.encode("utf-8")) > MAX_RECORD_BYTES:
            judged.failed.append((text, "record_too_large"))  # with its key, over the limit
            continue
        judged.datas.append(text)
        judged.keys.append(session_id)
        judged.time_sum += timestamp
        if has_extra:
            judged.extras.append(text)
    return judged
