from __future__ import annotations

from recommender.serving.cache import Cache, digest


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


def test_a_repeated_answer_comes_from_the_workers_memory_without_a_round_trip(fake_redis):
    clock = Clock()
    counting = CountingRedis(fake_redis)
    cache = Cache(counting, ttl_seconds=60, clock=clock, local_entries=2)
    cache.set("a", b"A")
    calls = counting.calls
    assert [cache.get("a") for _ in range(5)] == [b"A"] * 5 and counting.calls == calls
    other = Cache(counting, ttl_seconds=60, clock=clock, local_entries=2)  # another worker
    assert other.get("a") == b"A" and counting.calls == calls + 1  # from Redis, then kept
    assert other.get("a") == b"A" and counting.calls == calls + 1


def test_kept_answers_are_few_and_live_no_longer_than_the_ttl(fake_redis):
    clock = Clock()
    counting = CountingRedis(fake_redis)
    cache = Cache(counting, ttl_seconds=60, clock=clock, local_entries=2)
    for key in ("a", "b", "c"):
        cache.set(key, key.encode())
    assert len(cache._local) == 2 and "a" not in cache._local  # the oldest went first
    clock.now += 61
    fake_redis.flushall()  # Redis's copies have expired too
    assert cache.get("c") is None and "c" not in cache._local


def test_a_kept_answer_serves_while_redis_is_away(fake_server, fake_redis):
    cache = Cache(fake_redis, ttl_seconds=60, local_entries=10)
    cache.set("k", b"kept")
    fake_server.connected = False
    assert cache.get("k") == b"kept" and cache.get("other") is None


def test_no_answer_is_kept_when_the_cache_is_off():
    cache = Cache(None, ttl_seconds=60, local_entries=10)
    cache.set("k", b"1")
    assert cache.get("k") is None and cache._local == {}
