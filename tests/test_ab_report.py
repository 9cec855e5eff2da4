"""The A/B report: exposures recorded, events attributed, statistics on known traffic."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from recommender.experiments import ab_report
from recommender.storage import exposures
from recommender.storage.exposures import ExposureLog, exposures_table
from recommender.storage.feedback import FeedbackEvent, FeedbackStore


def test_the_report_counts_scripted_traffic_exactly(client, app):
    svc = app.extensions["recommender"]
    users = [f"shopper-{i}" for i in range(600)]
    answers: dict[str, str] = {}
    shown = {"content": 0, "hybrid": 0}
    for i, user in enumerate(users):
        for _ in range(2 if i % 3 == 0 else 1):
            body = client.get(f"/recommend/ab?user_id={user}&top_k=3").get_json()
            answers[user] = body["recomm_id"]
            shown[body["variant"]] += 1
    group = {v: [u for u in users if svc.router.assign(u) == v] for v in ("content", "hybrid")}

    def post(user: str, product: str, action: str, quote: bool, ts: str | None = None) -> None:
        event = {"user_id": user, "product_id": product, "action": action}
        if quote:
            event["recomm_id"] = answers[user]
        if ts:
            event["ts"] = ts
        assert client.post("/feedback", json=event).status_code == 202

    clickers = {"content": int(0.1 * len(group["content"])), "hybrid": int(0.4 * len(group["hybrid"]))}
    for variant, members in group.items():
        for n, user in enumerate(members[: clickers[variant]]):
            post(user, "P2", "clicked", quote=n % 2 == 0)
        post(members[0], "P3", "clicked", quote=False)  # a second click by the same user
    for user in group["hybrid"][:5]:  # bought from the answer: counted both ways
        post(user, "P4", "purchase", quote=True)
    for user in group["content"][:2]:  # bought without quoting it: after exposure only
        post(user, "P1", "purchase", quote=False)
    for user in group["hybrid"][:3]:
        post(user, "P5", "add_to_cart", quote=True)
    # Not counted: events from before the user's first exposure, and from users never exposed.
    post(group["content"][-1], "P2", "clicked", quote=False, ts="2024-01-01T00:00:00Z")
    post("never-shown", "P2", "purchase", quote=False)

    response = client.get("/ab/report")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    report = response.get_json()
    content, hybrid = report["variants"]["content"], report["variants"]["hybrid"]
    assert report["control"] == "content" and report["experiment"] == svc.experiment
    for variant, row in (("content", content), ("hybrid", hybrid)):
        n = len(group[variant])
        assert row["users"] == n and row["exposures"] == shown[variant]
        assert row["clicks"] == clickers[variant] + 1
        assert row["ctr"] == pytest.approx((clickers[variant] + 1) / shown[variant])
        assert row["click_rate"] == pytest.approx(clickers[variant] / n)
        assert row["from_recommendations"]["clicks"] == (clickers[variant] + 1) // 2
    assert (content["conversions"], hybrid["conversions"]) == (2, 5)
    assert (content["revenue"], hybrid["revenue"]) == (17.0, 60.0)  # 2 x 8.5, 5 x 12
    assert (content["add_to_cart"], hybrid["add_to_cart"]) == (0, 3)
    assert content["from_recommendations"] | {"ctr": None} == {
        "clicks": (clickers["content"] + 1) // 2,
        "add_to_cart": 0,
        "conversions": 0,
        "revenue": 0.0,
        "ctr": None,
    }
    assert hybrid["from_recommendations"]["conversions"] == 5
    assert hybrid["from_recommendations"]["revenue"] == 60.0
    assert content["conversion_rate"] == pytest.approx(2 / len(group["content"]))
    # 40% against 10% of about 300 users each: a real difference.
    assert content["p_value"] is None and hybrid["p_value"] < 0.01
    assert hybrid["lift"] == pytest.approx(hybrid["click_rate"] / content["click_rate"] - 1)
    low, high = hybrid["lift_ci"]
    assert low < hybrid["lift"] < high and low > 0
    assert hybrid["more_users_needed"] == 0  # already enough users to see it
    assert report["sample_ratio"]["mismatch"] is False and report["warnings"] == []


def report_of(tmp_path, arms: dict[str, tuple[int, int]], weights=None, prices=True) -> dict:
    """A report of `arms` {variant: (exposed users, users who clicked)} written straight to the tables."""
    store = FeedbackStore(f"sqlite:///{tmp_path / 'report.db'}")
    start = datetime(2026, 1, 1)
    exposures, events = [], []
    for variant, (users, clicked) in arms.items():
        for u in range(users):
            user = f"{variant}-{u}"
            exposures.append(
                {"experiment": "x1", "user_id": user, "variant": variant, "exposures": 1}
                | {"first_at": start, "last_at": start}
            )
            if u < clicked:
                events.append(FeedbackEvent(user, "P1", "clicked", start + timedelta(hours=1), start))
    with store.engine.begin() as conn:
        conn.execute(exposures_table.insert(), exposures)
    for event in events:
        store.add(event)
    variants = [(name, 50.0) for name in arms] if weights is None else weights
    report = ab_report.build(store.engine, "x1", variants, {"P1": 4.0}.get if prices else None)
    store.engine.dispose()
    return report


def test_equal_rates_are_not_called_a_difference(tmp_path):
    report = report_of(tmp_path, {"content": (300, 60), "hybrid": (300, 60)})
    hybrid = report["variants"]["hybrid"]
    assert hybrid["p_value"] > 0.05 and hybrid["lift"] == 0.0
    assert hybrid["users_needed"] is None  # no difference to detect


def test_a_small_difference_says_how_many_more_users_it_needs(tmp_path):
    report = report_of(tmp_path, {"content": (200, 20), "hybrid": (200, 26)})
    hybrid = report["variants"]["hybrid"]
    assert hybrid["p_value"] > 0.05
    assert hybrid["users_needed"] > 1000 and hybrid["more_users_needed"] == hybrid["users_needed"] - 200


def test_a_skewed_split_is_reported_as_a_sample_ratio_mismatch(tmp_path):
    report = report_of(tmp_path, {"content": (400, 40), "hybrid": (200, 20)})
    assert report["sample_ratio"]["mismatch"] is True and report["sample_ratio"]["p_value"] < 0.001
    assert report["sample_ratio"]["expected_users"] == {"content": 300.0, "hybrid": 300.0}
    assert any("sample ratio mismatch" in w for w in report["warnings"])


def test_a_configured_uneven_split_is_no_mismatch(tmp_path):
    report = report_of(tmp_path, {"content": (400, 40), "hybrid": (200, 20)}, [("content", 2), ("hybrid", 1)])
    assert report["sample_ratio"]["mismatch"] is False


def test_a_catalog_without_prices_reports_no_revenue(tmp_path):
    report = report_of(tmp_path, {"content": (10, 1), "hybrid": (10, 1)}, prices=False)
    assert report["variants"]["content"]["revenue"] is None


def test_revenue_follows_a_price_changed_through_the_catalog_api(config, fake_redis):
    client = create_app(replace(config, admin_token="s3cret"), redis_client=fake_redis).test_client()
    body = client.get("/recommend/ab?user_id=buyer").get_json()
    admin = {"Authorization": "Bearer s3cret"}
    assert (
        client.put(
            "/products/P4", json={"title": "Espresso Coffee Beans", "price": 20}, headers=admin
        ).status_code
        == 200
    )
    client.post("/feedback", json={"user_id": "buyer", "product_id": "P4", "action": "purchase"})
    report = client.get("/ab/report", headers=admin).get_json()
    assert report["variants"][body["variant"]]["revenue"] == 20.0  # the price as it is now, not the CSV's 12


def test_a_variant_nobody_saw_yet_is_shown_with_a_warning(tmp_path):
    report = report_of(tmp_path, {"content": (10, 1), "hybrid": (0, 0)})
    assert report["variants"]["hybrid"]["users"] == 0
    assert report["warnings"] == ["no user has been exposed to hybrid yet"]


def test_the_report_needs_the_admin_token_when_one_is_set(config, fake_redis):
    client = create_app(replace(config, admin_token="s3cret"), redis_client=fake_redis).test_client()
    assert client.get("/ab/report").status_code == 401
    ok = client.get("/ab/report", headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and set(ok.get_json()["variants"]) == {"content", "hybrid"}


def test_a_new_salt_starts_a_new_report(config, fake_redis):
    first = create_app(config, redis_client=fake_redis).test_client()
    for user in ("a", "b", "c"):
        first.get(f"/recommend/ab?user_id={user}")
    assert sum(v["users"] for v in first.get("/ab/report").get_json()["variants"].values()) == 3
    second = create_app(replace(config, ab_salt="winter-test"), redis_client=fake_redis).test_client()
    assert sum(v["users"] for v in second.get("/ab/report").get_json()["variants"].values()) == 0


def test_errors_and_other_routes_are_no_exposures(client):
    assert client.get("/recommend/ab").status_code == 400
    assert client.get("/recommend/ab?user_id=u&top_k=0").status_code == 400
    client.get("/recommend/hybrid?user_id=u")
    assert all(v["exposures"] == 0 for v in client.get("/ab/report").get_json()["variants"].values())


def test_exposures_are_written_within_a_second_and_kept_when_the_database_is_away(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'x.db'}")
    log = ExposureLog(store.engine, interval=0.05)
    log.record("x1", "u1", "content")
    log.record("x1", "u1", "content")
    deadline = datetime.now() + timedelta(seconds=2)
    while _written(store) != [("u1", 2)] and datetime.now() < deadline:
        pass
    assert _written(store) == [("u1", 2)]
    with store.engine.begin() as conn:  # the table gone: writes fail until it is back
        conn.execute(sa.text("ALTER TABLE ab_exposures RENAME TO away"))
    log.record("x1", "u2", "hybrid")
    assert log.flush() == 0
    with store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE away RENAME TO ab_exposures"))
    log.record("x1", "u2", "hybrid")
    assert log.flush() in (0, 2)  # the thread may have written them first
    assert _written(store) == [("u1", 2), ("u2", 2)]


def test_exposures_keep_their_first_and_last_times_to_the_microsecond(database, monkeypatch):
    store = FeedbackStore(database)
    log = ExposureLog(store.engine, interval=0.05)  # its thread may write too; it ends with the log
    moments = iter(
        [
            datetime(2026, 1, 2, 3, 4, 5),  # no fraction of a second
            datetime(2026, 1, 2, 3, 4, 5, 123456),
            datetime(2026, 1, 2, 3, 4, 4, 999999),  # written later, seen earlier (another worker's)
            datetime(2026, 1, 2, 3, 4, 6),
        ]
    )
    monkeypatch.setattr(exposures, "datetime", _Clock(moments))
    log.record("x1", "u1", "content")
    log.record("x1", "u1", "content")
    log.flush()  # written now, unless the thread wrote them first
    log.record("x1", "u1", "content")
    log.record("x1", "u1", "content")
    log.flush()
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(exposures_table)).one()
    first, last = datetime(2026, 1, 2, 3, 4, 4, 999999), datetime(2026, 1, 2, 3, 4, 6)
    assert row == ("x1", "u1", "content", 4, first, last)
    dialect = store.engine.dialect
    if dialect.name == "sqlite":  # kept as text: the report compares it with the events' times as text
        with store.engine.connect() as conn:
            text = conn.exec_driver_sql("SELECT first_at, last_at FROM ab_exposures").one()
        as_sqlalchemy_keeps = sa.DateTime().dialect_impl(dialect).bind_processor(dialect)
        assert tuple(text) == (as_sqlalchemy_keeps(row.first_at), as_sqlalchemy_keeps(row.last_at))
    store.close()


class _Clock:
    """Stands in for the datetime class in the exposures module: now() gives the next moment (UTC)."""

    def __init__(self, moments: Iterator[datetime]) -> None:
        self.moments = moments

    def now(self, zone: tzinfo) -> datetime:
        return next(self.moments).replace(tzinfo=zone)


def _written(store: FeedbackStore) -> list[tuple[str, int]]:
    with store.engine.connect() as conn:
        try:
            rows = conn.execute(sa.text("SELECT user_id, exposures FROM ab_exposures ORDER BY user_id")).all()
        except sa.exc.OperationalError:
            return []
    return [tuple(r) for r in rows]


def test_exposures_still_buffered_are_written_when_the_process_exits(tmp_path):
    url = f"sqlite:///{tmp_path / 'exit.db'}"
    script = textwrap.dedent(
        f"""
        from recommender.storage.exposures import ExposureLog
        from recommender.storage.feedback import FeedbackStore
        log = ExposureLog(FeedbackStore({url!r}).engine, interval=3600)
        for user in range(50):
            log.record("x1", f"u{{user}}", "content")
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parent.parent)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*), sum(exposures) FROM ab_exposures")).one() == (50, 50)
    engine.dispose()
