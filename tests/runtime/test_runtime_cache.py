"""The per-pod widget cache on its own: LRU bound, TTLs, negative entries, invalidation, the
stale-fill race, single-flight, suspension and stale-if-error. The loader is a fake, so each
test controls exactly when and what a "Redis read" returns."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from common.ids import new_id
from common.models.widget import Widget
from runtime_service.cache import WidgetSource, to_public
from runtime_service.public_widget import PublicWidget


def make_widget(widget_id: str, *, name: str = "v1", published: bool = True) -> PublicWidget:
    widget = Widget(
        id=widget_id,
        organization_id=new_id(),
        agent_id=new_id(),
        agent_version_id=new_id(),
        domains=[],
        published=published,
        config={"name": name},
        created_at="2025-01-01T00:00:00.000Z",
        updated_at="2025-01-01T00:00:00.000Z",
    )
    return to_public(msgspec.json.encode(widget))


class FakeStore:
    """A dict standing in for Redis, counting reads; ``gate`` holds reads until it is set."""

    def __init__(self) -> None:
        self.data: dict[str, PublicWidget] = {}
        self.reads: list[str] = []
        self.gate: asyncio.Event | None = None
        self.started = asyncio.Event()
        self.down = False

    async def load(self, widget_id: str) -> PublicWidget | None:
        self.reads.append(widget_id)
        # What the read returns is decided here, at its start, like a Redis GET executed
        # before a write that lands while the reply is still travelling.
        value = self.data.get(widget_id)
        down = self.down
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if down:
            raise RedisConnectionError("redis is down")
        return value

    def put(self, widget: PublicWidget) -> PublicWidget:
        self.data[widget.id] = widget
        return widget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def read_once(
    store: FakeStore, source: WidgetSource
) -> tuple[WidgetSource, PublicWidget]:
    """``source``, after one read of a new widget put in ``store`` (cached when it is live)."""
    widget = store.put(make_widget(new_id()))
    await source.get(widget.id)
    return source, widget


async def held_read(
    store: FakeStore, source: WidgetSource
) -> tuple[PublicWidget, asyncio.Task[PublicWidget | None], PublicWidget]:
    """A read of a widget named "old", held by the store after it has seen it, while the
    widget is written again as "new": ``(old, the read, new)``. ``store.gate`` releases it."""
    old = store.put(make_widget(new_id(), name="old"))
    store.gate = asyncio.Event()
    read = asyncio.create_task(source.get(old.id))
    await store.started.wait()
    new = store.put(make_widget(old.id, name="new"))
    return old, read, new


@pytest.fixture
def make_source(store: FakeStore, clock: Clock) -> Callable[..., WidgetSource]:
    def factory(
        max_size: int = 100, ttl: float = 300.0, negative_ttl: float = 5.0, live: bool = True
    ) -> WidgetSource:
        source = WidgetSource(
            store.load, max_size=max_size, ttl=ttl, negative_ttl=negative_ttl, clock=clock
        )
        if live:
            source.resume()
        return source

    return factory


async def test_hit_does_not_read_again(store: FakeStore, make_source) -> None:
    source = make_source()
    widget = store.put(make_widget(new_id()))
    assert await source.get(widget.id) is widget
    assert await source.get(widget.id) is widget
    assert store.reads == [widget.id]


async def test_hit_answers_only_fresh_cached_widgets(
    store: FakeStore, make_source, clock: Clock
) -> None:
    source = make_source(ttl=10.0)
    widget, unknown = store.put(make_widget(new_id())), new_id()
    assert source.hit(widget.id) is None  # never read: the caller falls back to get()
    await source.get(widget.id)
    await source.get(unknown)
    assert source.hit(widget.id) is widget
    assert source.hit(unknown) is None  # a negative entry is get()'s to answer
    source.invalidate(widget.id)
    assert source.hit(widget.id) is None
    await source.get(widget.id)
    clock.now += 10.0
    assert source.hit(widget.id) is None  # expired
    assert store.reads == [widget.id, unknown, widget.id]
    assert source.stats.hits == 1


async def test_malformed_id_never_reaches_the_loader(store: FakeStore, make_source) -> None:
    source = make_source()
    for bad in ["nope", "", new_id().upper(), new_id() + "x", "../" + new_id()[3:]]:
        assert await source.get(bad) is None
    assert store.reads == []


async def test_lru_bound_evicts_least_recently_used(store: FakeStore, make_source) -> None:
    source = make_source(max_size=2)
    a, b, c = (store.put(make_widget(new_id())) for _ in range(3))
    await source.get(a.id)
    await source.get(b.id)
    await source.get(a.id)  # a is now the most recently used
    await source.get(c.id)  # evicts b
    assert len(source) == 2
    store.reads.clear()
    await source.get(a.id)
    await source.get(c.id)
    assert store.reads == []
    await source.get(b.id)
    assert store.reads == [b.id]
    assert len(source) == 2


async def test_ttl_expiry_reads_again(store: FakeStore, make_source, clock: Clock) -> None:
    source, widget = await read_once(store, make_source(ttl=10.0))
    clock.now += 9.9
    await source.get(widget.id)
    assert len(store.reads) == 1
    newer = store.put(make_widget(widget.id, name="v2"))
    clock.now += 0.2
    assert await source.get(widget.id) is newer
    assert len(store.reads) == 2


async def test_negative_entries_have_their_own_ttl(
    store: FakeStore, make_source, clock: Clock
) -> None:
    source = make_source(ttl=300.0, negative_ttl=5.0)
    missing = new_id()
    for _ in range(20):
        assert await source.get(missing) is None
    assert store.reads == [missing]
    store.put(make_widget(missing))
    clock.now += 4.9
    assert await source.get(missing) is None
    clock.now += 0.2
    assert await source.get(missing) is not None
    assert store.reads == [missing, missing]


async def test_invalidate_drops_one_entry(store: FakeStore, make_source) -> None:
    source = make_source()
    a, b = store.put(make_widget(new_id())), store.put(make_widget(new_id()))
    await source.get(a.id)
    await source.get(b.id)
    newer = store.put(make_widget(a.id, name="v2"))
    source.invalidate(a.id)
    assert await source.get(a.id) is newer
    assert await source.get(b.id) is b
    assert store.reads == [a.id, b.id, a.id]


async def test_invalidate_drops_a_negative_entry(store: FakeStore, make_source) -> None:
    source = make_source()
    widget_id = new_id()
    assert await source.get(widget_id) is None
    created = store.put(make_widget(widget_id))
    source.invalidate(widget_id)
    assert await source.get(widget_id) is created


async def test_clear_drops_everything(store: FakeStore, make_source) -> None:
    source = make_source()
    ids = [store.put(make_widget(new_id())).id for _ in range(3)]
    for widget_id in ids:
        await source.get(widget_id)
    source.clear()
    assert len(source) == 0
    for widget_id in ids:
        await source.get(widget_id)
    assert len(store.reads) == 6


async def test_single_flight_concurrent_misses_share_one_read(
    store: FakeStore, make_source
) -> None:
    source = make_source()
    widget = store.put(make_widget(new_id()))
    store.gate = asyncio.Event()
    waiters = [asyncio.create_task(source.get(widget.id)) for _ in range(50)]
    await store.started.wait()
    store.gate.set()
    results = await asyncio.gather(*waiters)
    assert all(result is widget for result in results)
    assert store.reads == [widget.id]


async def test_single_flight_is_per_id(store: FakeStore, make_source) -> None:
    source = make_source()
    a, b = store.put(make_widget(new_id())), store.put(make_widget(new_id()))
    results = await asyncio.gather(*(source.get(w.id) for w in [a, b, a, b, a]))
    assert results == [a, b, a, b, a]
    assert sorted(store.reads) == sorted([a.id, b.id])


async def test_a_read_overtaken_by_an_invalidation_is_not_cached(
    store: FakeStore, make_source
) -> None:
    source = make_source()
    # The read has seen "old", then "new" is written...
    old, slow, new = await held_read(store, source)
    source.invalidate(old.id)  # ...and the write's event arrives before its reply
    store.gate.set()
    # The caller that asked before the event may get what was current when it asked,
    assert await slow is old
    # but the old value must not stay cached.
    store.gate = None
    assert await source.get(old.id) is new
    assert len(store.reads) == 2


async def test_a_get_after_an_invalidation_does_not_join_the_older_read(
    store: FakeStore, make_source
) -> None:
    source = make_source()
    old, first, new = await held_read(store, source)
    source.invalidate(old.id)
    second = asyncio.create_task(source.get(old.id))
    store.gate.set()
    assert await first is old
    assert await second is new
    assert await source.get(old.id) is new
    assert len(store.reads) == 2


async def test_a_read_overtaken_by_a_clear_is_not_cached(store: FakeStore, make_source) -> None:
    source = make_source()
    old, slow, new = await held_read(store, source)
    source.resume()  # a resubscription: everything read before it is suspect
    store.gate.set()
    await slow
    store.gate = None
    assert await source.get(old.id) is new


async def test_a_cancelled_caller_does_not_cancel_the_shared_read(
    store: FakeStore, make_source
) -> None:
    source = make_source()
    widget = store.put(make_widget(new_id()))
    store.gate = asyncio.Event()
    first = asyncio.create_task(source.get(widget.id))
    second = asyncio.create_task(source.get(widget.id))
    await store.started.wait()
    first.cancel()
    store.gate.set()
    assert await second is widget
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await source.get(widget.id) is widget
    assert store.reads == [widget.id]


async def test_nothing_is_cached_as_fresh_before_the_first_subscription(
    store: FakeStore, make_source
) -> None:
    source, widget = await read_once(store, make_source(live=False))
    await source.get(widget.id)
    assert len(store.reads) == 2
    source.resume()
    await source.get(widget.id)
    await source.get(widget.id)
    assert len(store.reads) == 3


async def test_suspended_cache_reads_redis_every_time(store: FakeStore, make_source) -> None:
    source, widget = await read_once(store, make_source())
    source.suspend()
    newer = store.put(make_widget(widget.id, name="v2"))
    assert await source.get(widget.id) is newer
    assert await source.get(widget.id) is newer
    assert len(store.reads) == 3


async def test_stale_if_error_only_when_redis_is_down(store: FakeStore, make_source) -> None:
    source = make_source()
    widget = store.put(make_widget(new_id()))
    unseen = new_id()
    await source.get(widget.id)
    source.suspend()
    store.down = True
    assert await source.get(widget.id) is widget
    with pytest.raises(RedisConnectionError):
        await source.get(unseen)
    store.down = False
    newer = store.put(make_widget(widget.id, name="v2"))
    assert await source.get(widget.id) is newer


async def test_an_expired_entry_is_a_stale_copy_during_an_outage(
    store: FakeStore, make_source, clock: Clock
) -> None:
    source, widget = await read_once(store, make_source(ttl=10.0))
    clock.now += 60
    store.down = True
    assert await source.get(widget.id) is widget


async def test_an_invalidated_entry_is_not_served_during_an_outage(
    store: FakeStore, make_source
) -> None:
    source, widget = await read_once(store, make_source())
    source.invalidate(widget.id)
    store.down = True
    with pytest.raises(RedisConnectionError):
        await source.get(widget.id)


async def test_a_negative_entry_is_not_a_stale_copy(
    store: FakeStore, make_source, clock: Clock
) -> None:
    source = make_source()
    missing = new_id()
    assert await source.get(missing) is None
    clock.now += 60
    store.down = True
    with pytest.raises(RedisConnectionError):
        await source.get(missing)


async def test_resume_forgets_stale_copies(store: FakeStore, make_source) -> None:
    source, widget = await read_once(store, make_source())
    source.suspend()
    source.resume()
    store.down = True
    with pytest.raises(RedisConnectionError):
        await source.get(widget.id)


async def test_a_deleted_widget_leaves_no_stale_copy(store: FakeStore, make_source) -> None:
    source, widget = await read_once(store, make_source())
    source.suspend()
    del store.data[widget.id]
    assert await source.get(widget.id) is None
    store.down = True
    with pytest.raises(RedisConnectionError):
        await source.get(widget.id)


async def test_unpublished_widgets_are_returned(store: FakeStore, make_source) -> None:
    source = make_source()
    draft = store.put(make_widget(new_id(), published=False))
    got = await source.get(draft.id)
    assert got is draft and not got.published


async def test_aclose_cancels_reads_in_flight(store: FakeStore, make_source) -> None:
    source = make_source()
    widget = store.put(make_widget(new_id()))
    store.gate = asyncio.Event()
    waiter = asyncio.create_task(source.get(widget.id))
    await store.started.wait()
    await source.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(source) == 0
