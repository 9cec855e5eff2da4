"""The replay on the tiny store: three days after the cutoff played through the service and its peers."""

from __future__ import annotations

import json

import pytest

from recommender.evaluate import main
from recommender.evaluation.replay import SEGMENTS, mean_over_seeds, replay
from tests.helpers import extended

# Day 1: U5 (known, owns the red mug) buys the beans. Day 2: the trowel P6 is first sold, to U9, a
# new shopper, with a red mug. Day 3: U9 comes back for the beans.
LATER = """\
U5,P4,purchase,2024-02-01T10:00:00
U9,P6,purchase,2024-02-02T11:00:00
U9,P1,purchase,2024-02-02T11:00:00
U9,P4,purchase,2024-02-03T09:00:00
"""


@pytest.fixture
def replay_store(store):
    return extended(store, LATER)


def test_every_basket_is_answered_by_the_service_and_its_peers(replay_store):
    run = replay(*replay_store, cutoff="2024-02-01", days=3, k=3, progress=lambda _: None)
    assert run.facts["products_at_cutoff"] == 6  # all but the trowel, sold first on day 2
    assert run.facts["launched"] == 1
    assert (run.facts["baskets"], run.facts["known_baskets"], run.facts["new_baskets"]) == (3, 1, 2)
    assert set(run.rows) == {
        "service",
        "service: collaborative",
        "service: hybrid",
        "popularity",
        "EASE lambda=100",
        "EASE lambda=500",
        "EASE lambda=2000",
    }
    # U5 is offered the beans first by the service and by the month's best sellers (the mug is theirs).
    assert run.rows["service"]["known"]["ndcg"] == pytest.approx(1.0)
    assert run.rows["popularity"]["known"]["ndcg"] == pytest.approx(1.0)
    assert run.rows["service"]["new"]["baskets"] == 2
    assert run.rows["service"]["first"]["baskets"] == 1  # U9 on day 2
    assert run.owned_answers == dict.fromkeys(run.rows, 0)  # nobody is offered what they have
    assert len(run.daily["service"]) == 3


def test_the_service_learns_from_feedback_during_the_replay(replay_store):
    """On day 3, U9 is known to the service only through the feedback of day 2 (a mug and the
    launched trowel): the beans that sell with mugs come first, and neither owned product is offered."""
    run = replay(*replay_store, cutoff="2024-02-01", days=3, k=3, peers=False, progress=lambda _: None)
    assert run.daily["service"][2] == pytest.approx(1.0)
    assert run.owned_answers == {"service": 0, "service: collaborative": 0, "service: hybrid": 0}


def test_a_rebuild_every_day_keeps_the_replay_going(replay_store):
    run = replay(
        *replay_store, cutoff="2024-02-01", days=3, k=3, peers=False, rebuild_every=1, progress=lambda _: None
    )
    assert run.facts["rebuild_every"] == 1
    assert run.rows["service"]["known"]["ndcg"] == pytest.approx(1.0)
    assert run.daily["service"][2] == pytest.approx(
        1.0
    )  # the rebuilt model knows U9 from the stored feedback


def test_command_line_writes_the_replay_report(replay_store, tmp_path, capsys):
    products, interactions = replay_store
    out = tmp_path / "replay.json"
    main(
        [
            "--products", str(products), "--interactions", str(interactions), "--cutoff", "2024-02-01",
            "--k", "3", "--replay", "3", "--seeds", "2", "--json", str(out),
            "--report-dir", str(tmp_path / "reports"), "--name", "tiny",
        ]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert "replay from 2024-02-01" in printed
    (saved,) = json.loads(out.read_text())["replays"]
    assert saved["facts"]["seeds"] == 1  # no ranker on the tiny store: every seed is the same model
    assert saved["facts"]["ranker_by_seed"][0]["trained"] is False
    report = (tmp_path / "reports" / "tiny-replay.md").read_text()
    assert "| service |" in report and "| popularity |" in report
    assert (tmp_path / "reports" / "tiny-replay-2024-02-01.png").stat().st_size > 0


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--replay", "0"], "--replay must be at least 1 day"),
        (["--rebuild-every", "2"], "--rebuild-every needs"),
    ],
)
def test_replay_options_are_checked(replay_store, extra, message, capsys):
    products, interactions = replay_store
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "--products",
                str(products),
                "--interactions",
                str(interactions),
                "--cutoff",
                "2024-02-01",
                *extra,
            ]
        )
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_seeds_are_reported_as_their_mean_and_spread():
    per_seed = [{s: {"ndcg": value, "baskets": 4} for s in SEGMENTS} for value in (0.1, 0.3)]
    merged = mean_over_seeds(per_seed)
    assert merged["all"]["ndcg"] == pytest.approx(0.2)
    assert (merged["new"]["ndcg_min"], merged["new"]["ndcg_max"]) == (0.1, 0.3)
    assert merged["known"]["baskets"] == 4
