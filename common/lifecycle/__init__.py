"""The conversation lifecycle (docs/lifecycle.md): one Lua script for every change, the events
stream it feeds through an outbox, and the sweep's due index. Used by both services."""
