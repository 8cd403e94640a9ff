"""The docs cite tests and test helpers by path (docs/security.md's "tests" column): every cited
file exists, and every cited ``path::name`` names a test defined in that file."""

from __future__ import annotations

import re

from tests.support.paths import ROOT

CITED = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def test_every_test_path_cited_in_the_docs_exists() -> None:
    cited = [
        (doc.relative_to(ROOT), path, name)
        for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for path, name in CITED.findall(doc.read_text())
    ]
    assert cited, "the pattern no longer finds the citations"
    missing = [
        (str(doc), path, name)
        for doc, path, name in cited
        if not (ROOT / path).is_file()
        or (name and not re.search(rf"^(async )?def {name}\(", (ROOT / path).read_text(), re.M))
    ]
    assert missing == []
