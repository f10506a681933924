"""What tests read from the project's Markdown: the anchors GitHub gives a document's headings,
so a link or a runbook reference to a section fails its test when the heading is renamed."""

from __future__ import annotations

import re


def anchors(markdown: str) -> set[str]:
    """GitHub-style anchors of the document's headings."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-") for heading in headings}
