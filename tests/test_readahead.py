"""The read-ahead: keys read up front are served once from the batch, everything else (and every
second read) goes to the cache, and a write during the request drops the batch's copy."""

import pytest
from django.core.cache import cache, caches

from portal.cache import RedisCache
from tasks.caching import readahead
from tasks.caching.ratelimit import rate_hit, window


def test_keys_read_ahead_are_served_once_then_from_the_cache():
    cache.set("a", 1)
    with readahead.readahead(["a", "missing"]):
        cache.set("a", 2)  # another process writes after the batch was read
        assert readahead.get_many(["a", "missing"]) == {"a": 1}
        assert readahead.get("a") == 2  # a second read asks the cache again


def test_keys_not_read_ahead_fall_through_to_the_cache():
    cache.set("b", "value")
    with readahead.readahead(["a"]):
        assert readahead.get_many(["a", "b"]) == {"b": "value"}
    assert readahead.get("b") == "value"  # and with no batch at all


def test_a_forgotten_key_is_read_again():
    cache.set("a", 1)
    with readahead.readahead(["a"]):
        cache.set("a", 2)
        readahead.forget("a")
        assert readahead.get("a") == 2


def test_batches_nest_and_end_with_their_block():
    cache.set("a", "outer")
    with readahead.readahead(["a"]):
        cache.set("a", "inner")
        with readahead.readahead(["a"]):
            assert readahead.get("a") == "inner"
        assert readahead.get("a") == "outer"
    assert readahead.get("a") == "inner"


@pytest.mark.skipif(
    not isinstance(caches["default"], RedisCache), reason="counters are read ahead on Redis only"
)
def test_a_counter_counted_ahead_is_not_counted_again():
    key, expire = window("api:user:test", "2/min")
    with readahead.readahead([], counters=[(key, expire)]):
        assert rate_hit("api:user:test", "2/min") is None  # the batch's count: 1
    assert rate_hit("api:user:test", "2/min") is None  # 2
    assert rate_hit("api:user:test", "2/min") is not None  # 3: over the limit


@pytest.mark.django_db
def test_a_failed_plan_only_costs_the_speed_up(client, bob, sim_project, monkeypatch):
    from tasks.caching import memo
    from vassim.simulator import SEED_TASK_ID

    def broken(*args, **kwargs):
        raise RuntimeError("planning bug")

    monkeypatch.setattr(memo, "session_guess", broken)
    client.force_login(bob)
    url = f"/projects/{sim_project.public_id}/services/c-face-edge/tasks/{SEED_TASK_ID}/"
    assert client.get(url).status_code == 200
