"""Fixtures: a tiny store with known answers, its config, fake and real Redis, the app and a client."""

from __future__ import annotations

import gc
import threading
import time
import uuid
from pathlib import Path

import fakeredis
import pytest
import redis

from app import create_app
from config import Config
from recommender.serving import artifacts
from recommender.serving.service import ModelSettings, Recommender
from tests.helpers import (
    INTERACTIONS,
    PRODUCTS,
    TEST_REDIS_URL,
    postgres_schema,
    service_missing,
    write,
)

DEMO = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="session")
def demo_artifacts(tmp_path_factory) -> Path:
    """An artifacts folder holding the demo store's model, built once for the whole run (its
    ranker takes a while to train): apps with this folder and the demo CSVs load it."""
    folder = tmp_path_factory.mktemp("demo-artifacts")
    artifacts.save(Recommender.from_csv(DEMO / "products.csv", DEMO / "interactions.csv"), folder)
    return folder


@pytest.fixture(scope="session")
def demo_model(demo_artifacts: Path) -> Recommender:
    """The demo store's model as the service loads it (shared: tests must not change it)."""
    (version,) = [p for p in demo_artifacts.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return artifacts.load(version)


@pytest.fixture
def single_threaded() -> None:
    """A process a build may fork from: apps of earlier tests have stopped their A/B exposure
    writers (they do within a second of being collected)."""
    gc.collect()
    deadline = time.monotonic() + 3
    while threading.active_count() > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == 1, "forking needs a single-threaded process"


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path / "products.csv", PRODUCTS), write(tmp_path / "interactions.csv", INTERACTIONS)


@pytest.fixture
def model(store: tuple[Path, Path]) -> Recommender:
    return Recommender.from_csv(*store, ModelSettings(neighbours=10))


@pytest.fixture
def config(store: tuple[Path, Path], tmp_path: Path) -> Config:
    products, interactions = store
    return Config(
        products_csv=str(products),
        interactions_csv=str(interactions),
        feedback_db=f"sqlite:///{tmp_path / 'feedback.db'}",
        artifacts_dir=str(tmp_path / "artifacts"),
        neighbours=10,
        max_top_k=20,
    )


@pytest.fixture
def fake_server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def fake_redis(fake_server: fakeredis.FakeServer) -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(server=fake_server)


@pytest.fixture
def app(config: Config, fake_redis: fakeredis.FakeRedis):
    return create_app(config, redis_client=fake_redis)


@pytest.fixture
def make_app(fake_redis):
    """create_app, and the apps' database connections closed after the test."""
    made = []

    def make(config):
        made.append(create_app(config, redis_client=fake_redis))
        return made[-1]

    yield make
    for app in made:
        app.extensions["recommender"].feedback.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def real_redis():
    """The machine's Redis, in its own database index; deletes only the keys under its own prefix."""
    client = redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_missing(f"no Redis at {TEST_REDIS_URL} ({exc})")
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    yield client, prefix
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """The service's database on each kind it runs on: a SQLite file, and a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def postgres_url():
    """A schema of its own in the machine's PostgreSQL, dropped afterwards; its URL selects it."""
    with postgres_schema() as url:
        yield url
