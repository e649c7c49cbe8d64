"""The README stays short, and every relative link of the documentation leads somewhere:
to a file that exists and, with ``#anchor``, to a heading of it (GitHub's slugs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
CHANGELOG = PROJECT_ROOT / "CHANGELOG.md"
DOCUMENTS = [README, CHANGELOG, *sorted((PROJECT_ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"(?<!!)\[[^\]\n]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _prose(text: str) -> str:
    """The text without code blocks (whose brackets are not links, nor their # headings)."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its rendered text lower-cased, punctuation dropped
    (letters and digits of any script, spaces, ``-`` and ``_`` stay), spaces made ``-``."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = re.sub(r"[*`]", "", text).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(_prose(path.read_text(encoding="utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    return LINK.findall(INLINE_CODE.sub("", _prose(path.read_text(encoding="utf-8"))))


def test_the_readme_is_under_200_lines():
    assert len(README.read_text(encoding="utf-8").splitlines()) < 200


def test_the_slug_rule():
    assert slug("Latest figures (2-core machine, no GPU; shared)") == (
        "latest-figures-2-core-machine-no-gpu-shared"
    )
    assert slug("The desk's own guides (uploads)") == "the-desks-own-guides-uploads"
    assert slug("Advisers: hand-offs") == "advisers-hand-offs"
    assert slug("`ASSISTANT_HOST` and où") == "assistant_host-and-où"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(PROJECT_ROOT).name)
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(document):
    assert document.is_file()
    broken = []
    for target in links(document):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (document.parent / file_part).resolve() if file_part else document
        if not linked.exists() or PROJECT_ROOT not in (linked, *linked.parents):
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.name}")
    assert broken == []


def test_the_readme_links_every_document():
    linked = {
        (README.parent / target.partition("#")[0]).resolve()
        for target in links(README)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)
    }
    assert [p.name for p in DOCUMENTS[1:] if p.resolve() not in linked] == []


def test_the_readme_commands_are_the_makefile_targets():
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    for command in re.findall(r"^make (\w+)", README.read_text(encoding="utf-8"), re.MULTILINE):
        assert re.search(rf"^{command}:", makefile, re.MULTILINE), command


def test_the_changelog_keeps_a_changelog():
    """https://keepachangelog.com/en/1.1.0/: an Unreleased section, then versions, each
    with the six kinds of change only."""
    text = _prose(CHANGELOG.read_text(encoding="utf-8"))
    versions = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert versions and versions[0] == "[Unreleased]"
    assert all(re.fullmatch(r"\[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}", v) for v in versions[1:])
    kinds = set(re.findall(r"^### (.+)$", text, re.MULTILINE))
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
