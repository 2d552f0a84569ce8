"""The sample knowledge that ships with Frontdoor, loaded into an empty knowledge base."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from knowledge_base.entry import Entry
from knowledge_base.io import read_entries

SEED_AUTHOR = "seed"


def seed_files() -> list[Path]:
    folder = Path(str(files("knowledge_base") / "seed"))
    return sorted(folder.glob("*.yaml"))


def read_seed_entries() -> list[Entry]:
    return [entry for path in seed_files() for entry in read_entries(path)]


def category_table() -> Path:
    return Path(str(files("knowledge_base") / "seed" / "categories.csv"))
