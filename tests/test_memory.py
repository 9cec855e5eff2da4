"""Handing freed memory back: with glibc it calls malloc_trim; without one it does nothing."""

from __future__ import annotations

import ctypes
import platform

import pytest

from recommender import memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_with_glibc_malloc_trim_is_found():
    assert memory._trim is not None
    memory.release_freed()


def test_without_malloc_trim_it_does_nothing(monkeypatch):
    class NoTrim:  # a C library without malloc_trim (macOS, musl)
        def __init__(self, name: str) -> None:
            pass

        def __getattr__(self, name: str) -> object:
            raise AttributeError(name)

    monkeypatch.setattr(ctypes, "CDLL", NoTrim)
    assert memory._malloc_trim() is None
    monkeypatch.setattr(memory, "_trim", None)
    memory.release_freed()


def test_with_malloc_trim_it_gives_back_everything_it_can(monkeypatch):
    calls = []
    monkeypatch.setattr(memory, "_trim", calls.append)
    memory.release_freed()
    assert calls == [0]  # 0: keep no free padding at the top of the heap
