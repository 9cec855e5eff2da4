"""POST /feedback is limited per user_id (FEEDBACK_RATE_LIMIT), shared through Redis, open without it."""

from __future__ import annotations

import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import TooManyRequests

from app import create_app
from config import Config, ConfigError
from tests.test_integration import post, post_request, start_service, stop_service, workers_of

EVENT = {"product_id": "P2", "action": "view"}


def stored(app) -> int:
    with app.extensions["recommender"].feedback.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM feedback")).scalar_one()


def test_a_user_over_the_limit_gets_429_with_retry_after_and_nothing_is_stored(config, fake_redis):
    app = create_app(replace(config, feedback_rate_limit="3/minute"), redis_client=fake_redis)
    client = app.test_client()
    answers = [client.post("/feedback", json={**EVENT, "user_id": "U1"}) for _ in range(5)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429, 429]
    refused = answers[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert "user_id" in refused.get_json()["error"]["message"] and refused.get_json()["error"]["code"] == 429
    assert client.post("/feedback", json={**EVENT, "user_id": "U2"}).status_code == 202  # per user
    assert stored(app) == 4


def test_the_limit_can_be_turned_off_and_is_checked():
    assert Config.from_env({"FEEDBACK_RATE_LIMIT": "off"}).feedback_rate_limit is None
    assert Config.from_env({"FEEDBACK_RATE_LIMIT": "10/second"}).feedback_rate_limit == "10/second"
    assert Config().feedback_rate_limit == "120/minute"
    with pytest.raises(ConfigError, match="FEEDBACK_RATE_LIMIT"):
        Config.from_env({"FEEDBACK_RATE_LIMIT": "lots"})


def test_without_redis_the_limit_is_open_and_quick(config):
    dead = replace(config, redis_url="redis://127.0.0.1:1/0", feedback_rate_limit="2/minute")
    client = create_app(dead).test_client()
    started = time.perf_counter()
    answers = [client.post("/feedback", json={**EVENT, "user_id": "U1"}).status_code for _ in range(5)]
    assert answers == [202] * 5
    assert time.perf_counter() - started < 5


def test_both_gunicorn_workers_share_the_count_through_redis(store, tmp_path, real_redis):
    from tests.helpers import TEST_REDIS_URL

    env = {
        "CACHE_ENABLED": "true",
        "REDIS_URL": TEST_REDIS_URL,
        "CACHE_KEY_PREFIX": real_redis[1],
        "FEEDBACK_RATE_LIMIT": "5/hour",  # (an hour's fixed window: the test never spans two)
    }
    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        api, base = start_service(store, tmp_path, f"sqlite:///{tmp_path / 'f.db'}", stderr=stderr, **env)

    def flood(i: int) -> int:
        request = urllib.request.Request(
            base + "/feedback", data=json.dumps({**EVENT, "user_id": "flooder"}).encode(), method="POST"
        )
        request.add_header("Content-Type", "application/json")
        request.add_header("X-Request-ID", f"flood-{i}")
        return post_request(request)

    answers: list[int] = []
    try:
        for _ in range(10):  # four at once, until both workers have taken some
            with ThreadPoolExecutor(4) as pool:
                answers += pool.map(flood, range(len(answers), len(answers) + 12))
            workers = workers_of(log, "flood-")
            if len(workers) == 2:
                break
        other = post(base + "/feedback", {**EVENT, "user_id": "shopper"})
    finally:
        stop_service(api)
    assert len(workers) == 2, "one worker took every post: the test would say nothing of sharing"
    assert sorted(answers) == [202] * 5 + [429] * (len(answers) - 5) and other == 202


def test_after_redis_fails_the_limits_stay_open_a_while_then_are_counted_again(config):
    from web.event_limits import OPEN_AFTER_FAILURE_SECONDS, EventLimits

    now = [100.0]
    dead = replace(config, redis_url="redis://127.0.0.1:1/0", feedback_rate_limit="1/minute")
    limits = EventLimits(dead, shared=True, clock=lambda: now[0])
    limits.check("U1", "127.0.0.1")  # Redis refuses: open
    assert limits._open_until == now[0] + OPEN_AFTER_FAILURE_SECONDS
    limits.windows = EventLimits(replace(dead, redis_url="memory://"), shared=False).windows
    limits.check("U1", "127.0.0.1")  # still open: not counted
    now[0] += OPEN_AFTER_FAILURE_SECONDS
    limits.check("U1", "127.0.0.1")  # counted again: the first of the window
    with pytest.raises(TooManyRequests):
        limits.check("U1", "127.0.0.1")
