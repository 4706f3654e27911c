"""widget/widget.js without a browser: the size budget (15 KB gzipped, issue 14), no dependency
on any other host or script, valid syntax, and the demo page's contract with whoever serves it
(docs/widget-protocol.md, "Embedding"). The browser test is tests/e2e/test_widget_browser.py."""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WIDGET = ROOT / "widget" / "widget.js"
DEMO = ROOT / "widget" / "demo.html"
BUDGET = 15_000  # bytes, gzipped

# Ways a script can pull in code or talk to a host other than the one data-url names.
FORBIDDEN = {
    "an import": re.compile(r"\bimport\s*[({\"'*]|\bimport\s+\w"),
    "require()": re.compile(r"\brequire\s*\("),
    "fetch()": re.compile(r"\bfetch\s*\("),
    "XMLHttpRequest": re.compile(r"XMLHttpRequest"),
    "importScripts": re.compile(r"importScripts"),
    "sendBeacon": re.compile(r"sendBeacon"),
    "EventSource": re.compile(r"EventSource"),
    "an injected script or frame": re.compile(r"createElement\(\s*[\"'](script|iframe|link|img)"),
    "a CSS import or url()": re.compile(r"@import|url\("),
    "a literal URL": re.compile(r"[a-z]+://"),
    "eval": re.compile(r"\beval\s*\(|new Function\s*\("),
}


def code_without_comments() -> str:
    """The source less its comments (the header's embedding example holds a sample URL)."""
    source = WIDGET.read_text()
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("//"))


def test_widget_fits_the_size_budget() -> None:
    raw = WIDGET.read_bytes()
    packed = len(gzip.compress(raw, compresslevel=9))
    assert packed <= BUDGET, f"widget.js is {packed} bytes gzipped, over {BUDGET}"


def test_widget_depends_on_nothing_but_its_websocket() -> None:
    code = code_without_comments()
    found = [name for name, pattern in FORBIDDEN.items() if pattern.search(code)]
    assert found == []
    # Its only connection: the WebSocket API named by the script tag's data-url.
    assert len(re.findall(r"new WebSocket\(", code)) == 1
    assert 'getAttribute("data-url")' in code


def test_widget_is_valid_javascript() -> None:
    node = shutil.which("node")
    assert node, "Node.js is a prerequisite of this repository (the CDK CLI)"
    checked = subprocess.run(
        [node, "--check", str(WIDGET)], capture_output=True, text=True, timeout=60, check=False
    )
    assert checked.returncode == 0, checked.stderr


def test_demo_page_embeds_the_widget_with_the_placeholders_the_stage_fills_in() -> None:
    page = DEMO.read_text()
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert len(scripts) == 1
    [tag] = scripts
    assert 'src="widget.js"' in tag
    assert 'data-key="{{WIDGET_KEY}}"' in tag
    assert 'data-url="{{WIDGET_URL}}"' in tag
    assert "://" not in page  # a plain page: nothing loaded from anywhere else
