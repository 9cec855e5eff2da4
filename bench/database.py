"""The store in PostgreSQL: ingestion's rate, and a build from the database against one from the CSVs.

    python bench/database.py                                  # the 100K store
    python bench/database.py --sizes 1000000 --flat           # the flatter 1M store (85M rows)

For each size: a fresh database on the server (--server, default the machine's PostgreSQL), the
store's CSVs (bench/build.py's synthetic stores, kept under --stores) loaded with
`python -m recommender.ingest products` and `... interactions`, each timed; then
`python -m recommender.build` in a fresh process, once with DATABASE_URL naming that database and
once from the CSV files, each with its time and peak memory (PSS of the build and its workers).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from build import store
from memory import PeakSampler

ROOT = Path(__file__).resolve().parent.parent
SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def fresh_database(server: str, name: str) -> str:
    """An empty database `name` on the server (dropped first if it was there); its URL."""
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.make_url(server).set(database=name).render_as_string(hide_password=False)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command from the repository root: its seconds, the peak GB of its process tree, its output."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, text=True)
        with PeakSampler(process.pid) as memory:
            process.wait()
        seconds = time.perf_counter() - started
        out.seek(0)
        printed = out.read()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {process.returncode}):\n{printed[-2000:]}")
    return seconds, memory.peak, printed


def rows_of(path: Path) -> int:
    with path.open("rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 24), b"")) - 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--flat", action="store_true", help="stores with a flatter popularity curve")
    parser.add_argument("--stores", type=Path, default=Path(tempfile.gettempdir()) / "recsys-bench")
    parser.add_argument("--server", default=SERVER, help="a PostgreSQL URL whose user may create databases")
    parser.add_argument("--no-csv-build", action="store_true", help="skip the build from the CSV files")
    args = parser.parse_args()
    python = sys.executable
    table = []
    for size in (int(s) for s in args.sizes.split(",")):
        products, interactions = store(size, args.stores, args.flat)
        url = fresh_database(args.server, f"recsys_bench_{size}")
        env = {**os.environ, "DATABASE_URL": url}
        loads = {}
        for kind, path in (("products", products), ("interactions", interactions)):
            seconds, _, printed = timed([python, "-m", "recommender.ingest", kind, str(path)], env)
            loads[kind] = (rows_of(path), seconds)
            print(printed.strip(), f"({seconds:.1f} s)", file=sys.stderr)
        builds = {}
        with tempfile.TemporaryDirectory() as out:
            build = [python, "-m", "recommender.build", "--out", out]
            builds["database"] = timed(build, env)[:2]
            print(f"{size}: built from the database in {builds['database'][0]:.0f} s", file=sys.stderr)
        if not args.no_csv_build:
            with tempfile.TemporaryDirectory() as out:
                csv_env = {**env, "PRODUCTS_CSV": str(products), "INTERACTIONS_CSV": str(interactions)}
                csv_env["DATABASE_URL"] = f"sqlite:///{out}/empty.db"  # no products there: the CSVs are read
                build = [python, "-m", "recommender.build", "--out", out]
                builds["CSV files"] = timed(build, csv_env)[:2]
                print(f"{size}: built from the CSV files in {builds['CSV files'][0]:.0f} s", file=sys.stderr)
        table.append((size, loads, builds))

    head = [
        "products",
        "rows",
        "ingest products s",
        "ingest interactions s (rows/s)",
        "build from",
        "build s",
        "peak GB",
    ]
    print("\n| " + " | ".join(head) + " |")
    print("|---|---|---|---|---|---|---|")
    for size, loads, builds in table:
        rows, seconds = loads["interactions"]
        for source, (build_s, peak) in builds.items():
            print(
                f"| {size:,} | {rows:,} | {loads['products'][1]:.1f} | {seconds:.1f} ({rows / seconds:,.0f}) "
                f"| {source} | {build_s:.1f} | {peak:.2f} |"
            )


if __name__ == "__main__":
    main()
