"""Supervision of isolated plugins: a crash answers 502 to the requests it had and restarts
the process with backoff while everything else keeps answering; the memory limit; recycling
after ``max_requests`` without a failed request; several processes per plugin."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Iterator

import httpx
import pytest
from conftest import wait_for
from isolation_support import HostProcess, pid_alive, start_host


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    host = start_host(
        tmp_path_factory.mktemp("supervision"),
        {
            "crash-exit": {"folder": "iso-echo"},
            "crash-segv": {"folder": "iso-echo"},
            "crash-kill": {"folder": "iso-echo"},
            "crash-sysexit": {"folder": "iso-echo"},
            "hog": {"folder": "iso-echo", "memory_mb": 200},
            "recycler": {"folder": "iso-echo", "max_requests": 25},
            "pair": {"folder": "iso-echo", "processes": 2},
            "bystander": {"folder": "iso-functions"},
        },
    )
    yield host
    host.stop()


def _bystanders_answer(host: HostProcess) -> bool:
    """Another isolated plugin and the host's own (in-process) endpoint both answer."""
    other = host.client.get("/bystander/hello")
    return other.status_code == 200 and host.client.get("/_host/inprocess").status_code == 200


@pytest.mark.parametrize("how", ["exit", "sysexit", "segv", "kill"])
def test_a_crash_answers_502_restarts_and_touches_nothing_else(host: HostProcess, how: str) -> None:
    name = f"crash-{how}"
    before = host.status(name)
    [pid] = before["pids"]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        # A request in flight in the process when it dies gets a 502, as the crashing one.
        slow = pool.submit(host.client.get, f"/{name}/sleep", params={"seconds": 20})
        wait_for(lambda: host.status(name)["inflight"] == 1 or slow.done(), 10)
        crash = host.client.get(f"/{name}/crash/{how}")
        assert crash.status_code == 502
        assert "process ended" in crash.json()["detail"]
        assert slow.result(20).status_code == 502
    wait_for(lambda: not pid_alive(pid))
    # While it restarts: 503 for it, everything else answers.
    during = host.client.get(f"/{name}/")
    assert during.status_code in (200, 503)
    if during.status_code == 503:
        assert during.headers["retry-after"] == "1"
    assert _bystanders_answer(host)
    after = host.wait_status(name, status="active", restarts=before["restarts"] + 1)
    assert after["pids"] != [pid]
    assert "restarting" in after["statuses"] and after["statuses"][-1] == "active"
    assert host.client.get(f"/{name}/").json()["pid"] == after["pids"][0]
    assert host.status("bystander")["restarts"] == 0


def test_memory_limit_ends_a_leak_in_a_restart(host: HostProcess) -> None:
    [pid] = host.status("hog")["pids"]
    response = host.client.get("/hog/leak", timeout=60)
    assert response.status_code == 502
    wait_for(lambda: not pid_alive(pid))
    info = host.wait_status("hog", status="active", restarts=1)
    assert info["rss_bytes"] < 200 * 1024 * 1024
    assert "went over memory_mb=200" in host.log()
    assert host.client.get("/hog/").status_code == 200


def test_max_requests_recycles_without_a_failed_request(host: HostProcess) -> None:
    seen: set[int] = set()
    failures: list[object] = []
    lock = threading.Lock()
    done = threading.Event()

    def client_loop() -> None:
        with httpx.Client(base_url=host.base_url, timeout=30) as client:
            for _ in range(5000):  # bounded; stopped once three recycles were seen
                if done.is_set():
                    return
                try:
                    response = client.get("/recycler/")
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                with lock:
                    if response.status_code != 200:
                        failures.append(response.status_code)
                    else:
                        seen.add(response.json()["pid"])

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: host.status("recycler")["recycles"] >= 3, 60)
    finally:
        done.set()
        for thread in threads:
            thread.join(60)
    assert failures == []
    assert len(seen) >= 4
    info = host.wait_status("recycler", status="active")
    assert info["restarts"] == 0
    # the replaced processes are gone (a recycle may still be finishing: poll)
    assert wait_for(
        lambda: not [p for p in seen if pid_alive(p) and p not in host.status("recycler")["pids"]]
    )


def test_two_processes_share_the_load_and_cover_for_each_other(host: HostProcess) -> None:
    pids = host.status("pair")["pids"]
    assert len(pids) == 2 and len(set(pids)) == 2
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(lambda _: host.client.get("/pair/sleep", params={"seconds": 0.2}), range(8))
        )
    assert all(a.status_code == 200 for a in answers)
    # One dies: the other keeps answering every new request (no 503 while one restarts).
    served = {host.client.get("/pair/").json()["pid"] for _ in range(10)}
    assert served == set(pids)
    host.client.get("/pair/crash/exit")
    for _ in range(20):
        assert host.client.get("/pair/").status_code == 200
    info = host.wait_status("pair", status="active", restarts=1)
    assert len(info["pids"]) == 2
