"""The /core/webhooks API against a real redis-server: endpoints (CRUD, limit, validation and
egress refusals), secrets (shown once, rotation), test sends and retries on the events stream,
the deliveries list over records written in the worker's format, and widget.updated /
widget.deleted after widget writes. Names resolve through a table (tests/support/resolver.py)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from redis.asyncio import Redis

from common.ids import new_id
from common.models.webhooks import EVENT_TYPES, StoredDelivery, StoredEndpoint
from common.redis_keys import RedisKeys
from common.settings import Settings
from common.timeutil import ms_from_iso, now_ms
from management_service import webhook_egress
from management_service.app import create_app
from management_service.webhook_store import MAX_ENDPOINTS, MAX_SECRETS, ROTATION_OVERLAP_MS
from tests.support.resolver import FakeResolver
from tests.support.settings import OrgFactory
from tests.support.webhooks import event_payload, write_delivery
from tests.support.widget_helpers import create_widget, expect, issue

URL = "/core/webhooks"
PUBLIC_IP = "93.184.215.14"
GOOD = "https://hooks.example.com/anyreach"
ANSWERS = {
    "hooks.example.com": [PUBLIC_IP],
    "internal.example.com": ["10.0.0.7"],
    "mixed.example.com": [PUBLIC_IP, "192.168.1.20"],
    "metadata.example.com": ["169.254.169.254"],
    "loop.example.com": ["127.0.0.1"],
}
ENDPOINT_FIELDS = {"id", "organization_id", "url", "events", "description", "enabled",
                   "disabled_reason", "created_at", "updated_at"}
SECRET = re.compile(r"^whsec_([A-Za-z0-9+/]{32})$")
_STORED = msgspec.json.Decoder(StoredEndpoint)


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's resolver answers from ANSWERS (unknown names: no addresses); set before any
    app starts, as the resolver is made in its cleanup context."""
    monkeypatch.setattr(webhook_egress, "DefaultResolver", lambda: FakeResolver(ANSWERS))


@pytest.fixture
async def client(fake_dns: None, management_client: Any) -> Any:
    return management_client


@pytest.fixture
async def dev_client(
    fake_dns: None, aiohttp_client: Any, settings_factory: Callable[..., Settings]
) -> Any:
    """The management app with WEBHOOK_ALLOW_PRIVATE=true (same Redis)."""
    return await aiohttp_client(create_app(settings_factory(webhook_allow_private="true")))


async def create(client: Any, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    resp = await client.post(URL, json={"url": GOOD, **body}, headers=headers)
    return await expect(resp, 201)  # type: ignore[no-any-return]


async def stored(redis: Redis, keys: RedisKeys, endpoint_id: str) -> StoredEndpoint:
    raw = await redis.get(keys.webhook(endpoint_id))
    assert raw is not None
    return _STORED.decode(raw)


async def stream(redis: Redis, keys: RedisKeys) -> list[dict[str, str]]:
    entries = await redis.xrange(keys.events_stream())
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


# --- create, read, list ------------------------------------------------------------------------


async def test_create_shows_the_secret_once_and_never_again(
    client: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    org_id, headers = org
    resp = await client.post(URL, json={"url": GOOD, "events": ["conversation.ended"],
                                        "description": "CRM"}, headers=headers)
    created = await expect(resp, 201)
    assert resp.headers["Cache-Control"] == "no-store"
    assert set(created) == ENDPOINT_FIELDS | {"secret"}
    match = SECRET.match(created["secret"])
    assert match and len(base64.b64decode(match.group(1))) == 24
    assert created["organization_id"] == org_id and created["url"] == GOOD
    assert created["events"] == ["conversation.ended"] and created["enabled"] is True
    assert created["disabled_reason"] is None
    assert created["created_at"] == created["updated_at"]
    # The worker reads the record: the secret is there, newest first, with no expiry.
    record = await stored(redis, keys, created["id"])
    assert [s.secret for s in record.secrets] == [created["secret"]]
    assert record.secrets[0].expires_ms is None
    members = await redis.zrange(keys.org_webhooks(org_id), 0, -1)
    assert members == [f"{ms_from_iso(created['created_at']):013d}:{created['id']}".encode()]

    got = await expect(await client.get(f"{URL}/{created['id']}", headers=headers), 200)
    listed = await expect(await client.get(URL, headers=headers), 200)
    assert got == {k: v for k, v in created.items() if k != "secret"} == listed[0]
    for body in (got, listed):
        assert created["secret"] not in msgspec.json.encode(body).decode()


async def test_defaults_and_events_deduplicated(
    client: Any, org: tuple[str, dict[str, str]]
) -> None:
    created = await create(client, org[1])
    assert created["events"] == [] and created["description"] == "" and created["enabled"]
    twice = await create(client, org[1], events=["widget.updated", "widget.updated"],
                         enabled=False)
    assert twice["events"] == ["widget.updated"] and twice["enabled"] is False
    every = await create(client, org[1], events=list(EVENT_TYPES))
    assert every["events"] == list(EVENT_TYPES)


async def test_list_pages_newest_first(client: Any, org: tuple[str, dict[str, str]]) -> None:
    made = [await create(client, org[1], description=str(n)) for n in range(5)]
    # Newest first; two made in the same millisecond are ordered by id.
    ids = [m["id"] for m in sorted(made, key=lambda m: (m["created_at"], m["id"]))]
    seen: list[str] = []
    cursor = None
    for size in (2, 2, 1):
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        resp = await client.get(URL + query, headers=org[1])
        page = await expect(resp, 200)
        assert len(page) == size
        seen += [item["id"] for item in page]
        cursor = resp.headers.get("X-Next-Cursor")
    assert cursor is None
    assert seen == ids[::-1]
    bad = await expect(await client.get(URL + "?cursor=!!", headers=org[1]), 422)
    assert issue(bad)["loc"] == ["query", "cursor"]


async def test_idempotent_create_replays_the_same_endpoint(
    client: Any, org: tuple[str, dict[str, str]]
) -> None:
    headers = {**org[1], "Idempotency-Key": new_id()}
    first = await client.post(URL, json={"url": GOOD}, headers=headers)
    again = await client.post(URL, json={"url": GOOD}, headers=headers)
    assert await expect(first, 201) == await expect(again, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(await expect(await client.get(URL, headers=org[1]), 200)) == 1


async def test_at_most_the_limit_of_endpoints_per_organization(
    client: Any, org: tuple[str, dict[str, str]], org_with_key: OrgFactory
) -> None:
    made = [await create(client, org[1]) for _ in range(MAX_ENDPOINTS)]
    refused = await expect(await client.post(URL, json={"url": GOOD}, headers=org[1]), 409)
    assert str(MAX_ENDPOINTS) in refused["detail"]
    # Another organization has its own allowance.
    await create(client, (await org_with_key())[1])
    await expect_204(await client.delete(f"{URL}/{made[0]['id']}", headers=org[1]))
    await create(client, org[1])


# --- validation and egress ---------------------------------------------------------------------


@pytest.mark.parametrize(("body", "loc", "words"), [
    ({}, ["body", "url"], "required"),
    ({"url": None}, ["body", "url"], "Expected `str`"),
    ({"url": "hooks.example.com/x"}, ["body", "url"], "absolute"),
    ({"url": "ftp://hooks.example.com/x"}, ["body", "url"], "scheme"),
    ({"url": "http://hooks.example.com/x"}, ["body", "url"], "use https"),
    ({"url": "https://u:p@hooks.example.com/x"}, ["body", "url"], "credentials"),
    ({"url": "https://hooks.example.com/" + "x" * 2048}, ["body", "url"], "2048"),
    ({"url": GOOD, "events": ["conversation.ended", "nope"]}, ["body", "events", 1],
     "Unknown event type"),
    ({"url": GOOD, "events": ["webhook.test"]}, ["body", "events", 0], "Unknown event type"),
    ({"url": GOOD, "events": "conversation.ended"}, ["body", "events"], "Expected `array`"),
    ({"url": GOOD, "description": "d" * 501}, ["body", "description"], "length <= 500"),
    ({"url": GOOD, "enabled": "yes"}, ["body", "enabled"], "Expected `bool`"),
    ({"url": GOOD, "secret": "whsec_mine"}, ["body", "secret"], "Extra fields"),
])
async def test_invalid_bodies_are_422_at_the_field(
    client: Any, org: tuple[str, dict[str, str]], body: dict[str, Any], loc: list[Any],
    words: str,
) -> None:
    error = issue(await expect(await client.post(URL, json=body, headers=org[1]), 422))
    assert error["loc"] == loc and words in error["msg"], error
    assert await expect(await client.get(URL, headers=org[1]), 200) == []


@pytest.mark.parametrize(("url", "words"), [
    ("https://127.0.0.1/hook", "127.0.0.1 is a loopback or private address"),
    ("https://[::1]/hook", "loopback or private"),
    ("https://loop.example.com/hook", "loop.example.com resolves to 127.0.0.1"),
    ("https://internal.example.com/hook", "internal.example.com resolves to 10.0.0.7"),
    ("https://mixed.example.com/hook", "resolves to 192.168.1.20"),
    ("https://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("https://metadata.example.com/", "cloud metadata"),
    ("https://nowhere.example.com/", "has no addresses"),
])
async def test_egress_refusals_at_registration(
    client: Any, org: tuple[str, dict[str, str]], url: str, words: str
) -> None:
    error = issue(await expect(await client.post(URL, json={"url": url}, headers=org[1]), 422))
    assert error["loc"] == ["body", "url"]
    assert error["msg"].startswith("Webhook URL refused: ") and words in error["msg"], error


async def test_private_targets_only_with_the_flag_and_metadata_never(
    dev_client: Any, org: tuple[str, dict[str, str]]
) -> None:
    for url in ("http://127.0.0.1:8080/hook", "http://loop.example.com:9000/",
                "https://internal.example.com/hook", "http://[::1]:8080/"):
        await create(dev_client, org[1], url=url)
    for url in ("http://169.254.169.254/", "http://metadata.example.com/",
                "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/",
                "http://100.100.100.200/", "http://[fe80::1]/"):
        resp = await dev_client.post(URL, json={"url": url}, headers=org[1])
        assert "cloud metadata" in issue(await expect(resp, 422))["msg"], url


# --- update, rotate, delete --------------------------------------------------------------------


async def test_put_replaces_only_present_fields(
    client: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    created = await create(client, org[1], events=["conversation.started"], description="a")
    path = f"{URL}/{created['id']}"
    noop = await expect(await client.put(path, json={}, headers=org[1]), 200)
    assert noop["updated_at"] == created["updated_at"]
    changed = await expect(await client.put(path, json={"description": "b"}, headers=org[1]), 200)
    assert changed["description"] == "b" and changed["events"] == ["conversation.started"]
    assert changed["url"] == GOOD and changed["updated_at"] >= created["updated_at"]
    changed = await expect(await client.put(
        path, json={"events": [], "url": "https://hooks.example.com/v2"}, headers=org[1]), 200)
    assert changed["events"] == [] and changed["url"] == "https://hooks.example.com/v2"
    assert changed["description"] == "b"
    # The secret is untouched by a PUT, and never shown by it.
    assert (await stored(redis, keys, created["id"])).secrets[0].secret == created["secret"]
    assert "secret" not in changed
    assert await expect(await client.get(path, headers=org[1]), 200) == changed


@pytest.mark.parametrize(("body", "loc"), [
    ({"url": None}, ["body", "url"]),
    ({"enabled": None}, ["body", "enabled"]),
    ({"url": "https://internal.example.com/"}, ["body", "url"]),
    ({"url": "https://169.254.169.254/"}, ["body", "url"]),
    ({"events": ["conversation.ended", "bogus"]}, ["body", "events", 1]),
    ({"description": "x" * 501}, ["body", "description"]),
])
async def test_put_validation(
    client: Any, org: tuple[str, dict[str, str]], body: dict[str, Any], loc: list[Any]
) -> None:
    created = await create(client, org[1])
    path = f"{URL}/{created['id']}"
    assert issue(await expect(await client.put(path, json=body, headers=org[1]), 422))["loc"] == loc
    unchanged = {k: v for k, v in created.items() if k != "secret"}
    assert await expect(await client.get(path, headers=org[1]), 200) == unchanged


async def test_re_enabling_clears_the_workers_disabled_reason(
    client: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    created = await create(client, org[1])
    # As the worker disables an endpoint after a 410 Gone.
    record = await stored(redis, keys, created["id"])
    record.enabled, record.disabled_reason = False, "The endpoint answered 410 Gone"
    await redis.set(keys.webhook(created["id"]), msgspec.json.encode(record))
    path = f"{URL}/{created['id']}"
    got = await expect(await client.get(path, headers=org[1]), 200)
    assert got["enabled"] is False and got["disabled_reason"] == "The endpoint answered 410 Gone"
    still = await expect(await client.put(path, json={"description": "x"}, headers=org[1]), 200)
    assert still["disabled_reason"] == "The endpoint answered 410 Gone"
    enabled = await expect(await client.put(path, json={"enabled": True}, headers=org[1]), 200)
    assert enabled["enabled"] is True and enabled["disabled_reason"] is None


async def test_rotation_keeps_the_old_secret_for_24_hours(
    client: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    created = await create(client, org[1])
    before = now_ms()
    resp = await client.post(f"{URL}/{created['id']}/rotate-secret", headers=org[1])
    rotated = await expect(resp, 200)
    after = now_ms()
    assert resp.headers["Cache-Control"] == "no-store"
    assert SECRET.match(rotated["secret"]) and rotated["secret"] != created["secret"]
    assert rotated["id"] == created["id"]
    record = await stored(redis, keys, created["id"])
    assert [s.secret for s in record.secrets] == [rotated["secret"], created["secret"]]
    assert record.secrets[0].expires_ms is None
    expiry = record.secrets[1].expires_ms
    assert expiry is not None
    assert before + ROTATION_OVERLAP_MS <= expiry <= after + ROTATION_OVERLAP_MS
    got = await expect(await client.get(f"{URL}/{created['id']}", headers=org[1]), 200)
    assert "secret" not in got and created["secret"] not in str(got)

    # A second rotation keeps the first old secret's expiry (it does not get a fresh 24 h).
    third = await expect(await client.post(f"{URL}/{created['id']}/rotate-secret",
                                           headers=org[1]), 200)
    record = await stored(redis, keys, created["id"])
    assert [s.secret for s in record.secrets] == [third["secret"], rotated["secret"],
                                                  created["secret"]]
    assert record.secrets[2].expires_ms == expiry


async def test_expired_secrets_are_pruned_and_live_ones_capped(
    client: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    created = await create(client, org[1])
    path = f"{URL}/{created['id']}"
    await client.post(path + "/rotate-secret", headers=org[1])
    record = await stored(redis, keys, created["id"])
    record.secrets[1].expires_ms = now_ms() - 1  # its 24 hours are over
    await redis.set(keys.webhook(created["id"]), msgspec.json.encode(record))
    await expect(await client.put(path, json={"description": "any write"}, headers=org[1]), 200)
    assert len((await stored(redis, keys, created["id"])).secrets) == 1
    for _ in range(MAX_SECRETS + 2):
        newest = await expect(await client.post(path + "/rotate-secret", headers=org[1]), 200)
    record = await stored(redis, keys, created["id"])
    assert len(record.secrets) == MAX_SECRETS
    assert record.secrets[0].secret == newest["secret"]


async def test_delete_removes_the_record_its_entry_and_its_deliveries(
    client: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    created = await create(client, org[1])
    kept = await create(client, org[1])
    endpoint_id = created["id"]
    for n in range(3):
        await write_delivery(redis, keys, endpoint_id, f"dlv_{n}", 1_700_000_000_000 + n)
    await write_delivery(redis, keys, kept["id"], "dlv_kept", 1_700_000_000_000)
    await expect_204(await client.delete(f"{URL}/{endpoint_id}", headers=org[1]))
    await expect(await client.get(f"{URL}/{endpoint_id}", headers=org[1]), 404)
    await expect(await client.delete(f"{URL}/{endpoint_id}", headers=org[1]), 404)
    assert [item["id"] for item in await expect(await client.get(URL, headers=org[1]), 200)] \
        == [kept["id"]]
    leftovers = [key async for key in redis.scan_iter(match=f"*{{h:{endpoint_id}}}*")]
    assert leftovers == []
    assert await redis.zcard(keys.webhook_deliveries(kept["id"])) == 1


async def expect_204(resp: Any) -> None:
    assert resp.status == 204, await resp.text()


# --- deliveries --------------------------------------------------------------------------------


async def test_deliveries_page_newest_first_without_payloads(
    client: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    created = await create(client, org[1])
    endpoint_id = created["id"]
    base = 1_767_225_600_000
    ids = [f"dlv_{n:02d}" for n in range(7)]
    for n, delivery_id in enumerate(ids):
        await write_delivery(redis, keys, endpoint_id, delivery_id, base + n * 1000)
    # Two on the same millisecond: the id breaks the tie, and paging neither skips nor repeats.
    await write_delivery(redis, keys, endpoint_id, "dlv_07b", base + 6000)
    ids.append("dlv_07b")
    # An index entry whose record is not there (yet): skipped.
    await redis.zadd(keys.webhook_deliveries(endpoint_id), {f"{base + 3500:013d}:dlv_ghost": 0})
    path = f"{URL}/{endpoint_id}/deliveries"
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        resp = await client.get(path + "?limit=3" + (f"&cursor={cursor}" if cursor else ""),
                                headers=org[1])
        page = await expect(resp, 200)
        assert len(page) <= 3
        seen += page
        cursor = resp.headers.get("X-Next-Cursor")
        if cursor is None:
            break
    expected = sorted(ids, key=lambda d: (base + (6000 if d == "dlv_07b" else
                                                  int(d[4:6]) * 1000), d), reverse=True)
    assert [item["id"] for item in seen] == expected
    assert set(seen[0]) == {f for f in StoredDelivery.__struct_fields__ if f != "payload"}
    assert seen[0]["last_status_code"] == 500 and seen[0]["attempts"] == 2
    bad = await expect(await client.get(path + "?cursor=%25%25", headers=org[1]), 422)
    assert issue(bad)["loc"] == ["query", "cursor"]
    await expect(await client.get(f"{URL}/{new_id()}/deliveries", headers=org[1]), 404)


async def test_test_send_queues_a_targeted_webhook_test_event(
    client: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    org_id, headers = org
    created = await create(client, headers, events=["conversation.ended"])
    queued = await expect(await client.post(f"{URL}/{created['id']}/test", headers=headers), 202)
    assert queued == {"endpoint_id": created["id"], "event_id": queued["event_id"],
                      "event_type": "webhook.test", "retry_of": None}
    assert queued["event_id"].startswith("evt_")
    [entry] = await stream(redis, keys)
    assert entry.pop("retry_of", None) is None
    event = msgspec.json.decode(entry.pop("data"))
    assert entry == {"id": queued["event_id"], "type": "webhook.test",
                     "organization_id": org_id, "web_widget_id": "", "conversation_id": "",
                     "endpoint_id": created["id"]}
    assert event["id"] == queued["event_id"] and event["type"] == "webhook.test"
    assert event["data"] == {"endpoint_id": created["id"], "organization_id": org_id}
    assert ms_from_iso(event["timestamp"]) <= now_ms()

    await client.put(f"{URL}/{created['id']}", json={"enabled": False}, headers=headers)
    refused = await expect(await client.post(f"{URL}/{created['id']}/test", headers=headers), 409)
    assert "disabled" in refused["detail"]
    assert len(await stream(redis, keys)) == 1


async def test_retry_queues_the_original_event_again(
    client: Any, org: tuple[str, dict[str, str]], redis: Redis, keys: RedisKeys
) -> None:
    org_id, headers = org
    created = await create(client, headers)
    other = await create(client, headers)
    payload = event_payload("evt_original")
    await write_delivery(redis, keys, created["id"], "dlv_1", now_ms(), payload)
    await write_delivery(redis, keys, other["id"], "dlv_other", now_ms())
    path = f"{URL}/{created['id']}/deliveries"
    queued = await expect(await client.post(f"{path}/dlv_1/retry", headers=headers), 202)
    assert queued == {"endpoint_id": created["id"], "event_id": "evt_original",
                      "event_type": "conversation.ended", "retry_of": "dlv_1"}
    [entry] = await stream(redis, keys)
    data = msgspec.json.decode(payload)["data"]
    assert entry == {"id": "evt_original", "type": "conversation.ended",
                     "organization_id": org_id, "web_widget_id": data["web_widget_id"],
                     "conversation_id": data["id"], "data": payload,
                     "endpoint_id": created["id"], "retry_of": "dlv_1"}

    # Unknown, malformed and another endpoint's deliveries are all simply not found.
    for delivery_id in ("dlv_nope", "dlv_other", "a" * 101, "dlv.1"):
        await expect(await client.post(f"{path}/{delivery_id}/retry", headers=headers), 404)
    await client.put(f"{URL}/{created['id']}", json={"enabled": False}, headers=headers)
    await expect(await client.post(f"{path}/dlv_1/retry", headers=headers), 409)
    assert len(await stream(redis, keys)) == 1


# --- scope and isolation -----------------------------------------------------------------------


def routes(endpoint_id: str) -> list[tuple[str, str, Any]]:
    one = f"{URL}/{endpoint_id}"
    return [
        ("GET", URL, None), ("POST", URL, {"url": GOOD}), ("GET", one, None),
        ("PUT", one, {"description": "x"}), ("DELETE", one, None),
        ("POST", one + "/rotate-secret", None), ("POST", one + "/test", None),
        ("GET", one + "/deliveries", None), ("POST", one + "/deliveries/dlv_1/retry", None),
    ]


async def test_every_route_needs_webhooks_manage(
    client: Any, org: tuple[str, dict[str, str]], org_with_key: OrgFactory, redis: Redis,
    keys: RedisKeys,
) -> None:
    created = await create(client, org[1])
    others = ["web_widgets:read", "web_widgets:manage", "agents:read", "agents:manage",
              "conversations:read", "conversations:read_sensitive", "conversations:manage"]
    _, headers = await org_with_key(others)
    for method, path, body in routes(created["id"]):
        resp = await client.request(method, path, json=body, headers=headers)
        await expect(resp, 403)
    assert await stream(redis, keys) == []


async def test_other_organizations_and_malformed_ids_are_404(
    client: Any, org: tuple[str, dict[str, str]], org_with_key: OrgFactory, redis: Redis,
    keys: RedisKeys,
) -> None:
    created = await create(client, org[1])
    await write_delivery(redis, keys, created["id"], "dlv_1", now_ms())
    _, stranger = await org_with_key()
    before = await redis.get(keys.webhook(created["id"]))
    for endpoint_id in (created["id"], new_id(), "not-a-uuid", created["id"].upper()):
        for method, path, body in routes(endpoint_id)[2:]:
            resp = await client.request(method, path, json=body, headers=stranger)
            await expect(resp, 404)
    assert await redis.get(keys.webhook(created["id"])) == before
    assert await expect(await client.get(URL, headers=stranger), 200) == []
    assert await stream(redis, keys) == []


# --- widget events -----------------------------------------------------------------------------


async def test_widget_put_and_delete_publish_widget_events(
    client: Any, org: tuple[str, dict[str, str]], pair: tuple[str, str], redis: Redis,
    keys: RedisKeys,
) -> None:
    org_id, headers = org
    widget = await create_widget(client, headers, pair)
    assert await stream(redis, keys) == []  # creating a widget is no event
    path = f"/core/web-widgets/{widget['id']}"
    updated = await expect(await client.put(path, json={"published": True}, headers=headers), 200)
    await expect(await client.put(path, json={}, headers=headers), 200)  # no-op: no event
    await expect_204(await client.delete(path, headers=headers))
    first, second = await stream(redis, keys)
    for entry, kind in ((first, "widget.updated"), (second, "widget.deleted")):
        assert entry["type"] == kind and entry["organization_id"] == org_id
        assert entry["web_widget_id"] == widget["id"] and entry["conversation_id"] == ""
        assert "endpoint_id" not in entry and "retry_of" not in entry
        event = msgspec.json.decode(entry["data"])
        assert event["id"] == entry["id"] and event["id"].startswith("evt_")
        assert event["type"] == kind
    assert msgspec.json.decode(first["data"])["data"] == updated
    assert msgspec.json.decode(second["data"])["data"] == {"id": widget["id"],
                                                          "organization_id": org_id}
    assert first["id"] != second["id"]


async def test_a_failed_widget_event_does_not_fail_the_write(
    client: Any, org: tuple[str, dict[str, str]], pair: tuple[str, str], redis: Redis,
    keys: RedisKeys, caplog: pytest.LogCaptureFixture,
) -> None:
    widget = await create_widget(client, org[1], pair)
    # The stream's key holding a string: every XADD fails (WRONGTYPE).
    await redis.set(keys.events_stream(), "not a stream")
    path = f"/core/web-widgets/{widget['id']}"
    with caplog.at_level("WARNING"):
        changed = await expect(await client.put(path, json={"published": True}, headers=org[1]),
                               200)
        await expect_204(await client.delete(path, headers=org[1]))
    assert changed["published"] is True
    await expect(await client.get(path, headers=org[1]), 404)
    assert sum("could not publish widget." in r.getMessage() for r in caplog.records) == 2
    metrics = await (await client.get("/metrics")).text()
    assert 'widget_events_published_total{outcome="failed"} 2.0' in metrics
    assert 'widget_events_published_total{outcome="ok"} 0.0' in metrics


async def test_no_signing_secret_in_logs(
    client: Any, org: tuple[str, dict[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    """Create (and its replay), rotate, reads and a refused request log no secret."""
    caplog.set_level("DEBUG")
    headers = {**org[1], "Idempotency-Key": new_id()}
    created = await create(client, headers)
    await create(client, headers)  # replayed
    rotated = await expect(await client.post(f"{URL}/{created['id']}/rotate-secret",
                                             headers=org[1]), 200)
    await expect(await client.get(f"{URL}/{created['id']}", headers=org[1]), 200)
    await expect(await client.get(URL, headers=org[1]), 200)
    await expect(await client.post(URL, json={"url": "https://10.0.0.1/"}, headers=org[1]), 422)
    assert caplog.records, "nothing was captured"
    for record in caplog.records:
        text = record.getMessage() + repr(vars(record))
        for secret in (created["secret"], rotated["secret"]):
            assert secret not in text and secret[6:] not in text, record
