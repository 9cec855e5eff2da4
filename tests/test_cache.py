from __future__ import annotations

from recommender.serving.cache import Cache, Memory, digest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingRedis:
    """Wraps a client and counts the commands that reach it."""

    def __init__(self, client) -> None:
        self.client, self.calls = client, 0

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls += 1
            return getattr(self.client, name)(*args, **kwargs)

        return call


def test_miss_then_hit_with_ttl(fake_redis):
    cache = Cache(fake_redis, ttl_seconds=120, prefix="t:")
    assert cache.get("k") is None
    cache.set("k", b'{"results":[]}')
    assert cache.get("k") == b'{"results":[]}'
    assert 0 < fake_redis.ttl("t:k") <= 120
    assert cache.state == "ok"


def test_keys_are_deterministic_and_collision_proof():
    a = digest("v1", {"route": "user", "path": {"user_id": "a|top_k=5"}, "args": {}})
    b = digest("v1", {"route": "user", "path": {"user_id": "a"}, "args": {"top_k": "5"}})
    c = digest("v1", {"route": "user", "path": {"user_id": "a:b"}, "args": {}})
    d = digest("v1", {"route": "user:a", "path": {"user_id": "b"}, "args": {}})
    assert len({a, b, c, d}) == 4
    assert a == digest("v1", {"args": {}, "path": {"user_id": "a|top_k=5"}, "route": "user"})
    assert a != digest("v2", {"route": "user", "path": {"user_id": "a|top_k=5"}, "args": {}})


def test_disabled_cache_never_stores():
    cache = Cache(None, ttl_seconds=60)
    cache.set("k", b"1")
    assert cache.get("k") is None
    assert cache.state == "disabled" and cache.ping() == "disabled"


def test_outage_is_survived_and_backed_off(fake_server, fake_redis):
    clock = Clock()
    counting = CountingRedis(fake_redis)
    cache = Cache(counting, ttl_seconds=60, retry_after=1.0, max_retry_after=4.0, clock=clock)
    cache.set("k", b"before")
    fake_server.connected = False

    assert cache.get("k") is None  # fails once...
    assert cache.state == "unavailable"
    calls = counting.calls
    for _ in range(100):  # ...then skips Redis until the pause is over
        assert cache.get("k") is None
        cache.set("k", b"x")
    assert counting.calls == calls

    clock.now += 1.5  # retry: still down, so the pause doubles to 2 s
    assert cache.get("k") is None and counting.calls == calls + 1
    clock.now += 1.5
    assert cache.get("k") is None and counting.calls == calls + 1

    fake_server.connected = True
    clock.now += 1.0
    assert cache.get("k") == b"before"
    assert cache.state == "ok"


def test_pause_is_capped(fake_server, fake_redis):
    clock = Clock()
    cache = Cache(fake_redis, ttl_seconds=60, retry_after=1.0, max_retry_after=4.0, clock=clock)
    fake_server.connected = False
    for _ in range(10):
        cache.get("k")
        clock.now += 100
    assert cache._pause == 4.0


def test_a_workers_memory_keeps_its_latest_values_no_longer_than_the_ttl():
    clock = Clock()
    memory = Memory(2, ttl_seconds=60, clock=clock)
    for key in ("a", "b", "c"):
        memory.keep(key, key.upper())
    assert len(memory) == 2 and memory.get("a") is None  # the oldest went first
    assert memory.get("b") == "B" and memory.get("c") == "C"
    memory.keep("c", "C2")  # kept again: nothing else goes
    assert memory.get("b") == "B" and memory.get("c") == "C2"
    clock.now += 61
    assert memory.get("c") is None and len(memory) == 1


def test_a_memory_of_no_entries_keeps_nothing():
    memory = Memory(0, ttl_seconds=60)
    memory.keep("k", 1)
    assert memory.get("k") is None and len(memory) == 0
