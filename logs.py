"""Logs operators can search: one line per request, and the service's own messages, as JSON
(LOG_FORMAT=json, the default under gunicorn) or as plain text (LOG_FORMAT=text).

A request's line carries its time, the worker's pid, request id (the client's X-Request-ID when
it sends a sane one, else a new one; echoed in the answer's X-Request-ID header), method, route
template, status, duration in ms, and where there is one, the answer's source (model or cache) and A/B
variant. Nothing from headers, bodies or query strings is logged, so no token or secret is.
"""

from __future__ import annotations

import atexit
import io
import logging
import os
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

REQUEST_ID = "recsys.request_id"  # environ keys the app fills in for the request's line
SOURCE = "recsys.source"
VARIANT = "recsys.variant"
SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

REQUEST_LOGGER = "recsys.request"
requests_log = logging.getLogger(REQUEST_LOGGER)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


class _Handler(logging.StreamHandler):
    """The service's handler on the root logger (one, however many apps a process makes)."""


def configure(log_format: str) -> None:
    """Send every log record to stderr in `log_format` ("json" or "text"), at INFO and above."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _Handler)), None)
    if handler is None:
        handler = _Handler(sys.stderr)
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)


class LineBuffer:
    """JSON lines of requests, written together at least every half second and at exit: a
    write per request would cost more than the rest of the line's work."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.target: Any = None  # where lines go; None: this process's stderr
        self._lines: list[bytes] = []
        self._lock = threading.Lock()
        self._pid: int | None = None

    def write(self, line: bytes) -> None:
        if self._pid != os.getpid():
            self._start()
        with self._lock:
            self._lines.append(line)

    def flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        if not lines:
            return
        target = self.target or sys.stderr
        data = b"".join(lines)
        if hasattr(target, "buffer"):
            target.flush()
            target = target.buffer
        try:
            target.write(data if isinstance(target, io.RawIOBase | io.BufferedIOBase) else data.decode())
            target.flush()
        except (OSError, ValueError):  # stderr closed: nowhere to log to
            pass

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._lines = []  # a parent's lines are the parent's to write
        threading.Thread(target=self._run, args=(self._pid,), name="request-log", daemon=True).start()
        atexit.register(self.flush)

    def _run(self, pid: int) -> None:
        while self._pid == pid:
            time.sleep(self.interval)
            self.flush()


def utc_now() -> str:
    """The time now in ISO 8601, to the millisecond, in UTC ("2026-01-02T03:04:05.678+00:00"): the
    date and time of day are formatted once a second (datetime's isoformat costs 3 us a line)."""
    now = time.time()
    second = int(now)
    seen, text = _SECOND
    if second != seen:
        text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _SECOND[:] = second, text
    return f"{text}.{int((now - second) * 1000):03d}+00:00"


_SECOND: list = [None, ""]  # the second utc_now() formatted last, and its text

LINES = LineBuffer()
PID = [os.getpid()]  # the worker a request line comes from (kept current across forks)
os.register_at_fork(after_in_child=lambda: PID.__setitem__(0, os.getpid()))


class RequestLog:
    """WSGI middleware: gives every request an id, echoes it, and logs the request's line (a
    JSON line through LINES, or a text record through the `recsys.request` logger); `observe`,
    if given, is told each request's route, method, status and seconds (the metrics)."""

    def __init__(
        self,
        wsgi_app: Callable[..., Iterable[bytes]],
        route_of: Callable[[dict], str],
        json_lines: bool,
        observe: Callable[[str, str, str, float], None] | None = None,
    ) -> None:
        self.wsgi_app = wsgi_app
        self.route_of = route_of
        self.json_lines = json_lines
        self.observe = observe

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        sent = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = environ[REQUEST_ID] = sent if SANE_ID.fullmatch(sent) else random.randbytes(16).hex()
        status = "500"

        def with_id(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal status
            status = line[:3]
            headers.append(("X-Request-ID", request_id))
            headers.append(("X-Content-Type-Options", "nosniff"))  # answers are what they say they are
            return start_response(line, headers, exc_info)

        body = self.wsgi_app(environ, with_id)
        seconds = time.perf_counter() - started
        method, route = environ.get("REQUEST_METHOD", ""), self.route_of(environ)
        if self.observe is not None:
            self.observe(route, method, status, seconds)
        duration_ms = round(seconds * 1000, 2)
        fields = {
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": int(status),
            "duration_ms": duration_ms,
        }
        if SOURCE in environ:
            fields["source"] = environ[SOURCE]
        if VARIANT in environ:
            fields["variant"] = environ[VARIANT]
        message = f"{method} {route} {status} {duration_ms} ms"
        if self.json_lines:
            head = {
                "time": utc_now(),
                "level": "INFO",
                "logger": REQUEST_LOGGER,
                "message": message,
                "pid": PID[0],
            }
            head.update(fields)
            LINES.write(orjson.dumps(head, option=orjson.OPT_APPEND_NEWLINE))
        elif requests_log.isEnabledFor(logging.INFO):
            requests_log.info(message, extra={"fields": fields})
        return body
