"""The documents a new user reads first say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_env_example_lists_every_setting_the_readme_documents() -> None:
    readme = (ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)`", readme, re.M))
    example = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert documented and documented - example == set()


def test_the_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(((?!https?:|#)[^)]+)\)", readme):
        assert (ROOT / target).exists(), target
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", readme, re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", readme):
        assert anchor in anchors, anchor
