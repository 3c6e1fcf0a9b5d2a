"""The README stays a ten-minute read whose links all land, and its key table is the app's."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
KEYS = ROOT / "tui" / "dashboard" / "KEYS.md"
MAX_README_LINES = 250

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)


def slug(heading: str) -> str:
    """The anchor MkDocs (Python-Markdown's toc) and GitHub give a heading, for plain headings."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").replace("*", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(h) for h in HEADING.findall(text)}


def relative_links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return [
        link
        for link in LINK.findall(text)
        if not re.match(r"[a-z][a-z0-9+.-]*:", link)  # http:, https:, mailto: ...
    ]


def test_readme_is_a_ten_minute_read() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_README_LINES, (
        f"README.md has {lines} lines (at most {MAX_README_LINES}): move the detail to a page "
        "under docs/ and link to it"
    )


def test_every_relative_readme_link_resolves() -> None:
    links = relative_links(README)
    assert links, "README.md links to no docs page"
    broken = []
    for link in links:
        target, _, anchor = link.partition("#")
        path = (README.parent / target).resolve() if target else README
        if not path.exists():
            broken.append(f"{link}: no file {path.relative_to(ROOT)}")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{link}: no heading with anchor #{anchor} in {path.name}")
    assert not broken, "broken links in README.md:\n" + "\n".join(broken)


def test_readme_key_table_is_keys_md() -> None:
    """KEYS.md is generated from the bindings (tests/tui/test_widgets.py); the README copies it."""
    table = KEYS.read_text(encoding="utf-8")
    assert table in README.read_text(encoding="utf-8"), (
        "README.md's key table differs from tui/dashboard/KEYS.md: paste KEYS.md's table "
        "into the README's Keys section"
    )


def test_every_docs_page_is_in_the_mkdocs_nav() -> None:
    nav = set(re.findall(r"^\s*- [^:]+: (\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M))
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert pages == nav, f"docs pages not in mkdocs.yml's nav: {sorted(pages - nav)}; " + (
        f"nav entries without a page: {sorted(nav - pages)}"
    )


def test_slug_matches_mkdocs_anchors() -> None:
    assert slug("2026-11-30: How gpt-5min got under 1.45") == (
        "2026-11-30-how-gpt-5min-got-under-145"
    )
    assert slug("The dashboard's first frame") == "the-dashboards-first-frame"
    assert slug("Inspect: `i` and `llmv0 inspect`") == "inspect-i-and-llmv0-inspect"
