from __future__ import annotations

from recommender.serving.signal import ChangeSignal


def test_a_bump_is_seen_once_by_every_reader(tmp_path):
    writer = ChangeSignal(tmp_path / "s")
    reader = ChangeSignal(tmp_path / "s", max_age=3600)  # another process, in effect
    assert reader.should_look() is True  # nothing seen yet
    assert reader.should_look() is False
    writer.bump()
    assert reader.should_look() is True
    assert reader.should_look() is False


def test_readers_look_again_after_max_age(tmp_path, monkeypatch):
    reader = ChangeSignal(tmp_path / "s", max_age=1.0)
    clock = iter([100.0, 100.5, 101.5])
    monkeypatch.setattr("recommender.serving.signal.time.monotonic", lambda: next(clock))
    assert [reader.should_look(), reader.should_look(), reader.should_look()] == [True, False, True]


def test_an_existing_file_keeps_its_token(tmp_path):
    first = ChangeSignal(tmp_path / "s")
    first.bump()
    token = (tmp_path / "s").read_bytes()
    ChangeSignal(tmp_path / "s")
    assert (tmp_path / "s").read_bytes() == token
