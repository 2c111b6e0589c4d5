"""gateway.loadpool: loads run off the loop, several at once, each with a deadline; a load
that misses it is abandoned (and released if it ever ends) without blocking the others."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gateway.loadpool import LoadPool


def test_results_errors_and_system_exit_come_back_to_the_caller() -> None:
    def boom() -> None:
        raise KeyError("x")

    def leave() -> None:
        raise SystemExit(3)

    async def main() -> None:
        pool = LoadPool(2)
        assert await pool.run(lambda: 41 + 1, timeout=5, name="ok") == 42
        with pytest.raises(KeyError):
            await pool.run(boom, timeout=5, name="boom")
        with pytest.raises(SystemExit):
            await pool.run(leave, timeout=5, name="exit")
        assert await pool.run(lambda: "still", timeout=5, name="after") == "still"
        pool.close()

    asyncio.run(main())


def test_a_hung_load_times_out_is_abandoned_and_released_when_it_ends() -> None:
    release = threading.Event()
    late: list[str] = []

    def hang() -> str:
        release.wait(30)
        return "late"

    async def main() -> None:
        pool = LoadPool(1)  # one worker: the next load needs the replacement
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimeoutError):
            await pool.run(
                hang, timeout=0.2, name="gateway-load:hung", when_late=lambda: late.append("x")
            )
        assert loop.time() - started < 5
        assert [t.name for t in pool.abandoned()] == ["gateway-load:hung"]
        assert await pool.run(lambda: "next", timeout=5, name="next") == "next"
        release.set()
        deadline = loop.time() + 10
        while not late and loop.time() < deadline:
            await asyncio.sleep(0.01)
        assert late == ["x"]
        pool.close()

    asyncio.run(main())


def test_waiting_for_a_worker_does_not_count_against_the_deadline() -> None:
    gate = threading.Event()

    async def main() -> None:
        pool = LoadPool(1)
        first = asyncio.ensure_future(pool.run(lambda: gate.wait(10), timeout=10, name="first"))
        await asyncio.sleep(0)
        # queued behind `first` for longer than its own deadline, then quick
        second = asyncio.ensure_future(pool.run(lambda: "second", timeout=0.3, name="second"))
        await asyncio.sleep(0.5)
        gate.set()
        assert await first is True
        assert await second == "second"
        pool.close()

    asyncio.run(main())


def test_loads_run_in_parallel() -> None:
    barrier = threading.Barrier(3, timeout=10)

    async def main() -> None:
        pool = LoadPool(3)
        # each waits for the other two: only possible if all three run at once
        results = await asyncio.gather(
            *(pool.run(barrier.wait, timeout=10, name=f"p{i}") for i in range(3))
        )
        assert sorted(results) == [0, 1, 2]
        pool.close()

    asyncio.run(main())
