"""Ingestion into the store's database: each row once, bad rows rejected with their line, on
SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import gzip
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from recommender import ingest
from recommender.storage import schema
from tests.helpers import INTERACTIONS, PRODUCTS, write

ROOT = Path(__file__).resolve().parent.parent


def run(database: str, *args: str | Path) -> int:
    try:
        return ingest.main([*map(str, args), "--database", database])
    finally:
        schema._upgraded.clear()  # as a new process would: the next run checks the schema again


def rows(database: str, query: str) -> list[tuple]:
    engine = sa.create_engine(database)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def count(database: str, table: str = "interactions") -> int:
    return rows(database, f"SELECT count(*) FROM {table}")[0][0]


def test_interactions_are_stored_once_however_often_ingested(database, tmp_path, capsys):
    log = write(tmp_path / "interactions.csv", INTERACTIONS)
    assert run(database, "interactions", log) == 0
    assert "13 rows read, 13 stored, 0 already there, 0 rejected" in capsys.readouterr().out
    assert run(database, "interactions", log) == 0
    assert "13 rows read, 0 stored, 13 already there, 0 rejected" in capsys.readouterr().out
    assert count(database) == 13
    assert rows(
        database, "SELECT user_id, product_id, interaction_type, ts, source FROM interactions WHERE id = 1"
    ) == [("U1", "P1", "purchase", rows(database, "SELECT min(ts) FROM interactions")[0][0], "ingest")]


def test_gzipped_csv_and_json_lines_hold_the_same_events(database, tmp_path, capsys):
    plain = write(tmp_path / "interactions.csv", INTERACTIONS)
    zipped = tmp_path / "interactions.csv.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    with plain.open() as f:
        records = list(csv.DictReader(f))
    for record in records:  # another spelling of the same times: UTC offsets
        record["ts"] += "+00:00"
    lines = tmp_path / "interactions.jsonl"
    lines.write_bytes(b"\n".join(orjson.dumps(r) for r in records))
    assert run(database, "interactions", zipped) == 0
    assert run(database, "interactions", lines, plain) == 0
    out = capsys.readouterr().out
    assert "interactions.csv.gz: 13 rows read, 13 stored" in out
    assert "interactions.jsonl: 13 rows read, 0 stored, 13 already there" in out
    assert "total: 26 rows read, 0 stored, 26 already there, 0 rejected" in out
    assert count(database) == 13


def test_an_event_id_makes_the_event(database, tmp_path):
    log = write(
        tmp_path / "events.csv",
        """\
        user_id,product_id,interaction_type,ts,event_id
        U1,P1,view,2024-01-01T10:00:00,e-1
        U1,P1,view,2024-01-01T10:00:09,e-1
        U1,P1,view,2024-01-01T10:00:00,e-2
        U1,P1,view,2024-01-01T10:00:00,
        U1,P1,view,2024-01-01T10:00:00,
        """,
    )
    assert run(database, "interactions", log) == 0
    # e-1 once (its second row is a resend), e-2, and one row without an id (twice the same content)
    assert rows(database, "SELECT event_id FROM interactions ORDER BY id") == [("e-1",), ("e-2",), (None,)]


BAD_ROWS = [
    ("U1,P1,purchase", "short line: 3 fields where the header has 4"),
    ("U1,P1,purchase,2024-01-01T10:00:00,extra", "long line: 5 fields where the header has 4"),
    (",P1,purchase,2024-01-01T10:00:00", "missing user_id"),
    ("U1,P1,purchase,", "missing ts"),
    ("U1,P1,purchase,yesterday", "ts 'yesterday' is not an ISO 8601 time"),
    ("U1,P1,returned,2024-01-01T10:00:00", "interaction_type 'returned' is not one of"),
    (f"U1,{'P' * 257},purchase,2024-01-01T10:00:00", "product_id is longer than 256 characters"),
]


def test_bad_rows_go_to_the_rejects_file_and_the_good_ones_are_stored(database, tmp_path, capsys):
    lines = [b"user_id,product_id,interaction_type,ts", b"U1,P1,purchase,2024-01-01T10:00:00"]
    lines += [bad.encode() for bad, _ in BAD_ROWS]
    lines += [b"U2,P\xff\xfe,purchase,2024-01-01T10:00:00", b"U3,P3,view,2024-01-02T10:00:00"]
    log = tmp_path / "log.csv"
    log.write_bytes(b"\n".join(lines) + b"\n")
    rejects = tmp_path / "rejects.csv"
    assert run(database, "interactions", log, "--rejects", rejects) == 0
    assert "10 rows read, 2 stored, 0 already there, 8 rejected" in capsys.readouterr().out
    assert sorted(rows(database, "SELECT user_id FROM interactions")) == [("U1",), ("U3",)]
    with rejects.open() as f:
        found = list(csv.DictReader(f))
    expected = [(line, reason) for line, (_, reason) in enumerate(BAD_ROWS, start=3)]
    expected.append((3 + len(BAD_ROWS), "bytes that are not UTF-8"))
    assert [(int(r["line"]), r["file"]) for r in found] == [(line, "log.csv") for line, _ in expected]
    for row, (_, reason) in zip(found, expected, strict=True):
        assert row["reason"].startswith(reason)
    assert found[-1]["text"] == r"U2,P\xff\xfe,purchase,2024-01-01T10:00:00"


def test_bad_json_lines_are_rejected_with_their_line(database, tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_bytes(
        b'{"user_id": "U1", "product_id": "P1", "interaction_type": "view", "ts": "2024-01-01T10:00:00"}\n'
        b"[1, 2]\n"
        b'{"user_id": "U1", "product_id": "P1"\n'
        b'{"user_id": "U2", "product_id": "P1", "interaction_type": "view"}\n'
        b'{"user_id": 17, "product_id": "P1", "interaction_type": "view", "ts": "2024-01-01"}\n'
    )
    rejects = tmp_path / "rejects.csv"
    assert run(database, "interactions", log, "--rejects", rejects) == 0
    with rejects.open() as f:
        found = [(int(r["line"]), r["reason"].split(" (")[0]) for r in csv.DictReader(f)]
    assert found == [(2, "not a JSON object"), (3, "not JSON"), (4, "missing ts")]
    assert sorted(rows(database, "SELECT user_id FROM interactions")) == [("17",), ("U1",)]


def test_a_job_stopped_part_way_and_run_again_stores_every_row_once(database, tmp_path, monkeypatch, capsys):
    log = write(tmp_path / "interactions.csv", INTERACTIONS)
    real_store = ingest.store_interactions
    batches = []

    def failing_after_two_batches(engine, batch):
        if len(batches) == 2:
            raise sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection"))
        batches.append(len(batch))
        return real_store(engine, batch)

    monkeypatch.setattr(ingest, "store_interactions", failing_after_two_batches)
    assert run(database, "interactions", log, "--batch-rows", "5") == 1
    assert "Run the job again" in capsys.readouterr().err
    assert count(database) == 10  # two whole batches, nothing of the third
    monkeypatch.setattr(ingest, "store_interactions", real_store)
    assert run(database, "interactions", log, "--batch-rows", "5") == 0
    assert "13 rows read, 3 stored, 10 already there" in capsys.readouterr().out
    assert count(database) == 13


def test_a_killed_process_run_again_stores_every_row_once(database, tmp_path):
    log = tmp_path / "big.csv"
    with log.open("w") as f:
        f.write("user_id,product_id,interaction_type,ts\n")
        for i in range(300_000):
            f.write(f"U{i % 5000},P{i % 700},view,2024-01-01T00:00:{i % 60:02d}.{i:06d}\n")
    command = [sys.executable, "-m", "recommender.ingest", "interactions", str(log), "--database", database]
    job = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and job.poll() is None:
        try:
            if count(database) > 0:
                break
        except sa.exc.SQLAlchemyError:
            pass  # the table is not made yet
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    stored = count(database)
    assert 0 < stored < 300_000, "the job was to be killed part-way"
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    assert f"300,000 rows read, {300_000 - stored:,} stored, {stored:,} already there" in again.stdout
    assert count(database) == 300_000


def test_products_replace_their_stored_record(database, tmp_path, capsys):
    catalog = write(tmp_path / "products.csv", PRODUCTS)
    assert run(database, "products", catalog) == 0
    assert run(database, "products", catalog) == 0
    changed = write(
        tmp_path / "changed.csv",
        """\
        product_id,title,price,category
        P1,Red Ceramic Mug,9.5,Kitchen
        P8,Bread Knife,,Kitchen
        P9,,3,Kitchen
        P10,Bad Price,cheap,
        """,
    )
    assert run(database, "products", changed) == 0
    out = capsys.readouterr().out
    assert "7 rows read, 7 stored" in out
    assert "7 rows read, 0 stored, 7 already there" in out
    assert "4 rows read, 2 stored, 0 already there, 2 rejected" in out
    assert count(database, "products") == 8
    assert rows(
        database, "SELECT title, category, description, price FROM products WHERE product_id = 'P1'"
    ) == [("Red Ceramic Mug", "Kitchen", "", 9.5)]


def test_usage_errors_exit_2_and_store_nothing(database, tmp_path, capsys):
    log = write(tmp_path / "interactions.csv", INTERACTIONS)
    with pytest.raises(SystemExit) as exit_:
        run(database, "interactions", log, tmp_path / "missing.csv")
    assert exit_.value.code == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        run(database, "users", log)
    assert exit_.value.code == 2


def test_a_file_without_the_columns_fails_with_exit_1(database, tmp_path, capsys):
    log = write(tmp_path / "interactions.csv", "user,item,when\nU1,P1,2024-01-01\n")
    assert run(database, "interactions", log) == 1
    assert "missing column(s) user_id, product_id, interaction_type, ts" in capsys.readouterr().err


def test_an_unreachable_database_fails_with_exit_1(tmp_path, capsys):
    log = write(tmp_path / "interactions.csv", INTERACTIONS)
    assert run("postgresql+psycopg://nobody@127.0.0.1:1/none", "interactions", log) == 1
    assert "the database failed" in capsys.readouterr().err


def test_the_job_runs_from_the_command_line(tmp_path):
    log = write(tmp_path / "interactions.csv", INTERACTIONS)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    done = subprocess.run(
        [sys.executable, "-m", "recommender.ingest", "interactions", str(log)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{log}: 13 rows read, 13 stored, 0 already there, 0 rejected"


def test_one_event_spelled_two_ways_is_stored_once(database, tmp_path):
    log = write(
        tmp_path / "events.csv",
        """\
        user_id,product_id,interaction_type,ts
        Zoë,Crème brûlée,view,2024-03-01T10:00:00.500000+02:00
        Zoë,Crème brûlée,View,2024-03-01 08:00:00.5Z
        Zoë,Crème brûlée,view,2024-03-01T08:00:00.5000001
        """,
    )
    assert run(database, "interactions", log) == 0
    assert rows(database, "SELECT user_id, product_id FROM interactions") == [("Zoë", "Crème brûlée")]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_shows_the_progress_and_a_file_shows_none(tmp_path, monkeypatch):
    log = write(tmp_path / "interactions.csv", INTERACTIONS)
    monkeypatch.setattr(ingest, "PROGRESS_SECONDS", 0.0)
    for stream in (Terminal(), io.StringIO()):
        progress = ingest.Progress(stream)
        rows = ingest.RowFile(log, "interactions", ("view", "add_to_cart", "purchase"))
        counts = ingest.ingest_file(rows, len, ingest.Rejects(None), progress, 5)
        assert (counts.read, counts.stored) == (13, 13)
        shown = stream.getvalue()
        if isinstance(stream, Terminal):
            assert "\rinteractions.csv [" in shown and "13 rows" in shown and shown.endswith("\n")
        else:
            assert shown == ""
