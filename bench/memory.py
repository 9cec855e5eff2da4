"""Memory of a process and all its descendants, as Linux counts it in /proc (PSS: shared pages
are split between the processes that share them, so the sum is what the tree really holds)."""

from __future__ import annotations

import threading
from pathlib import Path


def descendants(pid: int) -> list[int]:
    """pid and every process under it."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                pass
    return found


def tree_pss_gb(pid: int) -> float:
    """Proportional set size of pid and its descendants together, in GB (1e9 bytes)."""
    total_kb = 0
    for process in descendants(pid):
        try:
            for line in Path(f"/proc/{process}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
        except OSError:  # it ended between the listing and the read
            pass
    return total_kb * 1024 / 1e9


class PeakSampler:
    """Samples tree_pss_gb(pid) every `interval` seconds in a thread; `.peak` is the largest seen."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, tree_pss_gb(self.pid))
