"""The two queues of containment in-process: a plugin's share of the WSGI pool
(gateway.containment.share) and its ``max_concurrency`` gate (gateway.containment.gate)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.containment.gate import Gate
from gateway.containment.share import ShareExecutor, Shares


@pytest.fixture
def pool() -> ThreadPoolExecutor:
    executor = ThreadPoolExecutor(max_workers=8)
    yield executor  # type: ignore[misc]
    executor.shutdown(wait=True)


def test_a_plugin_runs_at_most_its_share_and_its_other_tasks_wait_in_order(
    pool: ThreadPoolExecutor,
) -> None:
    share = ShareExecutor(pool, 2, "p")
    release = threading.Event()
    started: list[int] = []
    lock = threading.Lock()

    def task(i: int) -> int:
        with lock:
            started.append(i)
        release.wait(10)
        return i

    futures = [share.submit(task, i) for i in range(6)]
    assert share.busy == 2 and share.waiting == 4
    # Another plugin is not held up: its share is its own.
    other = ShareExecutor(pool, 2, "other")
    assert other.submit(lambda: "free").result(timeout=5) == "free"
    assert sorted(started) == [0, 1]
    release.set()
    assert [f.result(timeout=5) for f in futures] == list(range(6))
    assert started[2:] == [2, 3, 4, 5]  # FIFO once slots free up
    assert share.busy == 0 and share.waiting == 0


def test_a_queued_task_cancelled_never_runs_and_a_running_one_keeps_its_slot(
    pool: ThreadPoolExecutor,
) -> None:
    share = ShareExecutor(pool, 1, "p")
    release = threading.Event()
    ran: list[str] = []
    running = share.submit(lambda: (release.wait(10), ran.append("running")))
    queued = share.submit(lambda: ran.append("queued"))
    assert not running.cancel()  # a thread cannot be stopped...
    assert queued.cancel()  # ...a task that has not started can
    assert share.busy == 1  # the running one still holds the share
    release.set()
    running.result(timeout=5)
    after = share.submit(lambda: "next")
    assert after.result(timeout=5) == "next"
    assert ran == ["running"]
    assert share.busy == 0


def test_shares_are_kept_per_plugin_across_calls(pool: ThreadPoolExecutor) -> None:
    shares = Shares(pool, 3)
    assert shares.executor_for("a") is shares.executor_for("a")
    assert shares.executor_for("a") is not shares.executor_for("b")
    assert shares.busy() == {"a": 0, "b": 0}


def test_the_gate_admits_in_arrival_order_and_refuses_past_its_queue() -> None:
    async def main() -> None:
        gate = Gate(1)
        order: list[int] = []
        assert await gate.enter()  # the one slot

        async def request(i: int) -> None:
            assert await gate.enter()
            order.append(i)
            gate.leave()

        waiting = [asyncio.create_task(request(i)) for i in range(10)]
        await asyncio.sleep(0)
        assert gate.waiting == 10
        assert not await gate.enter()  # 10 x 1 wait already: refused at once
        gate.leave()
        await asyncio.gather(*waiting)
        assert order == list(range(10))
        assert gate.active == 0

    asyncio.run(main())


def test_a_request_that_leaves_the_queue_frees_its_place() -> None:
    async def main() -> None:
        gate = Gate(1)
        assert await gate.enter()
        gone = asyncio.create_task(gate.enter())
        stays = asyncio.create_task(gate.enter())
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        assert gate.waiting == 1
        gate.leave()
        assert await stays
        assert gate.active == 1
        gate.resize(3)  # a new version with a higher limit
        assert await gate.enter() and await gate.enter()
        assert gate.active == 3

    asyncio.run(main())
