"""The sample knowledge that ships with Frontdoor, loaded into an empty knowledge base."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SEED_AUTHOR = "seed"


def seed_files() -> list[Path]:
    folder = Path(str(files("knowledge_base") / "seed"))
    return sorted(folder.glob("*.yaml"))


def category_table() -> Path:
    return Path(str(files("knowledge_base") / "seed" / "categories.csv"))
