"""The app's own time per request: each route called in process, as a WSGI server calls it,
without gunicorn, sockets or wrk, so what a change to the request path saves shows through their
noise.

    python bench/app_time.py --artifacts DIR                          # the demo store's saved model
    python bench/app_time.py --products P.csv --interactions I.csv --artifacts DIR
    python bench/app_time.py --artifacts DIR --against /tmp/before   # beside another checkout

The model is loaded from DIR (saved before by `python -m recommender.build --out DIR` from the
same CSVs), or built if it is not there. Each checkout's app runs in a process of its own, with the
cache off (as load.py's uncached rows) and its JSON request lines written to nowhere; the
checkouts take turns, one process each per round. A row's figure is its fastest round, in
microseconds per request, over the same rotating ids as load.py's rows. The first row is the bare
Flask app (bare_app.py), the ceiling load.py measures the service against.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from load import route_paths

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
BARE = "bare Flask /health"

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def environ_of(url: str) -> dict[str, Any]:
    """The WSGI environ a server makes for a GET of `url` (path and query, as sent)."""
    path, _, query = url.partition("?")
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": urllib.parse.unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "5000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:5000",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def seconds_per_request(app: WsgiApp, urls: list[str], calls: int) -> float:
    """The mean time of `calls` requests, cycling through `urls`, each answered in full."""

    def start_response(status: str, headers: list, exc_info: Any = None) -> None:
        if not status.startswith("200"):
            raise SystemExit(f"{status} for {url}")

    environs = [environ_of(u) for u in urls]
    started = time.perf_counter()
    for i in range(calls):
        url, environ = urls[i % len(urls)], dict(environs[i % len(urls)])
        body = app(environ, start_response)
        b"".join(body)
        getattr(body, "close", lambda: None)()
    return (time.perf_counter() - started) / calls


def measure(checkout: Path, paths: dict[str, list[str]], calls: int) -> dict[str, float]:
    """Microseconds per request of each row, in this process, with `checkout`'s app."""
    os.chdir(checkout)
    sys.path.insert(0, str(checkout))
    logs = importlib.import_module("logs")
    logs.LINES.target = open(os.devnull, "wb")  # noqa: SIM115  # for the process's life
    service = importlib.import_module("app").app
    bare = importlib.import_module("bare_app").app
    rows = {BARE: (bare, ["/health"]), "service /health": (service, ["/health"])}
    rows.update({route: (service, urls) for route, urls in paths.items()})
    found = {}
    for name, (app, urls) in rows.items():
        seconds_per_request(app, urls, min(calls, 500))  # warm: first answers load pages and caches
        found[name] = seconds_per_request(app, urls, calls) * 1e6
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=Path, default=ROOT / "data" / "products.csv")
    parser.add_argument("--interactions", type=Path, default=ROOT / "data" / "interactions.csv")
    parser.add_argument("--artifacts", type=Path, required=True, help="the model's ARTIFACTS_DIR")
    parser.add_argument("--against", type=Path, help="another checkout, measured in the same rounds")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; each row's fastest is shown")
    parser.add_argument("--calls", type=int, default=3000, help="requests per row and round")
    parser.add_argument("--ids", type=int, default=2000, help="distinct requests per route")
    parser.add_argument("--in-process", type=Path, help=argparse.SUPPRESS)  # one round, one checkout
    parser.add_argument("--paths", type=Path, help=argparse.SUPPRESS)  # the rows' paths, as JSON
    args = parser.parse_args()
    if args.in_process is not None:
        paths = json.loads(args.paths.read_text())
        print(json.dumps(measure(args.in_process, paths, args.calls)))
        return

    work = Path(tempfile.mkdtemp(prefix="bench-app-time-"))
    paths_file = work / "paths.json"  # made once: reading a large store's log takes a while
    paths_file.write_text(json.dumps(route_paths(args.products, args.interactions, args.ids, seed=1)))
    env = {
        **os.environ,
        "PRODUCTS_CSV": str(args.products.resolve()),
        "INTERACTIONS_CSV": str(args.interactions.resolve()),
        "ARTIFACTS_DIR": str(args.artifacts.resolve()),
        "FEEDBACK_DB": f"sqlite:///{work / 'feedback.db'}",
        "CACHE_ENABLED": "false",
        "LOG_FORMAT": "json",
        "PYTHONPATH": str(BENCH),
    }
    checkouts = [ROOT] + ([args.against.resolve()] if args.against is not None else [])
    rounds: dict[Path, list[dict[str, float]]] = {c: [] for c in checkouts}
    for number in range(1, args.rounds + 1):
        print(f"round {number} of {args.rounds}", file=sys.stderr)
        for checkout in checkouts if number % 2 else reversed(checkouts):
            command = [sys.executable, str(BENCH / "app_time.py"), "--in-process", str(checkout)]
            command += ["--products", str(args.products.resolve())]
            command += ["--interactions", str(args.interactions.resolve())]
            command += ["--artifacts", str(args.artifacts), "--calls", str(args.calls)]
            command += ["--paths", str(paths_file)]
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            rounds[checkout].append(json.loads(out.stdout.splitlines()[-1]))
    shutil.rmtree(work, ignore_errors=True)
    best = {c: {row: min(r[row] for r in rs) for row in rs[0]} for c, rs in rounds.items()}

    here = best[ROOT]
    print(f"\n{args.products.parent.name}: fastest of {args.rounds} rounds of {args.calls} requests per row")
    if args.against is None:
        print("\n| route | us per request | us above bare Flask |")
        print("|---|---|---|")
        for row, us in here.items():
            print(f"| {row} | {us:.1f} | {us - here[BARE]:.1f} |")
        return
    before = best[args.against.resolve()]
    print(f"\n| route | us per request, {args.against} | here | ratio |")
    print("|---|---|---|---|")
    for row, us in here.items():
        print(f"| {row} | {before[row]:.1f} | {us:.1f} | {us / before[row]:.3f} |")


if __name__ == "__main__":
    main()
