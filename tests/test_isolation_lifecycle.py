"""Reloading an isolated plugin (new processes ready before the old ones stop: no failed
request under load), and no process left behind after stop, SIGTERM or SIGKILL of the
gateway's process."""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path

import httpx
from conftest import wait_for
from isolation_support import HostProcess, pid_alive, start_host, workers_of


def test_reloads_under_load_fail_no_request_and_leave_no_process(tmp_path: Path) -> None:
    host = start_host(tmp_path, {"iso-echo": {"processes": 2}, "iso-flask": {}})
    failures: list[object] = []
    seen: set[int] = set()
    done = threading.Event()

    def load(path: str) -> None:
        with httpx.Client(base_url=host.base_url, timeout=30) as client:
            for _ in range(20000):  # bounded; stopped after the reloads
                if done.is_set():
                    return
                try:
                    response = client.get(path)
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append((path, response.status_code))
                elif path == "/iso-echo/":
                    seen.add(response.json()["pid"])

    paths = ["/iso-echo/"] * 3 + ["/iso-echo/sleep?seconds=0.05", "/iso-flask/"]
    threads = [threading.Thread(target=load, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    old_pids: list[int] = []
    try:
        for _ in range(3):
            before = host.status("iso-echo")["pids"]
            old_pids += before
            answer = host.client.post("/_host/reload/iso-echo", timeout=90).json()
            assert "error" not in answer, answer
            assert set(answer["pids"]).isdisjoint(before)
            # the old version's processes are stopped once it has drained
            assert not any(pid_alive(pid) for pid in before)
    finally:
        done.set()
        for thread in threads:
            thread.join(60)
    assert failures == []
    assert len(seen) >= 8  # every version served some of the requests
    assert sorted(workers_of(host.proc.pid)) == sorted(host.all_pids())
    assert host.stop() in (0, -signal.SIGTERM)  # uvicorn re-raises SIGTERM once shut down


def test_sigterm_of_the_gateway_stops_every_worker(tmp_path: Path) -> None:
    host = start_host(tmp_path, {"iso-echo": {"processes": 2}, "iso-functions": {}})
    pids = host.all_pids()
    assert len(pids) == 3 and sorted(workers_of(host.proc.pid)) == sorted(pids)
    host.proc.send_signal(signal.SIGTERM)
    assert host.proc.wait(30) in (0, -signal.SIGTERM)
    assert [pid for pid in pids if pid_alive(pid)] == []
    host.stop()


def test_sigkill_of_the_gateway_leaves_no_worker_even_a_stuck_one(tmp_path: Path) -> None:
    host = start_host(tmp_path, {"iso-echo": {}, "iso-functions": {}})
    pids = host.all_pids()

    def spin() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the gateway is killed under it
            httpx.get(f"{host.base_url}/iso-echo/spin?seconds=60", timeout=90)

    stuck = threading.Thread(target=spin, daemon=True)
    stuck.start()
    wait_for(lambda: host.status("iso-functions")["status"] == "active" and _busy(host))
    host.proc.send_signal(signal.SIGKILL)
    host.proc.wait(10)
    # The stuck one cannot see its socket close: PR_SET_PDEATHSIG ends it.
    wait_for(lambda: [pid for pid in pids if pid_alive(pid)] == [], 10)
    host.stop()


def _busy(host: HostProcess) -> bool:
    return bool(host.status("iso-echo")["inflight"] == 1)
