"""The nightly job: the store's files (or addresses) ingested, then the service asked to rebuild."""

from __future__ import annotations

import gzip
import http.server
import threading

import pytest
import sqlalchemy as sa

from recommender import nightly
from recommender.storage import schema
from tests.helpers import INTERACTIONS, PRODUCTS, write


@pytest.fixture
def service():
    """A stand-in for the running service: serves files under /files/ and records reload requests."""
    seen: list[tuple[str, str | None]] = []
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def do_POST(self):  # noqa: N802
            seen.append((self.path, self.headers.get("Authorization")))
            self.send_response(202)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status": "started"}')

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", files, seen
    server.shutdown()
    server.server_close()


def stored(url: str) -> tuple[int, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        counts = tuple(
            conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("products", "interactions")
        )
    engine.dispose()
    return counts


def test_the_job_ingests_files_and_addresses_then_asks_for_a_rebuild(service, tmp_path, capsys):
    address, files, seen = service
    files["/files/events.csv.gz"] = gzip.compress(INTERACTIONS.encode())
    products = write(tmp_path / "products.csv", PRODUCTS)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    env = {
        "DATABASE_URL": url,
        "NIGHTLY_PRODUCTS": str(products),
        "NIGHTLY_INTERACTIONS": f"{address}/files/events.csv.gz",
        "NIGHTLY_REJECTS": str(tmp_path / "rejects"),
        "SERVICE_URL": address.removeprefix("http://"),  # host:port, as Render's private network gives it
        "ADMIN_TOKEN": "secret",
    }
    try:
        assert nightly.main([], env) == 0
        assert nightly.main([], env) == 0  # a second run stores nothing twice
    finally:
        schema._upgraded.clear()
    out = capsys.readouterr().out
    assert "7 rows read, 7 stored" in out and "13 rows read, 13 stored" in out
    assert "13 rows read, 0 stored, 13 already there" in out
    assert stored(url) == (7, 13)
    assert seen == [("/admin/reload", "Bearer secret")] * 2
    assert (tmp_path / "rejects" / "interactions-rejects.csv").exists()


def test_a_source_that_cannot_be_fetched_fails_before_any_rebuild(service, tmp_path, capsys):
    address, _, seen = service
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "NIGHTLY_INTERACTIONS": f"{address}/files/missing.csv",
        "SERVICE_URL": address,
        "ADMIN_TOKEN": "secret",
    }
    assert nightly.main([], env) == 1
    assert "could not be read" in capsys.readouterr().err
    assert seen == []


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "nothing to ingest"),
        ({"NIGHTLY_PRODUCTS": "p.csv", "SERVICE_URL": "http://x"}, "ADMIN_TOKEN is not"),
    ],
)
def test_usage_errors_exit_2(env, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        nightly.main([], env)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
