"""An API response split into its elements' JSON texts, each forwarded as sent."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from weblogs.core.contract import exact_int

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
