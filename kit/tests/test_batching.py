"""The batcher alone, with a fake model call: gathering, the window, the maximum, a lone call,
errors and cancellation."""

from __future__ import annotations

import asyncio

import pytest

from kit.batching import Batcher


class FakeModel:
    """Answers item * 10; records each call's items; waits on `gate` while it holds it."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = fail

    async def __call__(self, items: list[int], context) -> list[int]:
        self.calls.append(list(items))
        await self.gate.wait()
        if self.fail:
            raise RuntimeError("model broke")
        return [i * 10 for i in items]


def batcher(model: FakeModel, **kw) -> Batcher:
    options = {"max_items": 8, "window_s": 0.0, "slots": 1, "mode": "auto"} | kw
    return Batcher(model, **options)


async def test_a_lone_call_runs_at_once_alone():
    model = FakeModel()
    b = batcher(model, window_s=5.0)  # the window never applies with nothing else running
    started = asyncio.get_running_loop().time()
    assert await b.submit([1, 2]) == [10, 20]
    assert asyncio.get_running_loop().time() - started < 1.0
    assert model.calls == [[1, 2]] and b.running == 0


async def test_calls_arriving_while_the_slot_is_busy_become_one_call():
    model = FakeModel()
    model.gate.clear()
    b = batcher(model)
    first = asyncio.create_task(b.submit([1]))
    await asyncio.sleep(0)
    rest = [asyncio.create_task(b.submit([n, n + 100])) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    model.gate.set()
    assert await first == [10]
    assert [await t for t in rest] == [[20, 1020], [30, 1030], [40, 1040]]
    assert model.calls == [[1], [2, 102, 3, 103, 4, 104]]


async def test_a_batch_stops_at_max_items_without_splitting_a_caller():
    model = FakeModel()
    model.gate.clear()
    b = batcher(model, max_items=4)
    busy = asyncio.create_task(b.submit([0]))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(b.submit(items)) for items in ([1, 2], [3], [4, 5], [6] * 9)]
    await asyncio.sleep(0)
    model.gate.set()
    await busy
    answers = [await t for t in waiting]
    assert answers[2] == [40, 50] and answers[3] == [60] * 9
    assert model.calls == [[0], [1, 2, 3], [4, 5], [6] * 9]  # a bigger caller goes alone


async def test_the_window_waits_for_more_callers_while_another_batch_runs():
    model = FakeModel()
    model.gate.clear()
    b = batcher(model, slots=2, window_s=0.2)
    busy = asyncio.create_task(b.submit([0]))  # slot 1, alone
    await asyncio.sleep(0)
    second = asyncio.create_task(b.submit([1]))  # slot 2 is free, but a batch runs: it waits
    await asyncio.sleep(0.05)
    third = asyncio.create_task(b.submit([2]))
    await asyncio.sleep(0.3)
    model.gate.set()
    assert (await busy, await second, await third) == ([0], [10], [20])
    assert model.calls == [[0], [1, 2]]


async def test_a_full_batch_does_not_wait_out_the_window():
    model = FakeModel()
    model.gate.clear()
    b = batcher(model, slots=2, window_s=30.0, max_items=2)
    busy = asyncio.create_task(b.submit([0]))
    await asyncio.sleep(0)
    pair = [asyncio.create_task(b.submit([n])) for n in (1, 2)]
    model.gate.set()
    done = await asyncio.wait_for(asyncio.gather(busy, *pair), 5.0)
    assert done == [[0], [10], [20]]


async def test_mode_on_waits_the_window_even_for_a_lone_call():
    model = FakeModel()
    b = batcher(model, mode="on", window_s=0.1)
    calls = [asyncio.create_task(b.submit([1]))]
    await asyncio.sleep(0.02)
    calls.append(asyncio.create_task(b.submit([2])))
    assert [await c for c in calls] == [[10], [20]]
    assert model.calls == [[1, 2]]


async def test_a_failing_batch_answers_every_caller_with_the_error():
    model = FakeModel(fail=True)
    model.gate.clear()
    b = batcher(model)
    tasks = [asyncio.create_task(b.submit([n])) for n in range(4)]
    await asyncio.sleep(0)
    model.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and str(r) == "model broke" for r in results)
    assert model.calls == [[0], [1, 2, 3]]
    model.fail = False
    assert await b.submit([5]) == [50] and b.running == 0  # the batcher still serves


async def test_a_model_answering_too_few_fails_the_batch_rather_than_shift_answers():
    model = FakeModel()
    model.gate.clear()
    b = batcher(model)
    first = asyncio.create_task(b.submit([1]))
    await asyncio.sleep(0)

    async def drops_one(items, context):
        return [i * 10 for i in items][1:]

    b.execute = drops_one
    rest = [asyncio.create_task(b.submit([n])) for n in (2, 3)]
    await asyncio.sleep(0)
    model.gate.set()
    assert await first == [10]
    results = await asyncio.gather(*rest, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) and "answered 1 of 2" in str(r) for r in results)


async def test_a_cancelled_waiter_leaves_its_neighbours_their_answers():
    model = FakeModel()
    model.gate.clear()
    b = batcher(model)
    busy = asyncio.create_task(b.submit([0]))
    await asyncio.sleep(0)
    gone_before = asyncio.create_task(b.submit([1]))
    kept = asyncio.create_task(b.submit([2]))
    await asyncio.sleep(0)
    gone_before.cancel()  # cancelled while queued: never sent to the model
    model.gate.set()
    assert await busy == [0] and await kept == [20]
    with pytest.raises(asyncio.CancelledError):
        await gone_before
    assert model.calls == [[0], [2]]

    model.gate.clear()
    b = batcher(model, slots=2)
    busy = asyncio.create_task(b.submit([0]))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(b.submit([n])) for n in (3, 4)]
    await asyncio.sleep(0.01)  # the batch [3, 4] is now running
    tasks[0].cancel()  # cancelled mid-call: its answer is dropped, its neighbour's is not
    model.gate.set()
    assert await tasks[1] == [40]
    assert model.calls[-1] == [3, 4] and b.running == 0


def test_off_is_not_a_batcher_mode():
    with pytest.raises(ValueError, match="off"):
        Batcher(FakeModel(), max_items=1, window_s=0, slots=1, mode="off")


class _Settings:
    batching = None
    batch_max_items = 4
    batch_window_ms = 1.0
    predict_threads = 2


class _Model:
    batching = "auto"
    batch_window_ms = 1.0
    batch_max_items = 128


def test_each_model_version_has_its_own_batcher_and_settings_override_the_default():
    from kit.batching import model_batcher

    old, new = _Model(), _Model()  # a hot swap: the new version is a new object
    first = model_batcher(old, _Settings(), FakeModel())
    assert first is model_batcher(old, _Settings(), FakeModel())
    assert model_batcher(new, _Settings(), FakeModel()) not in (None, first)
    assert (first.max_items, first.window_s, first.slots) == (4, 0.001, 2)
    off = _Settings()
    off.batching = "off"
    assert model_batcher(_Model(), off, FakeModel()) is None
    plain = _Model()
    plain.batching = "off"  # a model that does not batch by default (anomaly, spending)
    assert model_batcher(plain, _Settings(), FakeModel()) is None
    from kit.model import ServedModel

    class Unprepared(ServedModel):  # validates inside predict: asking for batching is ignored
        batching = "auto"

    forced = _Settings()
    forced.batching = "on"
    assert model_batcher(Unprepared(None), forced, FakeModel()) is None
    own = _Settings()
    own.batch_max_items = None  # unset: the model's own most items
    assert model_batcher(_Model(), own, FakeModel()).max_items == 128
