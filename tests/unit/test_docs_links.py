"""The documentation holds together: every link between README.md and docs/ resolves (file and
heading), every page in docs/ is listed in the README, every `docs/<page>.md` a document or a
module names exists, no document points outside the repository, and docs/architecture.md's map
of the tree names every package and only files that exist."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.markdown import anchors

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
NAMED_PAGE = re.compile(r"\bdocs/[a-z0-9-]+\.md\b")
MAP_ROW = re.compile(r"^\| `([a-z_]+)/` \|")
SOURCES = [
    path
    for pattern in ("*.py", "*.toml", "*.yml", "*.txt", "Makefile", "Procfile")
    for path in ROOT.rglob(pattern)
    if not {".venv", ".git", "node_modules"} & set(path.relative_to(ROOT).parts)
]


def test_every_link_resolves_to_a_file_and_heading_of_the_repository() -> None:
    broken = []
    for document in DOCUMENTS:
        for target in LINK.findall(document.read_text()):
            if re.match(r"^[a-z]+:", target):
                broken.append(f"{document.name}: {target} points outside the repository")
                continue
            page, _, heading = target.partition("#")
            resolved = (document.parent / page).resolve() if page else document
            if not resolved.exists():
                broken.append(f"{document.name}: {target} (no such file)")
            elif heading and heading not in anchors(resolved.read_text()):
                broken.append(f"{document.name}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_readme_lists_every_page_of_docs() -> None:
    listed = set(LINK.findall((ROOT / "README.md").read_text()))
    missing = [f"docs/{page.name}" for page in DOCUMENTS[1:] if f"docs/{page.name}" not in listed]
    assert not missing, f"README.md does not list {missing}"


def test_every_page_a_document_or_module_names_exists() -> None:
    named = {
        (path.relative_to(ROOT), page)
        for path in [*DOCUMENTS, *SOURCES]
        for page in NAMED_PAGE.findall(path.read_text(errors="replace"))
    }
    missing = sorted(f"{path}: {page}" for path, page in named if not (ROOT / page).exists())
    assert not missing, "\n".join(missing)


def test_the_architecture_map_names_every_package_and_only_files_that_exist() -> None:
    rows = [line for line in (ROOT / "docs/architecture.md").read_text().splitlines() if MAP_ROW.match(line)]
    mapped = {MAP_ROW.match(row)[1] for row in rows}  # type: ignore[index]
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests"}
    assert mapped == packages
    missing = [
        f"{package}/: {name}"
        for row in rows
        for package in [MAP_ROW.match(row)[1]]  # type: ignore[index]
        for name in re.findall(r"`([a-z_/]+\.py|[a-z_]+/)`", row)
        if not (ROOT / package / name).exists() and not (ROOT / name).exists()
    ]
    assert not missing, missing
