"""Every relative link in the README, docs/ and bench/RESULTS.md leads somewhere: the
file exists and, for `file.md#anchor`, the anchor is one of its headings (GitHub's
slugs). Docs get moved and split; a dead link is how a reader finds out first."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def documents() -> list[Path]:
    return [REPO / "README.md", REPO / "bench" / "RESULTS.md", *sorted(REPO.glob("docs/*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but `_` and `-` dropped,
    spaces to `-`."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    headings = {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}
    return headings | set(re.findall(r'<a id="([^"]+)"></a>', text))  # explicit anchors


def dead_links(path: Path, root: Path = REPO) -> list[str]:
    dead = []
    for target in LINK.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not ours to check offline
        file, _, anchor = target.partition("#")
        linked = (path.parent / file).resolve() if file else path
        if not linked.exists():
            dead.append(f"{path.relative_to(root)}: {target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            dead.append(f"{path.relative_to(root)}: {target} (no such heading)")
    return dead


def test_every_relative_link_resolves() -> None:
    assert [dead for path in documents() for dead in dead_links(path)] == []


def test_the_check_finds_a_dead_file_and_a_dead_anchor(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Top\n\n## Running the tests\n", encoding="utf-8")
    doc = tmp_path / "b.md"
    doc.write_text(
        "[ok](a.md#running-the-tests) [gone](c.md) [moved](a.md#benchmark) [web](https://x.y)\n"
        "```\n[in a fence](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    found = [line.split(": ", 1)[1] for line in dead_links(doc, tmp_path)]
    assert found == ["c.md (no such file)", "a.md#benchmark (no such heading)"]
