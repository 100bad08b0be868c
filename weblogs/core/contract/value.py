"""`value`, the event's monetary amount: exact, as sent (docs/contract.md#1-the-event).

Money must sum exactly downstream (section 6: sums of the values as sent, rounded
once to cents), so a value never goes through a binary float on its way to the
lake: the number is read again from the record's JSON text as a decimal, and
stored as decimal(38, 18).
"""

from __future__ import annotations

import json
import math
from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation
from typing import Any

from weblogs.core.contract.canonical import exact_int
from weblogs.core.contract.schema import MAX_VALUE, VALUE_SCALE

_QUANTUM = Decimal(1).scaleb(-VALUE_SCALE)
#: Wide enough for 10 integer digits and 18 decimals without rounding.
_CONTEXT = Context(prec=60, rounding=ROUND_DOWN)
_MAX = Decimal(MAX_VALUE)
_ZERO = Decimal(0).quantize(_QUANTUM)


def exact_value(value: int | float, raw: Any = None) -> Decimal | None:
    """The value as stored, or None when it is outside 0 .. 1,000,000,000 (or not finite).

    An int is exact already. A float is the text it was read from: `raw` (the
    record's JSON text) is parsed again with decimals; without it (a caller that
    decoded the JSON itself) the float's shortest repr stands in, which is the
    text as sent for every number of at most 15 significant digits. More than 18
    decimals are cut toward zero: a cut never moves a single value across a
    half cent, so its rounding to cents is the exact one (docs/decisions.md).
    """
    if type(value) is int:
        exact = Decimal(value)
    elif not math.isfinite(value):
        return None
    else:
        exact = _from_text(raw) if raw is not None else None
        if exact is None:
            exact = Decimal(repr(value))
    if not 0 <= exact <= _MAX:
        return None
    exact = exact.quantize(_QUANTUM, context=_CONTEXT)
    return exact if exact else _ZERO  # -0 is stored as 0


def _from_text(raw: Any) -> Decimal | None:
    """The top-level `value` of a JSON text, read as a Decimal (None if that fails)."""
    try:
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8")
        event = json.loads(text, parse_float=Decimal, parse_int=exact_int)
    except (ValueError, RecursionError, InvalidOperation):
        return None
    exact = event.get("value") if type(event) is dict else None
    if type(exact) is not Decimal or not exact.is_finite():
        return None
    return exact
