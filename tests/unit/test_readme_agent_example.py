"""The README's agent worker example compiles (it is not run: it needs livekit-agents and a
LiveKit server; its API was checked against livekit-agents 1.8.9)."""

from __future__ import annotations

import ast

from tests.support.paths import ROOT

MARKER = "<!-- agent-example:"


def example() -> str:
    readme = (ROOT / "README.md").read_text()
    after = readme.split(MARKER, 1)[1].split("```python\n", 1)[1]
    return after.split("```", 1)[0]


def test_the_agent_example_compiles_and_uses_the_documented_api() -> None:
    source = example()
    compile(source, "README.md agent example", "exec")
    tree = ast.parse(source)
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    assert {"AgentServer", "AgentSession", "JobContext"} <= imported
    # It reads the conversation and reports on it through the routes the management API has.
    for route in ('"/report"', '"/end"', "/core/conversations/"):
        assert route in source, route
    assert "ctx.job.metadata" in source and "add_shutdown_callback" in source
