"""The authenticated management API under /core/web-widgets (and the /core/agents subset)."""
