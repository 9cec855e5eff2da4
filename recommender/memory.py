"""Giving the memory a build has freed back to the system, between the build's stages."""

from __future__ import annotations

import ctypes
import ctypes.util


def _malloc_trim():  # type: ignore[no-untyped-def]
    """glibc's malloc_trim, or None where the C library has none (macOS, musl)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_trim = _malloc_trim()


def release_freed() -> None:
    """Hand the allocator's free pages back to the system (glibc; elsewhere it does nothing).

    A build frees gigabytes of temporary arrays and strings from one stage to the next. glibc
    keeps much of that for the process (free blocks among blocks still in use), so the next
    stage's peak would come on top of memory nothing uses any more.
    """
    if _trim is not None:
        _trim(0)
