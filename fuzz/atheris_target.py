"""One atheris (libFuzzer) run over one target: `python -m fuzz.atheris_target NAME [flags]`."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from fuzz.targets import TARGETS


def main() -> None:
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
