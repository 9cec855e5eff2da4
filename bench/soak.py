"""Soak: mixed traffic against gunicorn -w 2 for a long while, with one reload, watching errors,
latency and memory.

    python bench/soak.py                         # the demo store, 10 minutes
    python bench/soak.py --minutes 3 --products P.csv --interactions I.csv

Four threads read every recommendation route (content, user, hybrid with and without a product,
A/B, catalog search) over real ids; one thread posts feedback (about 20 events a second, from
many users); after the first minute one POST /admin/reload rebuilds the model while the traffic
goes on (a worker then holds the new model beside the pages it shared with the master). Prints,
per minute, requests, errors, p50 and p99 latency; then the PSS of every process of the server
at the end of minute 3 (warm: the reload done) and at the end, and its growth.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pandas as pd
from load import ROOT, Server, delete_keys, free_port
from memory import descendants

TOKEN = "soak-token"


def pss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def memory(master: int) -> dict[int, float]:
    return {pid: pss_mb(pid) for pid in descendants(master)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=Path, default=ROOT / "data" / "products.csv")
    parser.add_argument("--interactions", type=Path, default=ROOT / "data" / "interactions.csv")
    parser.add_argument("--minutes", type=float, default=10)
    args = parser.parse_args()

    rng = random.Random(3)
    products = pd.read_csv(args.products, usecols=["product_id"], dtype=str)["product_id"].tolist()
    users = pd.read_csv(args.interactions, usecols=["user_id"], dtype=str)["user_id"].unique().tolist()
    q = urllib.request.quote
    reads = []
    for _ in range(3000):
        user, product = rng.choice(users), rng.choice(products)
        reads += [
            f"/recommend/content/{q(product)}?top_k=10",
            f"/recommend/user/{q(user)}?top_k=10",
            f"/recommend/hybrid?user_id={q(user)}&product_id={q(product)}&top_k=10",
            f"/recommend/hybrid?user_id={q(user)}&top_k=10",
            f"/recommend/ab?user_id={q(user)}&top_k=10",
        ]
    reads += [f"/products?q={word}&limit=10" for word in ("set", "mug", "bag", "light", "red")]
    rng.shuffle(reads)

    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    port = free_port()
    env = {
        **os.environ,
        "PRODUCTS_CSV": str(args.products.resolve()),
        "INTERACTIONS_CSV": str(args.interactions.resolve()),
        "ARTIFACTS_DIR": str(work / "artifacts"),
        "FEEDBACK_DB": f"sqlite:///{work / 'feedback.db'}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        "CACHE_KEY_PREFIX": f"soak-{uuid.uuid4().hex[:8]}:",
        "ADMIN_TOKEN": TOKEN,
    }
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"]
    base = f"http://127.0.0.1:{port}"
    samples: list[tuple[float, float, bool]] = []  # when, seconds, failed
    stop = threading.Event()

    def send(path: str, body: dict | None = None, headers: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            base + path, data=data, headers={"Content-Type": "application/json", **(headers or {})}
        )
        started = time.monotonic()
        failed = False
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            failed = exc.code >= 500
        except OSError:
            failed = True
        samples.append((started, time.monotonic() - started, failed))

    def reader(offset: int) -> None:
        i = offset
        while not stop.is_set():
            send(reads[i % len(reads)])
            i += 4

    def writer() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            event = {"user_id": f"soak-{i % 5000}", "product_id": rng.choice(products), "action": "clicked"}
            send("/feedback", event)
            time.sleep(0.05)

    with Server(command, ROOT, env, port, 1200) as server:
        print(f"ready in {server.ready_seconds:.1f} s", file=sys.stderr)
        threads = [threading.Thread(target=reader, args=(n,), daemon=True) for n in range(4)]
        threads.append(threading.Thread(target=writer, daemon=True))
        began = time.monotonic()
        for thread in threads:
            thread.start()
        minutes = max(1, round(args.minutes))
        warm: dict[int, float] = {}
        reloaded = False
        warm_minute = min(3, minutes)
        for minute in range(1, minutes + 1):
            time.sleep(args.minutes * 60 / minutes)
            if minute == warm_minute:
                warm = memory(server.process.pid)
            if not reloaded:
                send("/admin/reload", {}, {"Authorization": f"Bearer {TOKEN}"})
                reloaded = True
                print(f"reload asked after minute {minute}", file=sys.stderr)
            print(f"minute {minute} of {minutes}", file=sys.stderr)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        end = memory(server.process.pid)
        with urllib.request.urlopen(base + "/health") as response:
            health = json.loads(response.read())

    shutil.rmtree(work, ignore_errors=True)
    delete_keys(env["REDIS_URL"], env["CACHE_KEY_PREFIX"])
    span = args.minutes * 60 / max(1, round(args.minutes))
    print(
        f"\nsoak: {args.minutes:g} minutes, gunicorn -w 2, {args.products.parent.name}; "
        f"reload state at the end: {health['reload']['state']}\n"
    )
    print("| minute | requests | errors | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for minute in range(max(1, round(args.minutes))):
        window = [s for s in samples if began + minute * span <= s[0] < began + (minute + 1) * span]
        if not window:
            continue
        latencies = sorted(s[1] * 1000 for s in window)
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        errors = sum(s[2] for s in window)
        print(f"| {minute + 1} | {len(window)} | {errors} | {statistics.median(latencies):.2f} | {p99:.2f} |")
    print(f"\n| process | PSS after minute {min(3, round(args.minutes))} MB | PSS at the end MB | growth |")
    print("|---|---|---|---|")
    names = {server.process.pid: "master"}
    for pid in sorted(set(warm) | set(end)):
        before, after = warm.get(pid), end.get(pid)
        name = names.get(pid, f"worker {pid}")
        growth = f"{(after / before - 1) * 100:+.1f}%" if before and after else "(new or gone)"
        print(f"| {name} | {before or 0:.0f} | {after or 0:.0f} | {growth} |")
    total_before, total_after = sum(warm.values()), sum(end.values())
    print(
        f"| all | {total_before:.0f} | {total_after:.0f} | {(total_after / total_before - 1) * 100:+.1f}% |"
    )
    print(f"\nerrors in all: {sum(s[2] for s in samples)} of {len(samples)} requests")


if __name__ == "__main__":
    main()
