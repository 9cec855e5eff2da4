"""Request logs: one JSON line per request with its id, route, status, duration, source, variant."""

from __future__ import annotations

import io
import json
import logging
import sys
from dataclasses import replace

import pytest

import logs
from app import create_app
from config import Config, ConfigError


@pytest.fixture
def lines():
    """The JSON request lines written so far, parsed."""
    sink = io.BytesIO()
    logs.LINES.target = sink

    def read() -> list[dict]:
        logs.LINES.flush()
        return [json.loads(line) for line in sink.getvalue().splitlines()]

    yield read
    logs.LINES.target = None


@pytest.fixture
def client(config, fake_redis):
    return create_app(replace(config, log_format="json"), redis_client=fake_redis).test_client()


def test_every_request_is_one_json_line_with_its_id(client, lines):
    answer = client.get("/recommend/user/U5?top_k=2", headers={"X-Request-ID": "abc-123"})
    assert answer.headers["X-Request-ID"] == "abc-123"
    client.get("/recommend/user/U5?top_k=2")  # the cached answer this time
    client.get("/recommend/ab?user_id=U5")
    client.get("/no/such/route")
    first, cached, ab, missing = lines()
    assert first["request_id"] == "abc-123" and first["route"] == "/recommend/user/<path:user_id>"
    assert (first["method"], first["status"], first["source"], first["level"]) == (
        "GET",
        200,
        "model",
        "INFO",
    )
    assert first["duration_ms"] >= 0 and first["time"].endswith("+00:00")
    assert cached["source"] == "cache" and len(cached["request_id"]) == 32  # a new id when none was sent
    assert ab["variant"] in ("content", "hybrid") and "variant" not in first
    assert missing["status"] == 404 and missing["route"] == "unmatched" and "source" not in missing


@pytest.mark.parametrize("sent", ["", "a" * 129, "bad id INJECTED", '{"json": 1}'])
def test_a_request_id_that_is_not_sane_is_replaced(client, lines, sent):
    answer = client.get("/health", headers={"X-Request-ID": sent})
    made = answer.headers["X-Request-ID"]
    assert made != sent and len(made) == 32
    assert lines()[0]["request_id"] == made


def test_no_token_reaches_a_log_line(config, fake_redis, lines, caplog):
    secured = replace(config, admin_token="top-secret-token", events_token="events-secret", log_format="json")
    client = create_app(secured, redis_client=fake_redis).test_client()
    with caplog.at_level(logging.DEBUG):
        client.get("/admin/reload", headers={"Authorization": "Bearer top-secret-token"})
        client.get("/admin/reload", headers={"Authorization": "Bearer guessed-token"})
        client.get("/recommend/user/U5?top_k=2&token=top-secret-token")
        event = {"user_id": "U1", "product_id": "P2", "action": "view"}
        client.post("/feedback", json=event, headers={"Authorization": "Bearer events-secret"})
        client.post("/feedback", json=event, headers={"Authorization": "Bearer guessed-events"})
    written = lines()
    assert [(line["route"], line["status"]) for line in written] == [
        ("/admin/reload", 200),
        ("/admin/reload", 401),
        ("/recommend/user/<path:user_id>", 200),
        ("/feedback", 202),
        ("/feedback", 401),
    ]  # every request was logged: the check below reads real lines
    text = json.dumps(written) + caplog.text
    assert "secret" not in text and "guessed" not in text


def test_the_json_formatter_keeps_errors_on_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    line = logs.JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed here" and "ValueError: boom" in parsed["error"]


def test_log_format_is_checked():
    assert Config.from_env({"LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        Config.from_env({"LOG_FORMAT": "xml"})


def test_text_logs_say_the_same_for_reading_locally(config, fake_redis, caplog):
    client = create_app(config, redis_client=fake_redis).test_client()  # LOG_FORMAT=text
    with caplog.at_level(logging.INFO, logger="recsys.request"):
        client.get("/recommend/user/U5?top_k=2")
    (record,) = [r for r in caplog.records if r.name == "recsys.request"]
    assert record.getMessage().startswith("GET /recommend/user/<path:user_id> 200 ")


def test_every_answer_says_nosniff_and_admin_answers_are_never_stored(config, fake_redis):
    client = create_app(replace(config, admin_token="s3cret"), redis_client=fake_redis).test_client()
    admin = {"Authorization": "Bearer s3cret"}
    answers = [
        client.get("/health"),
        client.get("/recommend/user/U5"),
        client.get("/recommend/content/NOPE"),
        client.get("/recommend/user/U5?top_k=0"),
        client.get("/console"),
        client.get("/console/static/console.js"),
        client.post("/feedback", data="not json"),
    ]
    for answer in answers:
        answer.close()  # the console's files are streamed from disk
    assert all(a.headers["X-Content-Type-Options"] == "nosniff" for a in answers)
    assert all(
        "Cache-Control" not in a.headers or "no-store" not in a.headers["Cache-Control"] for a in answers
    )
    private = [
        client.get("/admin/reload", headers=admin),
        client.get("/admin/reload"),
        client.get("/ab/report", headers=admin),
        client.put("/products/N1", json={"title": "Mug"}, headers=admin),
        client.delete("/products/N1"),
    ]
    assert all(a.headers["Cache-Control"] == "no-store" for a in private), [a.status_code for a in private]
