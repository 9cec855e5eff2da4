"""The nightly job: ingest the store's latest files, then have the running service rebuild.

    python -m recommender.nightly
    python -m recommender.nightly --products feed/products.csv.gz --interactions https://.../events.jsonl

Sources are files or http(s) addresses (downloaded first), by default NIGHTLY_PRODUCTS and
NIGHTLY_INTERACTIONS (space-separated). Products are ingested before interactions, each as
`python -m recommender.ingest` does it (each row once, however often the job runs); rejected rows
go to NIGHTLY_REJECTS when it is set. Then POST /admin/reload on SERVICE_URL with ADMIN_TOKEN:
the service rebuilds from the database in the background and every worker switches.

Exit status: 0 when everything was ingested and the rebuild started (or no SERVICE_URL is set),
1 when a step failed (running the job again is safe), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson

from config import Config, ConfigError
from recommender import ingest

DOWNLOAD_SECONDS = 600
RELOAD_SECONDS = 30


@contextlib.contextmanager
def local_files(sources: list[str]) -> Iterator[list[str]]:
    """The sources as local files: addresses downloaded into a folder removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="recsys-nightly-"))
    try:
        files = []
        for i, source in enumerate(sources):
            if not source.startswith(("http://", "https://")):
                files.append(source)
                continue
            name = Path(urllib.parse.urlsplit(source).path).name or "download.csv"
            target = folder / f"{i}-{name}"  # keeps the name's .csv.gz or .jsonl: the format
            with urllib.request.urlopen(source, timeout=DOWNLOAD_SECONDS) as answer, target.open("wb") as out:
                shutil.copyfileobj(answer, out, 1 << 20)
            files.append(str(target))
        yield files
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def reload(service: str, token: str) -> str:
    """Ask the service to rebuild; its answer's status ("started" or "already running")."""
    url = service if "://" in service else f"http://{service}"
    request = urllib.request.Request(
        f"{url.rstrip('/')}/admin/reload", method="POST", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=RELOAD_SECONDS) as answer:
        return str(orjson.loads(answer.read())["status"])


def main(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> int:
    env = dict(os.environ if environ is None else environ)
    parser = argparse.ArgumentParser(prog="python -m recommender.nightly", description=__doc__.split("\n")[0])
    parser.add_argument("--products", nargs="*", default=env.get("NIGHTLY_PRODUCTS", "").split())
    parser.add_argument("--interactions", nargs="*", default=env.get("NIGHTLY_INTERACTIONS", "").split())
    parser.add_argument(
        "--rejects", default=env.get("NIGHTLY_REJECTS") or None, help="folder for rejected rows"
    )
    parser.add_argument(
        "--service", default=env.get("SERVICE_URL"), help="the service to rebuild (SERVICE_URL)"
    )
    args = parser.parse_args(argv)
    if not args.products and not args.interactions:
        parser.error(
            "nothing to ingest: give --products/--interactions, or set NIGHTLY_PRODUCTS/NIGHTLY_INTERACTIONS"
        )
    if args.service and not env.get("ADMIN_TOKEN"):
        parser.error("SERVICE_URL is set but ADMIN_TOKEN is not: the rebuild needs the service's admin token")
    try:
        database = Config.from_env(env).feedback_db
    except ConfigError as exc:
        parser.error(str(exc))
    try:
        for kind, sources in (("products", args.products), ("interactions", args.interactions)):
            if not sources:
                continue
            with local_files(sources) as files:
                rejects = (
                    ["--rejects", str(Path(args.rejects) / f"{kind}-rejects.csv")] if args.rejects else []
                )
                if args.rejects:
                    Path(args.rejects).mkdir(parents=True, exist_ok=True)
                status = ingest.main([kind, *files, *rejects, "--database", database])
            if status != 0:
                return status
    except (OSError, urllib.error.URLError) as exc:
        print(f"error: a source could not be read: {exc}", file=sys.stderr)
        return 1
    if not args.service:
        print("ingested; no SERVICE_URL set, so no rebuild was asked for")
        return 0
    try:
        print(f"rebuild {reload(args.service, env['ADMIN_TOKEN'])} on {args.service}")
    except (OSError, urllib.error.URLError, KeyError, ValueError) as exc:
        print(f"error: the service did not take the rebuild: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
