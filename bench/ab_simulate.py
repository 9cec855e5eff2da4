"""Simulated A/B traffic on the demo store, and the report it produces.

    python bench/ab_simulate.py [--users 2000] [--seed 7]

Each shopper asks /recommend/ab up to four times; on each answer they click its first product
with the chance their variant is given (content 10%, hybrid 13%), and after a click buy it with
a chance of 30%, quoting the answer's recomm_id. Prints the report's main figures per variant.
Runs in-process (Flask's test client, a throwaway SQLite store, a fake Redis).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import fakeredis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from config import Config  # noqa: E402

CLICK_CHANCE = {"content": 0.10, "hybrid": 0.13}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ab-simulate-"))
    config = Config(feedback_db=f"sqlite:///{work / 'feedback.db'}", artifacts_dir=str(work / "artifacts"))
    client = create_app(config, redis_client=fakeredis.FakeRedis()).test_client()
    rng = random.Random(args.seed)
    for i in range(args.users):
        user = f"shopper-{i}"
        for _ in range(rng.randint(1, 4)):
            answer = client.get(f"/recommend/ab?user_id={user}&top_k=5").get_json()
            if rng.random() < CLICK_CHANCE[answer["variant"]]:
                event = {"user_id": user, "product_id": answer["results"][0]["product_id"]}
                event["recomm_id"] = answer["recomm_id"]
                client.post("/feedback", json={**event, "action": "clicked"})
                if rng.random() < 0.3:
                    client.post("/feedback", json={**event, "action": "purchase"})
                break
    report = client.get("/ab/report").get_json()
    shown = ("users", "exposures", "clicks", "ctr", "click_rate", "conversions", "revenue")
    shown += ("lift", "lift_ci", "p_value", "users_needed", "more_users_needed")
    summary = {name: {k: row[k] for k in shown} for name, row in report["variants"].items()}
    print(json.dumps({"variants": summary, "sample_ratio": report["sample_ratio"]}, indent=1))
    print("warnings:", report["warnings"])


if __name__ == "__main__":
    main()
