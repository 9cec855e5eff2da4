"""Load benchmark: the service under gunicorn against a bare Flask app, with wrk, in one run.

    python bench/load.py                                        # the demo store
    python bench/load.py --products P.csv --interactions I.csv --rounds 5
    python bench/load.py --products P.csv --interactions I.csv --artifacts DIR   # a model saved before
    python bench/load.py --against /tmp/before   # beside another checkout (git worktree add /tmp/before REV)

Starts each server as users start it (`gunicorn -w 2 -b HOST:PORT app:app` from the repository
root): the bare app, the service without cache, the service with it, and the service without
cache and without recording A/B exposures (the A/B route's cost of recording them), all at once
(an idle server costs nothing); with --against, also that checkout's service without cache, so
a change is measured against the code before it in the same run. That checkout builds its own
model at start, in a folder of its own (its saved model's format may differ), so on a large store
--against adds a whole build to the start (about 18 minutes at 1M products). Then, in rounds,
runs wrk on each row with a rotating set of real ids, and prints for each row the median over the
rounds of requests/s, p50 and p99 latency, and its requests/s as a share of the bare Flask app's
(the ceiling of Flask on this machine).
Uncached routes run with CACHE_ENABLED=false; cached routes against the Redis at REDIS_URL
(default redis://127.0.0.1:6379/15, keys under a prefix of their own, deleted after).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pandas as pd
from memory import PeakSampler

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn server, started as users start it and stopped on exit; while it runs, the peak
    memory of all its processes together is sampled (`peak_gb`), start-up (its model build) included."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str], port: int, timeout: float) -> None:
        self.args, self.cwd, self.env, self.port, self.timeout = args, cwd, env, port, timeout

    def __enter__(self) -> Server:
        started = time.monotonic()
        self.process = subprocess.Popen(
            self.args, cwd=self.cwd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.memory = PeakSampler(self.process.pid).__enter__()
        deadline = started + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{' '.join(self.args)} exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    self.ready_seconds = time.monotonic() - started
                    return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise SystemExit(f"{' '.join(self.args)} did not answer within {self.timeout} s")

    def __exit__(self, *exc: object) -> None:
        self.memory.__exit__()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()

    @property
    def peak_gb(self) -> float:
        return self.memory.peak


def wrk(port: int, paths: list[str], duration: int, connections: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(paths) + "\n")
    env = {**os.environ, "WRK_PATHS": f.name}
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(BENCH / "paths.lua")]
    out = subprocess.run([*command, f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True)
    os.unlink(f.name)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {out.stdout}{out.stderr}")
    requests, seconds, p50, p99, errors, non2xx = line.split()[1:]
    return {
        "rps": int(requests) / float(seconds),
        "p50": float(p50),
        "p99": float(p99),
        "errors": int(errors) + int(non2xx),
    }


def route_paths(products: Path, interactions: Path, n: int, seed: int) -> dict[str, list[str]]:
    rng = random.Random(seed)
    product_ids = pd.read_csv(products, usecols=["product_id"], dtype=str)["product_id"].tolist()
    user_ids = pd.read_csv(interactions, usecols=["user_id"], dtype=str)["user_id"].unique().tolist()
    users = [rng.choice(user_ids) for _ in range(n)]
    items = [rng.choice(product_ids) for _ in range(n)]
    q = urllib.request.quote
    categories = pd.read_csv(products, dtype=str, keep_default_na=False).get("category")
    sizes = categories[categories.str.strip() != ""].value_counts() if categories is not None else []
    filtered = {}
    if len(sizes):  # a mid-sized category: the median of the categories' sizes
        category = sizes.index[len(sizes) // 2]
        filtered[f"/recommend/user category={category}"] = [
            f"/recommend/user/{q(u)}?top_k=10&category={q(category)}" for u in users
        ]
    return {
        "/recommend/content": [f"/recommend/content/{q(p)}?top_k=10" for p in items],
        "/recommend/user": [f"/recommend/user/{q(u)}?top_k=10" for u in users],
        "/recommend/hybrid": [
            f"/recommend/hybrid?user_id={q(u)}&product_id={q(p)}&top_k=10"
            for u, p in zip(users, items, strict=True)
        ],
        # A user alone: the ranker's list from the build, where one was trained.
        "/recommend/hybrid user only": [f"/recommend/hybrid?user_id={q(u)}&top_k=10" for u in users],
        "/recommend/ab": [f"/recommend/ab?user_id={q(u)}&top_k=10" for u in users],
        **filtered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=Path, default=ROOT / "data" / "products.csv")
    parser.add_argument("--interactions", type=Path, default=ROOT / "data" / "interactions.csv")
    parser.add_argument("--duration", type=int, default=5, help="seconds of wrk per row and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over every row; medians are shown")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--ids", type=int, default=2000, help="distinct requests per route")
    parser.add_argument("--start-timeout", type=float, default=1200)
    parser.add_argument(
        "--artifacts",
        type=Path,
        help="the services' ARTIFACTS_DIR: a model saved there from the same CSVs and settings "
        "(python -m recommender.build --out DIR) is loaded, not built (default: a fresh folder)",
    )
    parser.add_argument(
        "--against",
        type=Path,
        help="another checkout of the service (e.g. a git worktree of an earlier commit): its routes, "
        "uncached, are measured in the same rounds, and each route's rate is given against it",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    env = {
        **os.environ,
        "PRODUCTS_CSV": str(args.products.resolve()),
        "INTERACTIONS_CSV": str(args.interactions.resolve()),
        "ARTIFACTS_DIR": str((args.artifacts or work / "artifacts").resolve()),
        "FEEDBACK_DB": f"sqlite:///{work / 'feedback.db'}",
        "REDIS_URL": redis_url,
        "CACHE_KEY_PREFIX": prefix,
    }
    saved_before = versions(Path(env["ARTIFACTS_DIR"]))
    paths = route_paths(args.products, args.interactions, args.ids, seed=1)
    gunicorn = [sys.executable, "-m", "gunicorn", "-w", "2"]

    with contextlib.ExitStack() as servers:
        bare_port, port, cached_port = free_port(), free_port(), free_port()
        servers.enter_context(
            Server([*gunicorn, "-b", f"127.0.0.1:{bare_port}", "bare_app:app"], BENCH, env, bare_port, 60)
        )
        uncached = {**env, "CACHE_ENABLED": "false"}
        server = [*gunicorn, "-b", f"127.0.0.1:{port}", "app:app"]
        service = servers.enter_context(Server(server, ROOT, uncached, port, args.start_timeout))
        print(f"service ready in {service.ready_seconds:.1f} s", file=sys.stderr)
        server = [*gunicorn, "-b", f"127.0.0.1:{cached_port}", "app:app"]  # loads what the first built
        servers.enter_context(Server(server, ROOT, env, cached_port, args.start_timeout))
        unrecorded_port = free_port()
        server = [*gunicorn, "-b", f"127.0.0.1:{unrecorded_port}", "app:app"]
        unrecorded = {**uncached, "AB_EXPOSURES": "false"}
        servers.enter_context(Server(server, ROOT, unrecorded, unrecorded_port, args.start_timeout))
        against_port = free_port()
        if args.against is not None:
            server = [*gunicorn, "-b", f"127.0.0.1:{against_port}", "app:app"]
            before = {**uncached, "ARTIFACTS_DIR": str(work / "artifacts-against")}
            checkout = args.against.resolve()
            servers.enter_context(Server(server, checkout, before, against_port, args.start_timeout))
        for route_list in paths.values():
            for path in route_list:  # fill the cache first
                urllib.request.urlopen(f"http://127.0.0.1:{cached_port}{path}").read()
        plan = [[("bare Flask /health", bare_port, ["/health"])], [("service /health", port, ["/health"])]]
        plan += [[(f"{route} (uncached)", port, route_list)] for route, route_list in paths.items()]
        if args.against is not None:  # each row beside the same row of the other checkout
            for group in plan[1:]:
                name, _, row_paths = group[0]
                group.append((f"against: {name}", against_port, row_paths))
        ab = paths["/recommend/ab"]
        plan += [[("/recommend/ab (uncached, exposures not recorded)", unrecorded_port, ab)]]
        plan += [[(f"{route} (cached)", cached_port, route_list)] for route, route_list in paths.items()]
        # Every row once per round, the rounds one after the other: a slow spell of a shared
        # machine then touches every row alike, and the median of each row ignores one bad round.
        # Rows measured side by side swap places every round.
        runs: dict[str, list[dict[str, float]]] = {name: [] for group in plan for name, _, _ in group}
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number} of {args.rounds}", file=sys.stderr)
            for group in plan:
                for name, row_port, row_paths in group if round_number % 2 else reversed(group):
                    runs[name].append(wrk(row_port, row_paths, args.duration, args.connections))
        facts = {"ready_seconds": service.ready_seconds, "peak_gb": service.peak_gb}
    built = versions(Path(env["ARTIFACTS_DIR"])) - saved_before
    delete_keys(redis_url, prefix)
    shutil.rmtree(work, ignore_errors=True)

    rows = {
        name: {m: statistics.median(r[m] for r in results) for m in results[0]}
        for name, results in runs.items()
    }
    ceiling = rows["bare Flask /health"]["rps"]
    store = args.products.parent.name
    print(
        f"\n{store}: median of {args.rounds} rounds of {args.duration} s per row, "
        f"{args.connections} connections, gunicorn -w 2"
    )
    how = "model built at start" if built else f"model loaded from {env['ARTIFACTS_DIR']}"
    print(
        f"ready {facts['ready_seconds']:.1f} s after start ({how}); "
        f"peak memory of master and workers together {facts['peak_gb']:.2f} GB (PSS)\n"
    )
    print("| route | requests/s | p50 ms | p99 ms | errors | share of bare Flask |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        errors = sum(x["errors"] for x in runs[name])
        share = r["rps"] / ceiling
        print(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {errors:.0f} | {share:.2f} |")
    if args.against is not None:
        print(f"\n| route, uncached | requests/s against {args.against} | here | ratio |")
        print("|---|---|---|---|")
        for name, r in rows.items():
            before = rows.get(f"against: {name}")
            if before is not None:
                print(f"| {name} | {before['rps']:.0f} | {r['rps']:.0f} | {r['rps'] / before['rps']:.3f} |")


def versions(artifacts: Path) -> set[str]:
    """The model versions saved in an artifacts folder."""
    return {meta.parent.name for meta in artifacts.glob("*/meta.json")}


def delete_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    except redis.RedisError:
        pass


if __name__ == "__main__":
    main()
