"""A build stage's work split between forked processes, one per core.

Forking is safe only from a single-threaded moment: a build at start or from the command line,
not a reload running beside a server's other threads (that one does the work in its own thread).
The forked processes see the parent's memory as it was, so nothing is sent to them but a number.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

WORKERS = os.cpu_count() or 1


def can_fork() -> bool:
    """True when this process may fork workers: one thread, and a system that forks."""
    single = threading.current_thread() is threading.main_thread() and threading.active_count() == 1
    return single and "fork" in multiprocessing.get_all_start_methods()


def fork_map(task: Callable[[Any], Any], args: Sequence[Any]) -> list[Any]:
    """[task(a) for a in args], each call in a forked process (as many as args, at most WORKERS);
    the results come back pickled. Call it only where can_fork()."""
    global _work
    _work = (task, args)  # the forked processes find it here
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(len(args), WORKERS), mp_context=context) as pool:
            return list(pool.map(_run, range(len(args))))
    finally:
        _work = None


_work: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def _run(index: int) -> Any:
    assert _work is not None
    task, args = _work
    return task(args[index])
