"""A request's one cache read (tasks.caching.read): what it asked for is answered from it, what
it did not ask for is not pretended, and on Redis the reads and the rate counter go in one
pipelined round trip whose count the rate limit takes instead of counting again."""

import pytest
from django.core.cache import cache

from tasks.caching.ratelimit import rate_hit, window
from tasks.caching.read import EMPTY, cache_read


@pytest.fixture(params=["locmem", "redis"])
def backend(request) -> str:
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return request.param


def test_a_read_answers_the_keys_it_asked_for_and_only_those(backend):
    cache.set("a", {"value": 1})
    read = cache_read(["a", "missing"])
    cache.set("a", 2)  # written after the read: the read keeps what it saw
    assert read.get_many(["a", "missing"]) == {"a": {"value": 1}}
    assert read.get("missing") is None
    assert read.get_many(["a", "b"]) is None  # "b" was not asked: the caller reads it itself


def test_on_redis_the_read_and_the_counter_are_one_round_trip(redis_cache, redis_round_trips):
    cache.set("a", 1)
    key, expire = window("api:user:test", "2/min")
    with redis_round_trips() as trips:
        read = cache_read(["a", "b"], [(key, expire)])
    assert trips.count == 1
    assert read.get_many(["a", "b"]) == {"a": 1}
    assert read.count(key) == 1


def test_a_counter_counted_in_the_read_is_not_counted_again(redis_cache):
    key, expire = window("api:user:test", "2/min")
    counted = cache_read([], [(key, expire)]).count(key)
    assert rate_hit("api:user:test", "2/min", counted=counted) is None  # the read's count: 1
    assert rate_hit("api:user:test", "2/min") is None  # 2
    assert rate_hit("api:user:test", "2/min") is not None  # 3: over the limit


def test_with_redis_gone_the_read_is_empty_and_nothing_fails(redis_cache):
    redis_cache.stop()
    read = cache_read(["a"], [("rate:x", 60)])
    assert read == EMPTY
    assert read.get_many(["a"]) is None
    assert rate_hit("x", "1/min") is None  # limits allow while the cache is away
