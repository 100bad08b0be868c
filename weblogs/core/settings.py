"""Settings declared once: env name, flag, type, default, range and help on one field.

A settings class is a frozen dataclass whose fields are made with `setting(...)`.
From it come the environment parsing and validation (`load`), the argparse flags
(`add_arguments`, `flag_values`) and the Markdown table of the docs
(`docs_table`; a test checks the docs hold exactly this table). Values are judged
the same way from the environment and from a flag; an error names the variable.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weblogs.core.errors import ConfigError

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True)
class Setting:
    """How one field is set: everything but its name and default."""

    env: str
    help: str
    flag: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    #: The default as the docs table shows it (else the field's default).
    shown_default: str | None = None
    #: For a flag that switches a boolean off (`--no-metrics`): the value it sets.
    flag_sets: Any = None
    required: bool = False


def setting(default: Any = None, **spec: Any) -> Any:
    """A dataclass field carrying its `Setting` (see the module docstring)."""
    return dataclasses.field(default=default, metadata={"setting": Setting(**spec)})


def fields(cls: type) -> list[tuple[dataclasses.Field[Any], Setting, type]]:
    """(field, setting, value type) of every declared setting, in declaration order."""
    hints = typing.get_type_hints(cls)
    found = []
    for item in dataclasses.fields(cls):
        spec = item.metadata.get("setting")
        if spec is not None:
            found.append((item, spec, _value_type(hints[item.name])))
    return found


def _value_type(hint: Any) -> type:
    """`int` of `int | None`: the type a text is converted to."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def convert(value: Any, spec: Setting, kind: type) -> Any:
    """The typed value of a setting given as text (or already typed); ConfigError if unusable."""
    if kind is bool:
        return _boolean(value, spec)
    if kind in (int, float):
        return _number(value, spec, integer=kind is int)
    if kind is Path:
        return Path(value)
    text = str(value)
    if spec.choices is not None:
        text = text.lower()
        if text not in spec.choices:
            raise ConfigError(f"{spec.env} must be one of {', '.join(spec.choices)}, got {text!r}")
    return text


def _boolean(value: Any, spec: Setting) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).lower()
    if lowered not in _TRUE + _FALSE:
        raise ConfigError(f"{spec.env} must be true or false, got {value!r}")
    return lowered in _TRUE


def _number(value: Any, spec: Setting, *, integer: bool) -> float:
    text = str(value)
    try:
        number: float = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"{spec.env} must be {kind}, got {text!r}") from None
    low = -math.inf if spec.minimum is None else spec.minimum
    high = math.inf if spec.maximum is None else spec.maximum
    if not math.isfinite(number) or not low <= number <= high:
        raise ConfigError(f"{spec.env} must be between {low:g} and {high:g}, got {text!r}")
    return number


def load(
    cls: type, env: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The settings given (environment, then non-None `overrides` by field name), converted.

    Blank variables count as unset; missing required ones are named together.
    Fields not given are left out, so the dataclass defaults apply.
    """
    values: dict[str, Any] = {}
    missing = []
    for item, spec, kind in fields(cls):
        given = (overrides or {}).get(item.name)
        if given is None:
            given = env.get(spec.env, "").strip() or None
        if given is None:
            if spec.required:
                missing.append(spec.env)
            continue
        values[item.name] = convert(given, spec, kind)
    if missing:
        raise ConfigError(f"missing environment variables: {', '.join(missing)}")
    return values


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One flag per setting that has one; values stay text until `load` judges them."""
    for item, spec, _ in fields(cls):
        if spec.flag is None:
            continue
        text = f"{spec.help} (env {spec.env})"
        if spec.flag_sets is not None:
            text = f"turn off: {spec.help} (env {spec.env}={str(spec.flag_sets).lower()})"
            parser.add_argument(
                spec.flag, dest=item.name, action="store_const", const=spec.flag_sets, help=text
            )
        else:
            parser.add_argument(spec.flag, dest=item.name, choices=spec.choices, help=text)


def flag_values(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The flags given on the command line, by field name (for `load`'s overrides)."""
    return {
        item.name: getattr(args, item.name, None)
        for item, spec, _ in fields(cls)
        if spec.flag is not None
    }


def _shown_default(item: dataclasses.Field[Any], spec: Setting) -> str:
    if spec.shown_default is not None:
        return spec.shown_default
    default = item.default
    if default is None:
        return "none"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float) and default.is_integer():
        default = int(default)
    return f"`{default}`"


def docs_table(cls: type) -> str:
    """The Markdown table of every setting: variable, flag, default, meaning."""
    lines = ["| variable | flag | default | meaning |", "|---|---|---|---|"]
    for item, spec, _ in fields(cls):
        flag = f"`{spec.flag}`" if spec.flag else ""
        lines.append(f"| `{spec.env}` | {flag} | {_shown_default(item, spec)} | {spec.help} |")
    return "\n".join(lines) + "\n"
