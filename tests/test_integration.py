"""Against real services on this machine: Redis, PostgreSQL, and gunicorn (with a Redis we kill)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from config import Config
from tests.helpers import service_missing

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, request_id: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"X-Request-ID": request_id} if request_id else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def workers_of(log: Path, tag: str) -> set[int]:
    """The pids of the workers whose JSON request lines (in the server's stderr, `log`) carry a
    request id starting with `tag`; lines are written within half a second."""
    time.sleep(0.7)
    lines = (json.loads(line) for line in log.read_text().splitlines() if line.startswith("{"))
    return {line["pid"] for line in lines if line.get("request_id", "").startswith(tag)}


def from_both_workers(url: str, log: Path, tag: str, count: int = 20) -> list[bytes]:
    """Answers to `url`, asked `count` at a time four at once, until both gunicorn workers have
    answered some (a test about both workers is then about both)."""
    from concurrent.futures import ThreadPoolExecutor

    bodies: list[bytes] = []
    for round_ in range(10):
        with ThreadPoolExecutor(4) as pool:
            ids = [f"{tag}-{round_}-{i}" for i in range(count)]
            answers = list(pool.map(lambda request_id: get(url, request_id), ids))
        assert {status for status, _ in answers} == {200}
        bodies += [body for _, body in answers]
        if len(workers_of(log, tag)) == 2:
            return bodies
    raise AssertionError(f"one worker answered every request to {url}")


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args[0]} exited with {process.returncode}")
        try:
            if get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def start_redis(port: int) -> subprocess.Popen:
    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("redis-server is not installed")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.05)
    process.kill()
    raise AssertionError("redis-server did not start")


def test_cache_round_trip_on_the_real_redis(config, real_redis):
    client, prefix = real_redis
    app = create_app(Config(**{**vars(config), "cache_key_prefix": prefix}), redis_client=client)
    http = app.test_client()
    assert http.get("/recommend/user/U5?top_k=2").get_json()["source"] == "model"
    assert http.get("/recommend/user/U5?top_k=2").get_json()["source"] == "cache"
    keys = list(client.scan_iter(match=prefix + "*"))
    assert len(keys) == 1
    assert 0 < client.ttl(keys[0]) <= config.cache_ttl_seconds


def test_redis_absent_at_start(config):
    port = free_port()  # nothing listens there
    app = create_app(Config(**{**vars(config), "redis_url": f"redis://127.0.0.1:{port}/0"}))
    http = app.test_client()
    sources = []
    for _ in range(20):
        response = http.get("/recommend/user/U5?top_k=2")
        assert response.status_code == 200
        sources.append(response.get_json()["source"])
    assert sources == ["model"] + ["cache"] * 19  # then from the answers the worker keeps itself
    assert http.get("/health").get_json()["cache"] == "unavailable"
    alone = create_app(
        Config(**{**vars(config), "redis_url": f"redis://127.0.0.1:{port}/0", "cache_local_entries": 0})
    )
    answers = [alone.test_client().get("/recommend/user/U5?top_k=2").get_json() for _ in range(5)]
    assert {a["source"] for a in answers} == {"model"}  # without them, every answer is the model's


def test_killing_redis_under_gunicorn_fails_no_request(store, tmp_path):
    redis_port = free_port()
    redis_server = start_redis(redis_port)
    api, base = start_service(
        store,
        tmp_path,
        f"sqlite:///{tmp_path / 'feedback.db'}",
        CACHE_ENABLED="true",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
    )
    try:
        urls = [f"{base}/recommend/user/U{i % 6 + 1}?top_k=3" for i in range(12)]
        sources = [get(url) for url in urls]
        assert all(status == 200 for status, _ in sources)
        assert any(b'"source":"cache"' in body for _, body in sources)

        redis_server.send_signal(signal.SIGKILL)
        redis_server.wait()
        statuses = [get(url)[0] for url in urls * 5]
        statuses += [get(f"{base}/recommend/hybrid?user_id=U1&product_id=P2")[0] for _ in range(10)]
        assert statuses == [200] * len(statuses)
        status, body = get(base + "/health")
        assert status == 200 and b'"cache":"unavailable"' in body
    finally:
        stop_service(api)
        if redis_server.poll() is None:
            redis_server.kill()


def post(url: str, event: dict) -> int:
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    return post_request(request)


def start_service(
    store, tmp_path, feedback_db: str, stderr=subprocess.DEVNULL, **extra_env: str
) -> tuple[subprocess.Popen, str]:
    """gunicorn -w 2 on the tiny store, in a process group of its own (so it can be killed whole)."""
    port = free_port()
    products, interactions = store
    env = {
        **os.environ,
        "PRODUCTS_CSV": str(products),
        "INTERACTIONS_CSV": str(interactions),
        "CACHE_ENABLED": "false",
        "FEEDBACK_DB": feedback_db,
        "ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        # Kept in the test's folder: a test that kills the server leaves no metrics folder in /tmp.
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        **extra_env,
    }
    api = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"],
        cwd=ROOT,
        env=env,
        stderr=stderr,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base + "/health", api)
    except BaseException:  # not up in time: stopped here, or it outlives the test that failed
        stop_service(api)
        raise
    return api, base


def stop_service(api: subprocess.Popen) -> None:
    """Stop a server start_service() started, master and workers, and reap it."""
    if api.poll() is None:
        os.killpg(api.pid, signal.SIGTERM)
    api.wait(timeout=30)


def stored(feedback_db: str) -> int:
    engine = sa.create_engine(feedback_db)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM feedback")).scalar_one()
    engine.dispose()
    return count


@pytest.fixture(params=["sqlite", "postgresql"])
def feedback_db(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'feedback.db'}"
    return request.getfixturevalue("postgres_url")


def test_2000_concurrent_posts_are_all_stored(store, tmp_path, feedback_db):
    from concurrent.futures import ThreadPoolExecutor

    api, base = start_service(store, tmp_path, feedback_db)
    events = [
        {"user_id": f"U{i % 50}", "product_id": f"P{i % 7 + 1}", "action": "clicked", "event_id": f"e{i}"}
        for i in range(2000)
    ]
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            statuses = list(pool.map(lambda e: post(base + "/feedback", e), events))
    finally:
        stop_service(api)
    assert statuses == [202] * 2000
    assert stored(feedback_db) == 2000


def test_acknowledged_events_survive_kill_9(store, tmp_path, feedback_db):
    api, base = start_service(store, tmp_path, feedback_db)
    acknowledged = 0
    try:
        for i in range(100):
            event = {"user_id": "U1", "product_id": "P2", "action": "purchase", "event_id": f"k{i}"}
            acknowledged += post(base + "/feedback", event) == 202
    finally:
        os.killpg(api.pid, signal.SIGKILL)  # master and workers, no chance to clean up
        api.wait(timeout=30)
    assert acknowledged == 100
    assert stored(feedback_db) == 100


def test_feedback_is_felt_by_both_workers_at_once(store, tmp_path, feedback_db):
    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        api, base = start_service(store, tmp_path, feedback_db, stderr=stderr)
    try:
        before = from_both_workers(f"{base}/recommend/user/U5?top_k=3", log, "before")
        assert all(b'"P4"' in body for body in before)
        assert post(base + "/feedback", {"user_id": "U5", "product_id": "P4", "action": "purchase"}) == 202
        after = from_both_workers(f"{base}/recommend/user/U5?top_k=3", log, "after")
    finally:
        stop_service(api)
    assert not any(b'"P4"' in body for body in after)


def test_a_reload_under_load_fails_no_request_and_switches_both_workers(store, tmp_path, feedback_db):
    import threading

    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        api, base = start_service(store, tmp_path, feedback_db, stderr=stderr, ADMIN_TOKEN="t0k")
    assert post(base + "/feedback", {"user_id": "U9", "product_id": "P3", "action": "purchase"}) == 202
    statuses: list[int] = []
    stop = threading.Event()
    urls = [
        f"{base}/recommend/user/U5?top_k=3",
        f"{base}/recommend/hybrid?user_id=U1&product_id=P2",
        f"{base}/health",
    ]

    def load() -> None:
        i = 0
        while not stop.is_set():
            statuses.append(get(urls[i % len(urls)])[0])
            i += 1

    try:
        old = json.loads(get(base + "/health")[1])["model_version"]
        products, _ = store
        products.write_text(products.read_text() + "P8,Green Ceramic Mug,Kitchen,A green ceramic mug,9,\n")
        threads = [threading.Thread(target=load) for _ in range(4)]
        for thread in threads:
            thread.start()
        request = urllib.request.Request(base + "/admin/reload", method="POST")
        request.add_header("Authorization", "Bearer t0k")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
        versions: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # every worker answers with the new model within seconds
            versions.append(json.loads(get(base + "/health")[1])["model_version"])
            if len(versions) >= 10 and all(v != old for v in versions[-10:]):
                break
            time.sleep(0.05)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()
        switched = {
            json.loads(body)["model_version"] for body in from_both_workers(base + "/health", log, "after")
        }
    finally:
        stop.set()
        stop_service(api)
    assert len(statuses) > 50 and set(statuses) == {200}
    assert len(set(versions[-10:])) == 1 and versions[-1] != old
    assert switched == {versions[-1]}  # both workers answer with the new model


@pytest.mark.parametrize(
    "own_folder", [False, True], ids=["folder made by gunicorn.conf", "operator's folder"]
)
def test_metrics_add_up_both_gunicorn_workers(store, tmp_path, own_folder):
    """Every scrape, whichever worker answers it, counts the requests of both; so do the figures of
    /stats."""
    from concurrent.futures import ThreadPoolExecutor

    from prometheus_client.parser import text_string_to_metric_families

    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1.db").write_bytes(b"left by an earlier run")  # must be wiped, not read
    extra = {"PROMETHEUS_MULTIPROC_DIR": str(folder) if own_folder else ""}  # "": gunicorn.conf makes one
    made_before = set(glob.glob(os.path.join(tempfile.gettempdir(), "recsys-metrics-*")))
    api, base = start_service(store, tmp_path, f"sqlite:///{tmp_path / 'feedback.db'}", **extra)
    try:
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: get(base + "/recommend/content/P1")[0], range(60)))
        assert codes == [200] * 60
        for _ in range(6):
            status, body = get(base + "/metrics")
            assert status == 200
            counts = {
                sample.labels["route"]: sample.value
                for family in text_string_to_metric_families(body.decode())
                if family.name == "recsys_requests"
                for sample in family.samples
                if sample.name == "recsys_requests_total" and sample.labels["status"] == "200"
            }
            assert counts["/recommend/content/<path:product_id>"] == 60
            status, body = get(base + "/stats")  # the console's figures: the same sums
            assert status == 200
            routes = {row["route"]: row["requests"] for row in json.loads(body)["requests"]}
            assert routes["/recommend/content/<path:product_id>"] == 60
            assert sum(b["requests"] for b in json.loads(body)["latency"]["buckets"]) == 60
    finally:
        stop_service(api)
    # The folder gunicorn.conf made is gone with the server; an operator's folder stays.
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "recsys-metrics-*"))) == made_before
    assert folder.is_dir()


def test_a_trained_ranker_under_gunicorn_ranks_in_both_workers_and_retrains_on_reload(tmp_path):
    """The master trains the ranker (LightGBM's threads) and forks: both workers rank at request
    time, and a reload in a worker trains a new ranker beside the serving threads."""
    from tests.helpers import synthetic_store

    store = synthetic_store(tmp_path)
    api, base = start_service(
        store,
        tmp_path,
        f"sqlite:///{tmp_path / 'feedback.db'}",
        AB_VARIANTS="ranked:100",
        ADMIN_TOKEN="t0ken",
    )
    try:
        health = json.loads(get(base + "/health")[1])
        assert health["ranker"] == {"trained": True, "reason": "trained"}
        for i in range(40):  # a product to start from: ranked at request time
            status, body = get(f"{base}/recommend/ab?user_id=V{i}&product_id=S{i % 50}&top_k=5")
            assert status == 200 and json.loads(body)["variant"] == "ranked"
            assert len(json.loads(body)["results"]) == 5
        request = urllib.request.Request(
            base + "/admin/reload", method="POST", headers={"Authorization": "Bearer t0ken"}
        )
        assert post_request(request) == 202
        deadline = time.monotonic() + 60
        while json.loads(get(base + "/health")[1])["reload"]["state"] == "running":
            assert time.monotonic() < deadline, "the reload did not finish"
            time.sleep(0.2)
        after = json.loads(get(base + "/health")[1])
        assert after["reload"]["state"] == "done", after["reload"]
        assert after["ranker"]["trained"] is True
        for i in range(20):
            status, body = get(f"{base}/recommend/ab?user_id=V{i}&product_id=S{i % 50}&top_k=5")
            assert status == 200 and len(json.loads(body)["results"]) == 5
    finally:
        stop_service(api)


def post_request(request: urllib.request.Request) -> int:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_ab_exposures_survive_restarts_and_kill_9_loses_at_most_a_second_and_workers_agree(
    store, tmp_path, feedback_db
):
    api, base = start_service(store, tmp_path, feedback_db)
    try:
        for i in range(300):
            assert get(f"{base}/recommend/ab?user_id=w{i}&top_k=3")[0] == 200
        event = {"user_id": "w1", "product_id": "P2", "action": "clicked"}
        assert post(base + "/feedback", event) == 202
    finally:
        os.killpg(api.pid, signal.SIGTERM)  # at once: the latest exposures are still in the workers
        api.wait(timeout=30)
    engine = sa.create_engine(feedback_db)
    with engine.connect() as conn:
        written = conn.execute(sa.text("SELECT count(*), sum(exposures) FROM ab_exposures")).one()
    engine.dispose()
    assert tuple(written) == (300, 300)  # nothing lost on a graceful stop

    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        api, base = start_service(store, tmp_path, feedback_db, stderr=stderr)
    try:
        for i in range(250, 350):  # 50 users seen again, 50 new
            get(f"{base}/recommend/ab?user_id=w{i}&top_k=3")
        time.sleep(1.5)  # every worker has written its exposures
        reports = set(from_both_workers(f"{base}/ab/report", log, "report"))
        for i in range(50):
            get(f"{base}/recommend/ab?user_id=w{i}&top_k=3")
        time.sleep(1.5)
    finally:
        os.killpg(api.pid, signal.SIGKILL)  # no exit hook runs: what was written in time is kept
        api.wait(timeout=30)
    assert len(reports) == 1
    report = json.loads(reports.pop())
    assert sum(v["users"] for v in report["variants"].values()) == 350
    assert sum(v["exposures"] for v in report["variants"].values()) == 400
    assert sum(v["clicks"] for v in report["variants"].values()) == 1
    engine = sa.create_engine(feedback_db)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sum(exposures) FROM ab_exposures")).scalar_one() == 450
    engine.dispose()


def send(url: str, method: str, body: dict | None = None, token: str = "t0k") -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    request.add_header("Authorization", f"Bearer {token}")
    return post_request(request)


CATALOG_ROUTES = [
    "/recommend/content/P1?top_k=4",
    "/recommend/user/U5?top_k=4",
    "/recommend/hybrid?user_id=U5&top_k=4",
    "/recommend/hybrid?user_id=U5&product_id=P2&top_k=4",
    "/recommend/ab?user_id=U6&top_k=4",
    "/recommend/ab?user_id=x1&top_k=4",
]


def test_catalog_changes_reach_every_worker_and_replica_cached_or_not(store, tmp_path, real_redis):
    _, prefix = real_redis
    from tests.helpers import TEST_REDIS_URL

    db = f"sqlite:///{tmp_path / 'feedback.db'}"
    cache = {"CACHE_ENABLED": "true", "REDIS_URL": TEST_REDIS_URL, "CACHE_KEY_PREFIX": prefix}
    api, base = start_service(store, tmp_path, db, ADMIN_TOKEN="t0k", **cache)
    replica_folder = tmp_path / "replica"
    replica_folder.mkdir()
    try:
        replica, other = start_service(store, replica_folder, db, ADMIN_TOKEN="t0k", **cache)
    except BaseException:
        stop_service(api)
        raise

    def everywhere(path: str, times: int = 10) -> list[list[str]]:
        answers = [get(base + path) for _ in range(times)] + [get(other + path) for _ in range(times)]
        assert all(status == 200 for status, _ in answers), answers
        return [[r["product_id"] for r in json.loads(body)["results"]] for _, body in answers]

    try:
        shown = [everywhere(path) for path in CATALOG_ROUTES]  # cached by both servers now
        assert any("P4" in answer for answers in shown for answer in answers)
        mug = {"title": "Green Ceramic Mug", "category": "Kitchen", "description": "A green ceramic mug"}
        assert send(base + "/products/N1", "PUT", mug) == 201
        assert send(base + "/products/P4", "DELETE") == 200
        time.sleep(1.1)  # the replica looks at least once a second; this server's workers at once
        assert all(answer[0] in ("P1", "P2") for answer in everywhere("/recommend/content/N1?top_k=3"))
        assert all(answer[0] == "N1" for answer in everywhere("/recommend/content/P1?top_k=3"))
        for path in CATALOG_ROUTES:
            assert not any("P4" in answer for answer in everywhere(path)), path
        back = {"title": "Espresso Coffee Beans", "category": "Coffee", "available": True}
        assert send(other + "/products/P4", "PUT", back) == 200
        time.sleep(1.1)
        assert any("P4" in answer for path in CATALOG_ROUTES for answer in everywhere(path, 2))
        assert send(base + "/products/P5", "DELETE") == 200
    finally:
        for server in (api, replica):
            stop_service(server)
    api, base = start_service(store, tmp_path, db, ADMIN_TOKEN="t0k", **cache)
    try:  # a restart keeps every change
        assert get(base + "/recommend/content/P1?top_k=3")[1].count(b'"N1"') == 1
        for path in CATALOG_ROUTES:
            assert b'"P5"' not in get(base + path)[1], path
    finally:
        stop_service(api)


def test_gunicorn_logs_one_json_line_per_request_with_its_id(store, tmp_path):
    log_file = tmp_path / "server.log"
    with open(log_file, "wb") as stderr:
        api, base = start_service(
            store, tmp_path, f"sqlite:///{tmp_path / 'f.db'}", stderr, ADMIN_TOKEN="t0k3n-secret"
        )
        try:
            request = urllib.request.Request(base + "/recommend/ab?user_id=U5&top_k=2")
            request.add_header("X-Request-ID", "checkout-42")
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.headers["X-Request-ID"] == "checkout-42"
            assert get(base + "/recommend/content/NOPE")[0] == 404
            assert send(base + "/admin/reload", "GET", token="wrong-token") == 401
            assert send(base + "/admin/reload", "POST", {}, token="t0k3n-secret") == 202
            deadline = time.monotonic() + 60
            while b'"done"' not in get(base + "/health")[1] and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            stop_service(api)
    text = log_file.read_text()
    assert "t0k3n-secret" not in text and "wrong-token" not in text
    ours = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    requests = [line for line in ours if line["logger"] == "recsys.request"]
    ab = next(line for line in requests if line.get("request_id") == "checkout-42")
    assert ab["route"] == "/recommend/ab" and ab["status"] == 200 and ab["method"] == "GET"
    assert ab["source"] == "model" and ab["variant"] in ("content", "hybrid") and ab["duration_ms"] > 0
    missing = next(line for line in requests if line["route"] == "/recommend/content/<path:product_id>")
    assert missing["status"] == 404 and len(missing["request_id"]) == 32
    assert any(line["message"].startswith("ready: model") for line in ours)  # start-up, in the same format
    assert any(line["message"].startswith("reload done: model") for line in ours)  # and the reload


def test_the_render_blueprint_starts_the_service_as_render_would(tmp_path, postgres_url, real_redis):
    """render.yaml's web service, started with its own start command and the environment it
    describes (its Key Value and database replaced by this machine's Redis and PostgreSQL)."""
    import shlex

    import yaml

    from tests.helpers import TEST_REDIS_URL

    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    (web,) = [s for s in blueprint["services"] if s["type"] == "web"]
    (cache,) = [s for s in blueprint["services"] if s["type"] == "keyvalue"]
    (database,) = blueprint["databases"]
    assert web["buildCommand"].startswith("pip install -r requirements.txt")
    assert web["healthCheckPath"] == "/health"
    env = {}
    for var in web["envVars"]:
        if "value" in var:
            env[var["key"]] = var["value"]
        elif "fromService" in var:
            assert var["fromService"]["name"] == cache["name"] and var["key"] == "REDIS_URL"
            env[var["key"]] = TEST_REDIS_URL
        elif "fromDatabase" in var:
            assert var["fromDatabase"]["name"] == database["name"] and var["key"] == "DATABASE_URL"
            env[var["key"]] = postgres_url
        else:
            assert var.get("generateValue") is True
            env[var["key"]] = "generated-secret"
    documented = (ROOT / "README.md").read_text()
    assert all(key in documented for key in env if key != "PYTHON_VERSION")  # settings users can read about
    port = free_port()
    process = subprocess.Popen(
        shlex.split(web["startCommand"]),
        cwd=ROOT,
        env={
            **os.environ,
            **env,
            "PORT": str(port),
            "CACHE_KEY_PREFIX": real_redis[1],
            "ARTIFACTS_DIR": str(tmp_path / "artifacts"),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
            "RANKER": "false",  # the demo store's ranker takes half a minute to train: not needed here
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # as installed
        },
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health", process, seconds=180)
        health = json.loads(get(f"http://127.0.0.1:{port}/health")[1])
        assert health["cache"] == "ok"
        event = {"user_id": "render-user", "product_id": "P001", "action": "clicked"}
        assert post(f"http://127.0.0.1:{port}/feedback", event) == 401  # EVENTS_TOKEN is generated
        assert send(f"http://127.0.0.1:{port}/feedback", "POST", event, token="generated-secret") == 202
        assert get(f"http://127.0.0.1:{port}/users/render-user")[0] == 401  # histories are private
        assert send(f"http://127.0.0.1:{port}/admin/reload", "GET", token="generated-secret") == 200
    finally:
        stop_service(process)
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM feedback")).scalar_one() == 1
    engine.dispose()


def test_the_compose_file_wires_the_api_to_its_redis_and_keeps_feedback():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    api, redis_service = compose["services"]["api"], compose["services"]["redis"]
    assert api["build"] == "." and api["depends_on"]["redis"]["condition"] == "service_healthy"
    assert api["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert (
        "/health" in " ".join(api["healthcheck"]["test"]) and "ping" in redis_service["healthcheck"]["test"]
    )
    database = api["environment"]["FEEDBACK_DB"].removeprefix("sqlite:///")
    mounted = [v.split(":")[1] for v in api["volumes"]]
    assert any(database.startswith(folder) for folder in mounted)  # feedback outlives the container
    assert api["ports"] == ["${PORT:-5000}:5000"]


def test_the_nightly_job_is_wired_to_the_api_and_its_database():
    import yaml

    blueprint = yaml.safe_load((ROOT / "render.yaml").read_text())
    (web,) = [s for s in blueprint["services"] if s["type"] == "web"]
    (cron,) = [s for s in blueprint["services"] if s["type"] == "cron"]
    (database,) = blueprint["databases"]
    assert cron["startCommand"] == "python -m recommender.nightly"
    env = {var["key"]: var for var in cron["envVars"]}
    assert env["DATABASE_URL"]["fromDatabase"]["name"] == database["name"]
    assert env["SERVICE_URL"]["fromService"] == {"type": "web", "name": web["name"], "property": "hostport"}
    assert env["ADMIN_TOKEN"]["fromService"]["envVarKey"] == "ADMIN_TOKEN"
    assert "ADMIN_TOKEN" in {var["key"] for var in web["envVars"]}
    assert {"NIGHTLY_PRODUCTS", "NIGHTLY_INTERACTIONS"} <= set(env)

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    api, job = compose["services"]["api"], compose["services"]["nightly"]
    assert job["profiles"] == ["jobs"] and job["command"][-1] == "recommender.nightly"
    assert job["environment"]["FEEDBACK_DB"] == api["environment"]["FEEDBACK_DB"]  # the same database
    assert set(api["volumes"]) <= set(job["volumes"])
    assert job["environment"]["SERVICE_URL"] == "http://api:5000"
