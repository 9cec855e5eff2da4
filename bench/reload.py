"""Reload under load: wrk keeps the service busy while /admin/reload rebuilds and switches the model.

    python bench/reload.py                     # the demo store, 20 s of wrk, reload after 3 s

Prints wrk's totals (a failed request is a socket error or a non-2xx answer) and the model
version each of 20 /health answers reports afterwards (both workers answer them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from load import ROOT, Server, free_port, route_paths, wrk


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--after", type=float, default=3.0, help="seconds of load before the reload")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="bench-reload-"))
    products, interactions = work / "products.csv", work / "interactions.csv"
    shutil.copy(ROOT / "data" / "products.csv", products)
    shutil.copy(ROOT / "data" / "interactions.csv", interactions)
    token = "bench-token"
    env = {
        **os.environ,
        "PRODUCTS_CSV": str(products),
        "INTERACTIONS_CSV": str(interactions),
        "ARTIFACTS_DIR": str(work / "artifacts"),
        "FEEDBACK_DB": f"sqlite:///{work / 'feedback.db'}",
        "CACHE_ENABLED": "false",
        "ADMIN_TOKEN": token,
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "app:app"]
    with Server(server, ROOT, env, port, 300):
        before = json.load(urllib.request.urlopen(base + "/health"))["model_version"]
        paths = [p for route in route_paths(products, interactions, 500, seed=2).values() for p in route]
        with products.open("a") as f:  # a new product, so the rebuilt model has a new version
            f.write("P9999,Reload Test Lantern,Outdoor,A lantern added while serving,12,\n")

        def reload_later() -> None:
            time.sleep(args.after)
            request = urllib.request.Request(base + "/admin/reload", method="POST")
            request.add_header("Authorization", f"Bearer {token}")
            print(f"reload: {json.load(urllib.request.urlopen(request))['status']}", file=sys.stderr)

        trigger = threading.Thread(target=reload_later)
        trigger.start()
        result = wrk(port, paths, args.duration, 4)
        trigger.join()
        versions = [json.load(urllib.request.urlopen(base + "/health"))["model_version"] for _ in range(20)]
        status = json.load(urllib.request.urlopen(base + "/health"))["reload"]
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"wrk: {result['rps']:.0f} requests/s for {args.duration} s, p99 {result['p99']:.2f} ms, "
        f"failed requests: {result['errors']}"
    )
    print(f"model before: {before}; reload: {status.get('state')} in {status.get('seconds')} s")
    print(f"versions of 20 answers after: {sorted(set(versions))}")


if __name__ == "__main__":
    main()
