"""LiveRunner: batching by size or delay, checkpoint-only flushes, restart of a failing source."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from helpers import post
from threatwatch.live import CallbackSink, LiveRunner


class Scripted:
    """A source that yields a script of (record, position) then waits; optionally fails once."""

    reconnects = 0

    def __init__(self, name: str, script: list, fail_first: bool = False) -> None:
        self.name, self.script, self.fail_first, self.starts = name, script, fail_first, []

    async def stream(self, start: str | None) -> AsyncIterator:
        self.starts.append(start)
        if self.fail_first and len(self.starts) == 1:
            yield None, "0"
            raise RuntimeError("boom")
        for item in self.script:
            yield item
        await asyncio.Event().wait()


def run(runner: LiveRunner, until, timeout: float = 10.0) -> None:
    async def main() -> None:
        stop = asyncio.Event()

        async def watch() -> None:
            deadline = time.monotonic() + timeout
            while not until() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            stop.set()
        task = asyncio.ensure_future(watch())
        await runner.run(stop)
        await task
    asyncio.run(main())


def quiet(_m: str) -> None:
    pass


def test_batches_cut_by_size_then_by_delay() -> None:
    batches: list[tuple[str, int, str | None, float]] = []
    t0 = time.monotonic()
    src = Scripted("a", [(post(i, "x"), str(i)) for i in range(25)])
    sink = CallbackSink(lambda s, items, p: batches.append((s, len(items), p, time.monotonic() - t0)))
    run(LiveRunner([src], sink, batch_size=10, max_delay=0.2, log=quiet), lambda: sum(b[1] for b in batches) == 25)
    assert [b[1] for b in batches] == [10, 10, 5]
    assert [b[2] for b in batches] == ["9", "19", "24"]  # each batch carries its last position
    assert batches[2][3] >= 0.15  # the short tail waited for the delay, not for more posts


def test_checkpoint_only_progress_is_saved_and_sources_are_batched_apart() -> None:
    got: list[tuple[str, int, str | None]] = []
    a = Scripted("a", [(None, "100"), (None, "101")])  # events that are not posts still move the cursor
    b = Scripted("b", [(post(1, "x", source="b"), "7")])
    sink = CallbackSink(lambda s, items, p: got.append((s, len(items), p)))
    run(LiveRunner([a, b], sink, checkpoint_every=0.05, log=quiet),
        lambda: ("a", 0, "101") in got and any(g[0] == "b" for g in got))
    assert ("a", 0, "101") in got and ("b", 1, "7") in got


def test_a_failing_source_is_restarted_from_the_stored_checkpoint() -> None:
    got: list[str | None] = []
    src = Scripted("s", [(post(1, "x"), "2")], fail_first=True)
    sink = CallbackSink(lambda s, items, p: got.append(p), get_checkpoint=lambda s: got[-1] if got else None)
    run(LiveRunner([src], sink, max_delay=0.01, checkpoint_every=0.01, log=quiet), lambda: "2" in got)
    assert len(src.starts) == 2 and "2" in got


def test_two_sources_with_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match="checkpoint name"):
        LiveRunner([Scripted("x", []), Scripted("x", [])], CallbackSink(lambda *a: None))
