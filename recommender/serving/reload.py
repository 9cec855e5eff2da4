"""The model in use, and rebuilding it while it keeps serving.

Every process of a deployment that shares one artifacts folder follows its CURRENT file: the name
of the model folder to serve. A rebuild writes the new folder, then CURRENT, then bumps
MODEL_SIGNAL (signal.py); each process of that machine sees the bump on its next request (a read
of 8 mapped bytes), and every process looks at CURRENT at least once a second (one stat call), so
a replica on another machine sharing the folder switches within a second. A process switches to
the new model with one assignment, so a request is answered entirely by one model or the other.
RELOAD.json tells every process how the last rebuild went.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from recommender.serving.artifacts import load, save
from recommender.serving.build_lock import BuildLock
from recommender.serving.service import Recommender
from recommender.serving.signal import ChangeSignal

log = logging.getLogger(__name__)


class LiveModel:
    """The current Recommender of this process, switched when CURRENT names another one."""

    def __init__(self, model: Recommender, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.pointer = self.directory / "CURRENT"
        self._pointer = str(self.pointer)
        self._model = model
        self._seen: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self.news = ChangeSignal(self.directory / "MODEL_SIGNAL")  # bumped after each publish
        self.publish(model)

    def current(self) -> Recommender:
        """The model to answer with: this process's, or the one a rebuild published since."""
        if not self.news.should_look():  # nothing published on this machine, looked within a second
            return self._model
        try:
            stat = os.stat(self._pointer)  # os.stat of a str, not Path.stat
        except OSError:
            return self._model
        seen = (stat.st_ino, stat.st_mtime_ns)  # a publish replaces the file: a new inode
        if seen != self._seen:
            with self._lock:
                if seen != self._seen:
                    self._follow(seen)
        return self._model

    def publish(self, model: Recommender) -> None:
        """Make `model` (saved in the folder) the one every process serves."""
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.pointer, model.version)
        self._model = model
        self._seen = None
        self.news.bump()  # after CURRENT: a process that sees the bump reads the new CURRENT

    def _follow(self, seen: tuple[int, int]) -> None:
        version = self.pointer.read_text().strip()
        self._seen = seen
        if version and version != self._model.version:
            try:
                self._model = load(self.directory / version)
                log.info("switched to model %s", version)
            except (OSError, ValueError, KeyError) as exc:
                log.error("cannot load published model %s, keeping %s: %s", version, self._model.version, exc)


class Reloader:
    """Rebuilds in a background thread, one rebuild at a time (across processes with a `lock`);
    the old model serves meanwhile."""

    def __init__(self, live: LiveModel, lock: BuildLock | None = None) -> None:
        self.live = live
        self.lock = lock
        self.status_file = live.directory / "RELOAD.json"
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, build: Callable[[], Recommender]) -> bool:
        """Start a rebuild; False if one is already running here, or in another process that
        shares the lock."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            if self.lock is not None and not self.lock.acquire():
                return False
            self._report("running", previous=self.live.current().version)
            self._thread = threading.Thread(target=self._run, args=(build,), name="model-reload", daemon=True)
            self._thread.start()
            return True

    def status(self) -> dict:
        try:
            return json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {"state": "idle"}

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, build: Callable[[], Recommender]) -> None:
        try:
            self._rebuild(build)
        finally:
            if self.lock is not None:
                self.lock.release()

    def _rebuild(self, build: Callable[[], Recommender]) -> None:
        previous = self.live.current().version
        started = time.perf_counter()
        log.info("reload started: rebuilding model %s from the inputs", previous)
        try:
            model = build()
            save(model, self.live.directory)
            self.live.publish(model)
        except Exception as exc:  # any failure leaves the old model serving, and says why
            log.error("reload failed, model %s keeps serving:\n%s", previous, traceback.format_exc())
            self._report("failed", previous=previous, error=str(exc) or type(exc).__name__)
            return
        seconds = round(time.perf_counter() - started, 1)
        log.info("reload done: model %s replaces %s, in %.1f s", model.version, previous, seconds)
        self._report("done", previous=previous, version=model.version, seconds=seconds)

    def _report(self, state: str, **fields: object) -> None:
        status = {
            "state": state,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "pid": os.getpid(),
        }
        _write_atomically(self.status_file, json.dumps({**status, **fields}))


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(text)
    os.replace(temporary, path)
