"""The README's promises that can be checked without running anything."""

from __future__ import annotations

import re

from conftest import ROOT


def test_every_local_link_in_the_readme_exists() -> None:
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(((?!https?:|#)[^)\s]+)\)", text)
    assert links, "the README links to its reference results"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert missing == []

