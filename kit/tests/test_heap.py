"""The heap settles only in a server process; settling collects what an earlier freeze kept."""

from __future__ import annotations

import gc
import weakref

import pytest

from kit import heap


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""


@pytest.fixture
def enabled(monkeypatch):
    monkeypatch.setattr(heap, "enabled", True)
    yield
    gc.unfreeze()


def test_settling_is_off_outside_a_server_process():
    before = gc.get_freeze_count()
    assert heap.settle() is None and gc.get_freeze_count() == before


def test_settling_freezes_the_heap_and_collects_what_the_last_freeze_kept(enabled):
    node = Node()
    node.cycle = node
    alive = weakref.ref(node)
    first = heap.settle()
    assert first["frozen"] == gc.get_freeze_count() > 0 and first["collect_ms"] >= 0
    del node
    gc.collect()
    assert alive() is not None  # frozen: a plain collection leaves it
    heap.settle()
    assert alive() is None  # the next settle unfreezes first
