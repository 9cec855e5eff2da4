"""The evaluation harness end to end on the tiny store, extended with a test period."""

from __future__ import annotations

import json

import pytest

from recommender.evaluate import evaluate, main
from recommender.evaluation.report import best_baselines
from tests.helpers import extended

LATER = """\
U5,P4,purchase,2024-03-01T10:00:00
U4,P2,view,2024-03-02T10:00:00
U1,P6,view,2024-03-03T10:00:00
U9,P1,purchase,2024-03-03T10:00:00
"""


@pytest.fixture
def split_store(store):
    return extended(store, LATER)


def test_rows_cover_the_service_and_the_baselines(split_store):
    rows, facts = evaluate(
        *split_store, cutoff="2024-02-01", k=3, hybrid_weights=(0.0, 0.5), progress=lambda _: None
    )
    names = [(r.name, r.group) for r in rows]
    assert names[:8] == [
        ("popularity", "service"),
        ("content", "service"),
        ("collaborative", "service"),
        ("hybrid", "service"),
        ("hybrid", "service"),
        ("default", "service"),
        ("ranked", "service"),
        ("ranked", "service"),
    ]
    default = next(r for r in rows if r.name == "default")
    assert default.setting == "/recommend/user as served"
    assert facts["default"] == "collaborative"  # no ranker on the tiny store
    assert {"bm25 item-knn", "ease"} <= {r.name for r in best_baselines(rows)}
    assert facts["test_users"] == 3  # U5, U4, U1; U9 has no history before the cutoff
    assert facts["new_items"] == 2  # P6 and P7 have no interaction before the cutoff
    collaborative = next(r for r in rows if r.name == "collaborative")
    assert collaborative.metrics["users"] == 3
    assert 0 < collaborative.metrics["hit_rate"] <= 1  # U5 is given P4 first, and buys it


def test_command_line_writes_table_json_and_report(split_store, tmp_path, capsys):
    products, interactions = split_store
    out = tmp_path / "rows.json"
    main(
        [
            "--products", str(products), "--interactions", str(interactions), "--cutoff", "2024-02-01",
            "--k", "3", "--json", str(out), "--report-dir", str(tmp_path / "reports"), "--name", "tiny",
        ]
    )  # fmt: skip
    printed = capsys.readouterr()
    assert "| collaborative | item-item regression |" in printed.out
    assert "| ranked | /recommend/user |" in printed.out
    assert "[3/" in printed.err  # progress
    rows = json.loads(out.read_text())["cutoffs"][0]["rows"]
    assert {r["name"] for r in rows} >= {"popularity", "content", "collaborative", "hybrid", "ease"}
    report = (tmp_path / "reports" / "tiny.md").read_text()
    assert "python -m recommender.evaluate --products" in report and "![NDCG@3" in report
    assert (tmp_path / "reports" / "tiny-hybrid.png").stat().st_size > 1000


def test_several_cutoffs_make_one_report_with_a_column_each(split_store, tmp_path):
    products, interactions = split_store
    main(
        [
            "--products", str(products), "--interactions", str(interactions),
            "--cutoff", "2024-01-04,2024-02-01", "--k", "3", "--report-dir", str(tmp_path), "--name", "two",
            "--no-baselines",
        ]
    )  # fmt: skip
    report = (tmp_path / "two.md").read_text()
    assert "NDCG@3 2024-01-04 (new hits) | NDCG@3 2024-02-01 (new hits)" in report
    assert "## Cutoff 2024-01-04" in report and "## Cutoff 2024-02-01" in report
    assert "## The ranker" in report and "not trained" in report  # the tiny store is too small
    assert "Test period" not in report  # the rest of the log, as usual


def test_a_horizon_keeps_only_what_users_took_within_it(split_store, tmp_path):
    products, interactions = split_store
    args = ["--products", str(products), "--interactions", str(interactions), "--cutoff", "2024-02-01"]
    args += ["--k", "3", "--report-dir", str(tmp_path), "--name", "soon", "--no-baselines"]
    _, everyone = evaluate(
        *split_store, cutoff="2024-02-01", k=3, baselines_on=False, progress=lambda _: None
    )
    main([*args, "--horizon", "30", "--json", str(tmp_path / "soon.json")])
    facts = json.loads((tmp_path / "soon.json").read_text())["cutoffs"][0]["facts"]
    assert facts["horizon_days"] == 30 and facts["test_users"] < everyone["test_users"]
    assert "Test period: the 30 days after each cutoff" in (tmp_path / "soon.md").read_text()


def test_no_test_users_is_a_clear_error(store):
    with pytest.raises(SystemExit, match="no test users"):
        evaluate(*store, cutoff="2030-01-01", progress=lambda _: None)


def test_several_seeds_are_reported_as_their_mean_and_spread():
    from recommender.evaluate import mean_of_seeds
    from recommender.evaluation.report import METRICS, Row, ranker_section, table

    def metrics(ndcg: float) -> dict[str, float]:
        return {**dict.fromkeys(METRICS, 0.5), "ndcg": ndcg}

    def run(ranked: float, baseline: bool) -> tuple[list, dict]:
        rows = [
            Row("collaborative", "", metrics(0.2), 1.0),
            Row("ranked", "/recommend/user", metrics(ranked), 2.0),
        ]
        rows += [Row("ease", "lambda=50", metrics(0.1), 1.0, "baseline")] if baseline else []
        trained = ranked > 0.35
        ranker = {
            "trained": trained,
            "reason": "trained" if trained else "too short",
            "candidate_recall": None,
        }
        facts = {"cutoff": "2024-02-01", "default": "ranked" if trained else "collaborative"}
        return rows, {**facts, "ranker": {**ranker, "candidates_per_user": None}}

    rows, facts = mean_of_seeds([run(0.30, True), run(0.36, False), run(0.33, False)])
    ranked = next(r for r in rows if r.name == "ranked")
    assert ranked.metrics["ndcg"] == pytest.approx(0.33)
    assert (ranked.extra["ndcg_min"], ranked.extra["ndcg_max"], ranked.extra["seeds"]) == (0.30, 0.36, 3)
    ease = next(r for r in rows if r.name == "ease")
    assert ease.metrics["ndcg"] == 0.1 and ease.extra["seeds"] == 1  # a baseline runs once
    assert facts["seeds"] == 3 and facts["ranked_ndcg_by_seed"]["/recommend/user"] == [0.30, 0.36, 0.33]
    assert facts["default_by_seed"] == ["collaborative", "ranked", "collaborative"]
    lines = ranker_section([(rows, facts)]).splitlines()
    assert "| 2024-02-01 (seed 1) | trained |" in lines[3] and "not trained: too short" in lines[4]
    assert mean_of_seeds([run(0.3, True)]) == run(0.3, True)  # one seed: as it was
    shown = table(rows, 10)
    assert "| 0.3300 [0.3000, 0.3600] |" in shown and "| 0.1000 |" in shown  # the baseline's: no spread


def test_seeds_must_be_at_least_one(split_store):
    products, interactions = split_store
    with pytest.raises(SystemExit):
        main(
            [
                "--products",
                str(products),
                "--interactions",
                str(interactions),
                "--cutoff",
                "2024-02-01",
                "--seeds",
                "0",
            ]
        )
