"""`collector_paused`: the cyclic collector is off inside a batch and as it was after."""

from __future__ import annotations

import gc

import pytest

from weblogs.core.collector import collector_paused


def test_the_collector_is_back_on_after_the_block_even_when_it_raises() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError), collector_paused():
        assert not gc.isenabled()
        _ = 1 / 0
    assert gc.isenabled()


def test_a_collector_someone_else_turned_off_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
