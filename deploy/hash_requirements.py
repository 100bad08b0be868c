"""Write the sha256 of every wheel an image installs into its requirements file.

The images install with `pip install --require-hashes`, so a tampered or swapped
wheel on the index fails the build instead of landing in production. The hashes
are those of the PyPI wheels pip picks for the images' platforms (CPython 3.11 on
glibc Linux, x86_64 and arm64, i.e. python:3.11-slim-bookworm); both are listed,
so the same file builds either architecture. Needs network access to PyPI; run it
after changing a pin (the pins stay; only the hashes are rewritten):

    .venv/bin/python deploy/hash_requirements.py deploy/requirements-api.txt deploy/requirements-dbt.txt
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

PYTHON_VERSION = "3.11"
INDEX_URL = "https://pypi.org/simple/"
# Debian bookworm ships glibc 2.36: every manylinux tag up to 2.36 installs there.
# pip does not expand a --platform to the older tags itself, so all are listed.
GLIBC_MINORS = range(36, 16, -1)


def platform_tags(arch: str) -> list[str]:
    tags = [f"manylinux_2_{minor}_{arch}" for minor in GLIBC_MINORS]
    return [*tags, f"manylinux2014_{arch}"]


PLATFORMS = {"x86_64": platform_tags("x86_64"), "arm64": platform_tags("aarch64")}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def read_file(path: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The leading comment block and the `name==version` pins (hash lines dropped)."""
    header: list[str] = []
    pins: list[tuple[str, str]] = []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("#") and not pins:
            header.append(line)
        elif match := PIN.match(stripped):
            pins.append((match.group(1), match.group(2)))
    if not pins:
        raise SystemExit(f"{path}: no name==version pins")
    return header, pins


def wheel_hashes(pins: list[tuple[str, str]], platforms: list[str]) -> dict[str, set[str]]:
    """Download the wheels pip would pick for one architecture; sha256 by project name."""
    found: dict[str, set[str]] = {}
    # PyPI only: a local wheel folder (PIP_FIND_LINKS) must not supply the files.
    env = {**os.environ, "PIP_FIND_LINKS": ""}
    with tempfile.TemporaryDirectory(prefix="weblogs-wheels-") as tmp:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                f"--index-url={INDEX_URL}",
                "--no-deps",
                "--only-binary=:all:",
                "--implementation=cp",
                f"--python-version={PYTHON_VERSION}",
                f"--abi=cp{PYTHON_VERSION.replace('.', '')}",
                *(f"--platform={tag}" for tag in platforms),
                f"--dest={tmp}",
                *(f"{name}=={version}" for name, version in pins),
            ],
            check=True,
            env=env,
        )
        for wheel in Path(tmp).glob("*.whl"):
            name = canonicalize_name(parse_wheel_filename(wheel.name)[0])
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            found.setdefault(name, set()).add(digest)
    return found


def render(header: list[str], pins: list[tuple[str, str]], hashes: dict[str, set[str]]) -> str:
    lines = list(header)
    for name, version in sorted(pins, key=lambda pin: canonicalize_name(pin[0])):
        digests = sorted(hashes[canonicalize_name(name)])
        lines.append(f"{name}=={version} \\")
        lines += [f"    --hash=sha256:{d} \\" for d in digests[:-1]]
        lines.append(f"    --hash=sha256:{digests[-1]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="image requirements files")
    args = parser.parse_args(argv)
    for path in args.files:
        header, pins = read_file(path)
        hashes: dict[str, set[str]] = {}
        for platforms in PLATFORMS.values():
            for name, digests in wheel_hashes(pins, platforms).items():
                hashes.setdefault(name, set()).update(digests)
        missing = [name for name, _ in pins if canonicalize_name(name) not in hashes]
        if missing:
            raise SystemExit(f"{path}: no wheel downloaded for {missing}")
        path.write_text(render(header, pins, hashes))
        print(f"{path}: {len(pins)} pins, {sum(map(len, hashes.values()))} hashes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
