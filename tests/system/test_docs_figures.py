"""docs/operations.md's capacity figures come from docs/performance.md's latest results tables
(throughput and Redis memory): a new benchmark run that changes the tables must change the
figures too."""

from __future__ import annotations

import re

from tests.support.paths import ROOT

DOCS = ROOT / "docs"

# Capacity row (operations.md) -> the results rows (performance.md) it reports, in order.
SOURCES = {
    "Cached widget GET (200 / 304)": [
        "public widget GET (cache hit)", "public widget GET, If-None-Match → 304",
    ],
    "Conversation start": ["conversation start"],
    "Conversation resume": ["conversation resume"],
    "Feedback submission": ["feedback, first submission"],
    "Conversation list page (20)": ["conversation list page (20 items)"],
    "Authenticated widget GET": ["management GET widget"],
    "Widget PUT (with its invalidation event; 16 writers of one widget)": [
        "management PUT widget (16 writers, one widget)",
    ],
    "Widget list page (20)": ["management widget list page (20)"],
}


def _number(text: str) -> int:
    return int(text.replace(" ", "").replace("\u202f", ""))


MEMORY = "### Redis memory"


def _latest() -> str:
    text = (DOCS / "performance.md").read_text()
    return text.split("## Latest results", 1)[1].split("\n## ", 1)[0]


def latest_results() -> dict[str, int]:
    rows = {}
    for line in _latest().split(MEMORY, 1)[0].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) > 2 and re.fullmatch(r"[\d ]+", cells[1]):
            rows[cells[0]] = _number(cells[1])
    return rows


def latest_memory() -> dict[str, int]:
    """The memory row's parts: | part | bytes |."""
    rows = {}
    for line in _latest().split(MEMORY, 1)[1].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and re.fullmatch(r"[\d ]+", cells[1]):
            rows[cells[0]] = _number(cells[1])
    return rows


def _capacity() -> str:
    text = (DOCS / "operations.md").read_text()
    return text.split("## Capacity", 1)[1].split("\n## ", 1)[0]


def capacity_memory() -> dict[str, int]:
    """| part | about N bytes |, under the memory heading of the capacity section."""
    rows = {}
    for line in _capacity().split(MEMORY, 1)[1].splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and re.fullmatch(r"about [\d ]+ bytes", cells[1]):
            rows[cells[0]] = _number(cells[1].removeprefix("about ").removesuffix(" bytes"))
    return rows


def capacity() -> dict[str, list[int]]:
    section = _capacity().split(MEMORY, 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[1].startswith("about"):
            rows[cells[0]] = [_number(n) for n in re.findall(r"\d[\d ]*\d", cells[1])]
    return rows


def test_capacity_figures_agree_with_the_latest_results() -> None:
    results, figures = latest_results(), capacity()
    assert set(figures) == set(SOURCES)
    for row, sources in SOURCES.items():
        assert len(figures[row]) == len(sources), row
        for figure, source in zip(figures[row], sources, strict=True):
            measured = results[source]
            # Rounded, but within 5% of what the latest run measured.
            assert abs(figure - measured) <= 0.05 * measured, (row, figure, source, measured)


def test_memory_figures_agree_with_the_latest_memory_row() -> None:
    measured, figures = latest_memory(), capacity_memory()
    assert figures, "operations.md has no Redis memory table"
    assert set(figures) <= set(measured), set(figures) - set(measured)
    for part, figure in figures.items():
        assert abs(figure - measured[part]) <= 0.05 * measured[part], (part, figure)
