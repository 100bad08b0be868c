"""Shared pytest fixtures: a moto server on loopback (real HTTP), fixed clocks.

Helpers live in `awsfixtures.py` beside this file so test modules can import
them directly (`from awsfixtures import ...`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from awsfixtures import MotoServer, start_moto_server
from trino_helpers import trino_lake  # noqa: F401  (one Trino per session, on first use)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server for the session on 127.0.0.1; AWS env points boto3 at it."""
    server = start_moto_server()
    saved = {k: os.environ.get(k) for k in server.env}
    os.environ.update(server.env)
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
