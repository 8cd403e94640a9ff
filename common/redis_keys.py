"""Every Redis key and channel name, built in one place.

Keys that one script touches share a hash tag (``{w:<widget_id>}``, ``{a:<agent_id>}``, ...), so
every script runs on one hash slot and works unchanged on Redis Cluster.
"""

from __future__ import annotations

from common.models.conversation import INDEXED_STATUSES


class RedisKeys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    # Everything about one widget lives in the widget's slot: the config and its conversations.
    def widget(self, widget_id: str) -> str:
        return f"{self.prefix}:{{w:{widget_id}}}:widget"

    def conversation(self, widget_id: str, conversation_id: str) -> str:
        return f"{self.prefix}:{{w:{widget_id}}}:conv:{conversation_id}"

    def user_conversations(self, widget_id: str, user_id: str) -> str:
        return f"{self.prefix}:{{w:{widget_id}}}:convs:user:{user_id}"

    def conversations_by_status(self, widget_id: str, status: str) -> str:
        """Lex-ordered index of the widget's conversations in one status (member
        ``<created_ms>:<id>``), moved by the lifecycle script in the same step as the status."""
        return f"{self.prefix}:{{w:{widget_id}}}:convs:status:{status}"

    def conversation_indexes(self, widget_id: str) -> list[str]:
        """All the widget's conversations: its status indexes, each conversation in exactly one
        (a list merges them; a widget index of its own would repeat every member)."""
        return [self.conversations_by_status(widget_id, s) for s in INDEXED_STATUSES]

    def widget_stats(self, widget_id: str, day: str) -> str:
        """Hash of one UTC day's counters (``YYYY-MM-DD``), incremented when the events happen."""
        return f"{self.prefix}:{{w:{widget_id}}}:stats:{day}"

    def conversation_erased(self, conversation_id: str) -> str:
        """Tombstone of an erased conversation: webhook workers drop its pending deliveries."""
        return f"{self.prefix}:{{c:{conversation_id}}}:erased"

    def conversation_owner(self, conversation_id: str) -> str:
        """Conversation id -> widget id: tells a foreign conversation (403) from none (404)."""
        return f"{self.prefix}:{{c:{conversation_id}}}:owner"

    def rate_limit(self, widget_id: str, name: str, subject: str) -> str:
        """A rate limiter's state; in the widget's slot, so one request's limits are one script."""
        return f"{self.prefix}:{{w:{widget_id}}}:rl:{name}:{subject}"

    # Organizations and what they list.
    def org(self, org_id: str) -> str:
        return f"{self.prefix}:{{o:{org_id}}}:org"

    def org_widgets(self, org_id: str) -> str:
        """Lex-ordered index of the org's widgets: member ``<created_ms>:<id>``."""
        return f"{self.prefix}:{{o:{org_id}}}:widgets"

    def org_conversations(self, org_id: str) -> str:
        """Lex-ordered index of the org's conversations: member ``<created_ms>:<id>:<widget_id>``
        (the cursor is the ``<created_ms>:<id>`` prefix, so it bounds both index shapes)."""
        return f"{self.prefix}:{{o:{org_id}}}:convs"

    def org_webhooks(self, org_id: str) -> str:
        """Lex-ordered index of the org's webhook endpoints: member ``<created_ms>:<id>``."""
        return f"{self.prefix}:{{o:{org_id}}}:webhooks"

    def widget_erasures(self) -> str:
        """Deleted widgets whose conversations are still being erased: member
        ``<org_id>:<widget_id>``, score the ms a worker may (re)claim it."""
        return f"{self.prefix}:{{erase}}:widgets"

    def widget_erasure(self, widget_id: str) -> str:
        """Hash: the progress of one deleted widget's erasure job (next to its queue, so one
        script claims, saves and ends a job)."""
        return f"{self.prefix}:{{erase}}:widget:{widget_id}"

    def idempotency(self, org_id: str, key: str) -> str:
        """An ``Idempotency-Key`` record: per organization, so another org's key never clashes."""
        return f"{self.prefix}:{{o:{org_id}}}:idem:{key}"

    # Agents and their versions share the agent's slot.
    def agent(self, agent_id: str) -> str:
        return f"{self.prefix}:{{a:{agent_id}}}:agent"

    def agent_version(self, agent_id: str, version_id: str) -> str:
        return f"{self.prefix}:{{a:{agent_id}}}:version:{version_id}"

    def agent_version_numbers(self, agent_id: str) -> str:
        """Hash: version number -> version id (also holds the ``seq`` counter)."""
        return f"{self.prefix}:{{a:{agent_id}}}:versions"

    # Credentials and people.
    def api_key(self, key_id: str) -> str:
        return f"{self.prefix}:apikey:{key_id}"

    def pat(self, token_id: str) -> str:
        return f"{self.prefix}:pat:{token_id}"

    def user(self, user_id: str) -> str:
        return f"{self.prefix}:{{u:{user_id}}}:user"

    def user_orgs(self, user_id: str) -> str:
        return f"{self.prefix}:{{u:{user_id}}}:orgs"

    # Auto-brand results, per normalized domain (``host`` or ``host:port``).
    def brand(self, domain: str) -> str:
        return f"{self.prefix}:brand:{domain}"

    # The conversation lifecycle (docs/lifecycle.md): the events stream, in a slot of its own, and
    # the sweep's due index, sharded so that a cluster spreads it.
    def events_stream(self) -> str:
        return f"{self.prefix}:{{events}}:stream"

    def due_conversations(self, shard: int) -> str:
        """Sorted set: member ``<widget_id>:<conversation_id>``, score the ms it is due."""
        return f"{self.prefix}:{{due:{shard}}}:conversations"

    # Outbound webhooks: everything about one endpoint in its slot.
    def webhook(self, endpoint_id: str) -> str:
        return f"{self.prefix}:{{h:{endpoint_id}}}:endpoint"

    def webhook_delivery(self, endpoint_id: str, delivery_id: str) -> str:
        return f"{self.prefix}:{{h:{endpoint_id}}}:delivery:{delivery_id}"

    def webhook_deliveries(self, endpoint_id: str) -> str:
        """Lex-ordered index of the endpoint's deliveries: member ``<created_ms>:<delivery_id>``."""
        return f"{self.prefix}:{{h:{endpoint_id}}}:deliveries"

    # The webhook delivery worker (management_service/webhooks, docs/architecture.md): the
    # fan-out reader's lease next to the events stream (one slot), each delivery shard's stream
    # and lease in a slot of its own, and the live workers.
    def webhook_fanout_lease(self) -> str:
        return f"{self.prefix}:{{events}}:webhooks:lease"

    def webhook_shard_stream(self, shard: int) -> str:
        """Stream of deliveries to attempt: fields ``endpoint_id``, ``delivery_id``, ``order``."""
        return f"{self.prefix}:{{wh:{shard}}}:stream"

    def webhook_shard_lease(self, shard: int) -> str:
        """The worker that owns the shard (value its id), with a TTL it keeps renewing."""
        return f"{self.prefix}:{{wh:{shard}}}:lease"

    def webhook_workers(self) -> str:
        """Sorted set: live worker ids, score the ms their heartbeat runs out."""
        return f"{self.prefix}:{{wh}}:workers"

    # Pub/sub: classic PUBLISH is broadcast to every node of a cluster.
    def invalidation_channel(self) -> str:
        return f"{self.prefix}:widget-events"

    def credential_channel(self) -> str:
        """Credential revocations, for management's per-process credential cache."""
        return f"{self.prefix}:credential-events"
