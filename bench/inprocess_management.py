"""``python -m bench.inprocess_management``: what an authenticated management request costs
against the baseline, in one process (bench/inprocess.py's machinery, pointed at management).

Rows: a widget GET with an ``ak_`` key and with a ``pat_`` token (the membership check), the
list page (20 widgets) and a PUT (16 writers of one widget, as in ``make bench``). The baseline
answers each with the bytes management answered, on the same route shape. Credentials are
cached as in production (``CREDENTIAL_CACHE_TTL``), so a GET is its widget's read plus the
request's own work.
"""

from __future__ import annotations

import json

from aiohttp import web

from bench import baseline_app, services
from bench.inprocess import Connection, body_of, main, print_rows, raw_request
from common.models.widget import WidgetCreate
from common.redis_client import create_redis
from common.redis_keys import RedisKeys
from common.settings import Settings
from deploy.dev_run import WIDGET_CONFIG, ensure_dev_data
from management_service.agents_store import AgentStore
from management_service.app import create_app
from management_service.credentials import KNOWN_SCOPES, CredentialStore
from management_service.widgets_store import WidgetStore

PAGE = 20  # widgets in the organization, one list page


async def seed(settings: Settings) -> tuple[str, str, str, str]:
    """The dev organization with PAGE widgets: its ``ak_`` key, a member's ``pat_``, the org
    and one widget's id."""
    dev, _ = await ensure_dev_data(settings, None)
    client = create_redis(settings)
    try:
        keys = RedisKeys(settings.redis_key_prefix)
        widgets = WidgetStore(client, keys, AgentStore(client, keys))
        for _ in range(PAGE - 1):
            await widgets.create(dev.organization_id, WidgetCreate(
                agent_id=dev.agent_id, agent_version_id=dev.agent_version_id,
                published=True, config=WIDGET_CONFIG,
            ))
        credentials = CredentialStore(client, keys)
        user = await credentials.create_user("bench")
        await credentials.add_member(dev.organization_id, user.id)
        pat, _ = await credentials.issue("pat", sorted(KNOWN_SCOPES), user_id=user.id)
        return dev.api_key, pat, dev.organization_id, dev.widget_id
    finally:
        await client.aclose()


async def run(redis_url: str) -> None:
    settings = Settings.from_env("management", services.service_env(redis_url, 0))
    api_key, pat, org_id, widget_id = await seed(settings)
    management = web.AppRunner(create_app(settings), access_log=None)
    await management.setup()
    try:
        await measure(management, api_key, pat, org_id, widget_id)
    finally:
        await management.cleanup()


async def measure(
    management: web.AppRunner, api_key: str, pat: str, org_id: str, widget_id: str
) -> None:
    path = "/core/web-widgets/" + widget_id
    ak = f"Authorization: Bearer {api_key}\r\n"
    personal = f"Authorization: Bearer {pat}\r\nX-Anyreach-Org: {org_id}\r\n"
    get = raw_request("GET", path, headers=ak)
    listed = raw_request("GET", f"/core/web-widgets?limit={PAGE}", headers=ak)
    put = raw_request("PUT", path, json.dumps({"config": WIDGET_CONFIG}), headers=ak)
    bodies = {name: "{}" for name in baseline_app.ROUTES}
    bodies["management_get"] = body_of(await Connection(management, get).send())
    bodies["management_put"] = body_of(await Connection(management, put).send())
    bodies["management_list"] = body_of(await Connection(management, listed).send())
    assert len(json.loads(bodies["management_list"])) == PAGE, bodies["management_list"][:200]
    baseline = web.AppRunner(baseline_app.create_app(bodies), access_log=None)
    await baseline.setup()
    rows = [
        ("management GET widget", get),
        ("management GET widget, pat_", raw_request("GET", path, headers=personal)),
        (f"management list page ({PAGE})", listed),
        ("management PUT widget", put),
    ]
    try:
        await print_rows(management, baseline, rows)
    finally:
        await baseline.cleanup()


if __name__ == "__main__":
    main(run)
