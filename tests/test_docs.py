"""The documentation stays true and whole: the generated reference pages equal what the code gives, every
relative link in README.md and docs/ reaches a file (and its heading, when it names one), the README stays
a front page, and no page points outside the repository or at a tracker.

Links are Markdown links and images, `[text](target)` and `![alt](target)`, outside code. A web address
(http or https) is refused outside code unless it names this machine (127.0.0.1, localhost), the compose
service `app`, or a placeholder (`<server>`, `{BASE}`); inside code (a value such as a default setting or a
curl line) it is text, not a link. docs/openapi.yaml is not Markdown and is not read here.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
README = REPO / "README.md"
PAGES = sorted([README, *DOCS.rglob("*.md")])
README_MAX_LINES = 150
# Written by its own generator from akig_data/config.py; a link to it is accepted until the page lands.

FENCE = re.compile(r"^( {0,3})(```|~~~).*?^\1\2[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
WEB = re.compile(r"https?://([^/\s)\]>`'\"]+)")
LOCAL_HOSTS = re.compile(r"^(127\.0\.0\.1|localhost|app)(:\d+)?$|[<{]")
TRACKER = [
    re.compile(r"\bissues?\b(?!\s+(?:a|an|the|new|it|them)\b)", re.I),  # the word, unless a verb
    re.compile(r"(?<![\w&#])#\d+\b"),                                     # a hash and a number
]
# A tracker reference, made up here so that this file does not hold one itself.
TRACKER_SAMPLE = " ".join(["iss" + "ue", "5", "#" + "12"])


def load_generator():
    spec = importlib.util.spec_from_file_location("docs_generate", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prose(text: str) -> str:
    """The page without its code blocks and code spans (what a reader can click)."""
    return CODE_SPAN.sub(" ", FENCE.sub("\n", text))


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", FENCE.sub("\n", page.read_text(encoding="utf-8")), re.M)}


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def test_the_pages_are_found():
    names = {rel(p) for p in PAGES}
    assert {"README.md", "docs/index.md", "docs/reference/cli.md", "docs/reference/reads.md",
            "docs/reference/access.md", "docs/explanation/architecture.md"} <= names


@pytest.mark.parametrize("page", sorted(load_generator().PAGES))
def test_a_generated_page_is_what_the_code_gives(page):
    generator = load_generator()
    path = DOCS / page
    assert path.is_file(), f"docs/{page} is missing: run `python docs/generate.py` and commit it"
    assert path.read_text(encoding="utf-8") == generator.PAGES[page](), (
        f"docs/{page} differs from the code: run `python docs/generate.py` and commit the page")


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_relative_link_reaches_a_file(page):
    broken = []
    for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # a web address: see the next test
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(target)
        elif REPO not in resolved.parents and resolved != REPO:
            broken.append(f"{target} (outside the repository)")
        elif anchor and resolved.suffix == ".md" and resolved.exists() and anchor not in anchors(resolved):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{rel(page)} links to what does not exist: {broken}"


def test_the_readme_is_a_front_page():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, (
        f"README.md has {lines} lines (at most {README_MAX_LINES}): move the detail into docs/")


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_no_page_points_outside_the_repository_or_at_a_tracker(page):
    text = prose(page.read_text(encoding="utf-8"))
    outside = [host for host in WEB.findall(text) if not LOCAL_HOSTS.search(host.rstrip(".,;:"))]
    assert not outside, f"{rel(page)} names web addresses outside the repository: {outside}"
    for pattern in TRACKER:
        found = [text[max(0, m.start() - 30):m.end() + 30].replace("\n", " ") for m in pattern.finditer(text)]
        assert not found, f"{rel(page)} refers to a tracker: {found}"


def test_the_checks_catch_what_they_are_for(tmp_path):
    """The link, address and tracker patterns find a bad page (and not code)."""
    text = ("See [x](missing.md) and ![y](../img.png) and [z](#here), <https://example.org>, " + TRACKER_SAMPLE + ".\n"
            "```\ncurl https://example.org/a  # [c](nowhere.md)\n```\n`https://example.org` [ok](http://127.0.0.1:5006/)\n")
    clean = prose(text)
    assert LINK.findall(clean) == ["missing.md", "../img.png", "#here", "http://127.0.0.1:5006/"]
    assert [h for h in WEB.findall(clean) if not LOCAL_HOSTS.search(h)] == ["example.org"]
    assert all(p.search(clean) for p in TRACKER)
    assert not TRACKER[0].search("`akig users token NAME` issues a new one")
    assert slug("7. A first change, step by step: the read `collected_by_method`") == (
        "7-a-first-change-step-by-step-the-read-collected_by_method")
