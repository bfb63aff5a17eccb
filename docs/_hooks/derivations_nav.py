"""MkDocs hook: the "Derivations" nav section lists every page the generated derivations index links.

The derivation pages are generated one per claim (``amverify docs``), so a hand-kept list in mkdocs.yml
would go stale with every new claim. The generated ``docs/derivations/index.md`` is the list: each page
it links is added to the section, in its order. A derivation page it does not link stays out of the
nav, and the strict build fails on it as an omitted page (a stale file of a removed claim).
"""

from __future__ import annotations

import re
from pathlib import Path

INDEX = "derivations/index.md"
LINK = re.compile(r"\]\(([^)#\s]+\.md)\)")


def _section(nav):
    """The nav list that holds the derivations index, or None."""
    for item in nav or ():
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if value == INDEX:
            return nav
        if isinstance(value, list):
            found = _section(value)
            if found is not None:
                return found
    return None


def on_config(config):
    section = _section(config["nav"])
    if section is None:
        raise ValueError(f"mkdocs.yml: no nav section holds {INDEX}")
    index = Path(config["docs_dir"]) / INDEX
    pages = [f"derivations/{target}" for target in LINK.findall(index.read_text(encoding="utf-8"))]
    listed = {next(iter(item.values())) if isinstance(item, dict) else item for item in section}
    # titled by claim id (the file name), as the index lists them
    section.extend({p[len("derivations/"):-len(".md")]: p} for p in dict.fromkeys(pages) if p not in listed)
    return config
