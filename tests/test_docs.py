"""Every document a comment cites is in the repository, with the section it names."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CITATION = re.compile(r"(?:docs/)?(VAS-API|CONTRACT)\.md(?: §(\d+(?:\.\d+)*))?")
SOURCES = ["portal", "tasks", "vassim", "tests", "bench", "templates", "static"]


def _citations() -> list[tuple[Path, str, str | None]]:
    found = []
    for folder in SOURCES:
        for path in (ROOT / folder).rglob("*"):
            if path.suffix not in (".py", ".html", ".js", ".txt") or "migrations" in path.parts:
                continue
            for match in CITATION.finditer(path.read_text(encoding="utf-8")):
                found.append((path, match.group(1), match.group(2)))
    return found


def test_comments_cite_documents_that_exist_with_their_sections():
    citations = _citations()
    assert citations, "the client cites docs/VAS-API.md: the scan found nothing"
    for path, name, section in citations:
        document = ROOT / "docs" / f"{name}.md"
        assert document.exists(), (path, name)
        if section:
            heading = re.compile(rf"^#+ {re.escape(section)}[. ]", re.MULTILINE)
            assert heading.search(document.read_text(encoding="utf-8")), (path, name, section)
