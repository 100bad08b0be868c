"""One atheris (libFuzzer) run over one target: `python -m fuzz.atheris_target NAME [flags]`."""

from __future__ import annotations

import sys

import atheris

# Coverage from the project's own code only: instrumenting boto3, pyarrow and the rest
# costs minutes at start-up and guides nothing.
with atheris.instrument_imports(include=["weblogs", "ingestion", "lambdas", "fuzz"]):
    from fuzz.targets import TARGETS


def main() -> None:
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
