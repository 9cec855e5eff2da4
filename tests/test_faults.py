"""Faults production brings, each against a real gunicorn -w 2 under load: a Redis that hangs,
the feedback database going away and coming back, a worker killed, a deploy's SIGTERM."""

from __future__ import annotations

import glob
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.helpers import service_missing
from tests.test_integration import free_port, start_redis, start_service, stop_service

CACHE_BUDGET_SECONDS = 0.6  # the cache's own timeout is 0.25 s; the rest is the request and the machine
READS = [
    "/recommend/user/U5?top_k=3",
    "/recommend/user/U1?top_k=3",
    "/recommend/hybrid?user_id=U2&product_id=P3&top_k=3",
    "/recommend/content/P1?top_k=3",
    "/recommend/ab?user_id=U6&top_k=3",
]


@dataclass
class Load:
    """Threads sending reads (and, with `writes`, feedback posts with event ids) until stopped."""

    base: str
    writes: bool = False
    threads: int = 4
    results: list[tuple[str, float, object, float]] = field(default_factory=list)  # kind, start, outcome, s
    acknowledged: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Load:
        self._workers = [
            threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads)
        ]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)

    def _run(self, number: int) -> None:
        i = 0
        while not self._stop.is_set():
            i += 1
            if self.writes and i % 3 == 0:
                event_id = f"t{number}-{i}"
                body = {
                    "user_id": f"L{i % 40}",
                    "product_id": "P2",
                    "action": "clicked",
                    "event_id": event_id,
                }
                outcome, seconds, started = self._send("POST", "/feedback", body)
                self.results.append(("write", started, outcome, seconds))
                if outcome == 202:
                    self.acknowledged.append(event_id)
            else:
                path = READS[i % len(READS)]
                outcome, seconds, started = self._send("GET", path)
                self.results.append(("read", started, outcome, seconds))

    def _send(self, method: str, path: str, body: dict | None = None) -> tuple[object, float, float]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                response.read()
                outcome: object = response.status
        except urllib.error.HTTPError as exc:
            outcome = exc.code
            if exc.code == 503:
                assert exc.headers["Retry-After"], "a 503 says when to retry"
        except (urllib.error.URLError, ConnectionError, http.client.HTTPException, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            outcome = type(reason).__name__
        return outcome, time.monotonic() - started, started

    def outcomes(self, kind: str, since: float = 0.0, until: float = float("inf")) -> list[object]:
        return [o for k, t, o, _ in self.results if k == kind and since <= t < until]


def stored_ids(url: str) -> set[str]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = set(conn.execute(sa.text("SELECT event_id FROM feedback WHERE event_id IS NOT NULL")).scalars())
    engine.dispose()
    return ids


def test_a_hanging_redis_costs_no_request_more_than_the_budget(store, tmp_path):
    redis_port = free_port()
    redis_server = start_redis(redis_port)
    cache = {"CACHE_ENABLED": "true", "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    api, base = start_service(store, tmp_path, f"sqlite:///{tmp_path / 'f.db'}", **cache)
    try:
        with Load(base) as load:
            time.sleep(1.0)
            hung = time.monotonic()
            redis_server.send_signal(signal.SIGSTOP)  # it accepts connections and answers nothing
            time.sleep(3.0)
            redis_server.send_signal(signal.SIGCONT)
            time.sleep(1.0)
        time.sleep(4.5)  # each worker's back-off ends; the cache is used again
        again = [urllib.request.urlopen(base + READS[0], timeout=5).read() for _ in range(6)]
    finally:
        stop_service(api)
        redis_server.kill()
        redis_server.wait()
    reads = load.outcomes("read")
    assert reads and set(reads) == {200}, {o for o in reads if o != 200}
    during = [s for k, t, _, s in load.results if t >= hung - 0.5]
    assert max(during) < CACHE_BUDGET_SECONDS, max(during)
    assert any(b'"source":"cache"' in body for body in again)


@pytest.fixture
def private_postgres(tmp_path):
    """A PostgreSQL server of the test's own (initdb in tmp_path), so stopping it harms nothing else."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    if not binaries or os.geteuid() != 0 or shutil.which("runuser") is None:
        service_missing(
            "a private PostgreSQL needs Debian's postgresql binaries and root (to run them as postgres)"
        )
    bin_dir = Path(binaries[-1])
    data = Path(tempfile.mkdtemp(prefix="recsys-pg-"))  # pytest's own folders are closed to other users
    shutil.chown(data, "postgres")
    port = free_port()

    def pg(*args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", *args]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    pg(str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "root")
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start() -> None:
        pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-w", "start")

    def halt() -> None:
        pg(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")

    start()
    yield f"postgresql://root@127.0.0.1:{port}/postgres", start, halt
    try:
        halt()
    except subprocess.CalledProcessError:
        pass
    shutil.rmtree(data, ignore_errors=True)


def test_postgresql_going_away_fails_no_read_and_loses_no_acknowledged_event(
    store, tmp_path, private_postgres
):
    url, start, halt = private_postgres
    api, base = start_service(store, tmp_path, url)
    try:
        with Load(base, writes=True) as load:
            time.sleep(1.5)
            halt()
            down = time.monotonic()  # stopped (pg_ctl -w returns once it is)
            time.sleep(3.0)
            restarting = time.monotonic()
            start()
            up = time.monotonic()
            time.sleep(3.0)
    finally:
        stop_service(api)
    reads = load.outcomes("read")
    assert set(reads) == {200}, {o for o in reads if o != 200}  # reads never depend on the database
    writes_down = load.outcomes("write", down, restarting)
    assert writes_down and set(writes_down) == {503}, set(writes_down)  # refused, with Retry-After
    assert 202 in load.outcomes("write", up + 2.0)  # it recovers by itself
    assert set(load.acknowledged) <= stored_ids(url)  # every 202 is in the database


def worker_pids(master: int, expected: int = 2) -> list[int]:
    """The master's workers, once `expected` of them are up (within 10 s)."""
    deadline = time.monotonic() + 10
    while True:
        found = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        if len(found) >= expected or time.monotonic() > deadline:
            return [int(pid) for pid in found]
        time.sleep(0.1)


def test_a_worker_killed_under_load_is_replaced_and_no_acknowledged_event_is_lost(store, tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'f.db'}"
    api, base = start_service(store, tmp_path, db)
    try:
        before = worker_pids(api.pid)
        assert len(before) == 2
        with Load(base, writes=True) as load:
            time.sleep(1.0)
            killed = time.monotonic()
            os.kill(before[0], signal.SIGKILL)
            time.sleep(3.0)
        after = worker_pids(api.pid)
    finally:
        stop_service(api)
    assert len(after) == 2 and before[0] not in after  # gunicorn replaced it
    failed = [o for k, t, o, _ in load.results if not isinstance(o, int) or o >= 500]
    late = [o for k, t, o, _ in load.results if t > killed + 1.0 and (not isinstance(o, int) or o >= 500)]
    with capsys.disabled():
        print(
            f"\n  worker killed under load: {len(failed)} of {len(load.results)} requests failed ({failed})"
        )
    assert len(failed) <= load.threads and late == []  # at most the requests in flight on that worker
    assert set(load.acknowledged) <= stored_ids(db)


def test_sigterm_lets_in_flight_requests_finish_and_loses_no_acknowledged_event(store, tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'f.db'}"
    api, base = start_service(store, tmp_path, db)
    try:
        with Load(base, writes=True) as load:
            time.sleep(1.5)
            api.send_signal(signal.SIGTERM)  # the master, as a deploy stops it
            api.wait(timeout=30)
            time.sleep(0.5)
    finally:
        stop_service(api)
    outcomes = load.outcomes("read") + load.outcomes("write")
    broken = [o for o in outcomes if o not in (200, 202)]
    with capsys.disabled():
        after = sorted(set(map(str, broken)))
        print(f"\n  SIGTERM under load: {len(outcomes)} requests, {after} after the stop")
    # Once the master stops listening, new connections are refused, and those still waiting in the
    # listen queue (never accepted) are reset; no request a worker had taken was cut off or failed.
    assert set(broken) <= {"ConnectionRefusedError", "ConnectionResetError"}, set(broken)
    assert load.acknowledged and set(load.acknowledged) <= stored_ids(db)
