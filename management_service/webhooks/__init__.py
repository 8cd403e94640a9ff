"""The outbound webhook delivery worker: ``python -m management_service.webhooks``.

It reads the conversation events stream (docs/lifecycle.md) and delivers each event to the
organization's endpoints, signed per Standard Webhooks, at least once, in order per
(endpoint, conversation), with retries for up to 3 days. The design and its guarantees are in
docs/architecture.md, "Outbound webhooks: delivery guarantees and retry schedule".

- ``fanout``: the one reader of the events stream (a lease) that writes a delivery per matching
  endpoint onto a delivery shard;
- ``shards``: a shard's owner (a lease) sends its deliveries, one pair at a time in order;
- ``sender``: one signed HTTP attempt (``signing``, ``egress``);
- ``store``: the endpoint and delivery records; ``schedule``: the retry delays;
- ``worker``: membership, leases and balancing; ``app``: probes and metrics.
"""
