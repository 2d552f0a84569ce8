"""The reports' words (reports/content/*.yaml): Chinese text lives there, not in code."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

CONTENT = Path(__file__).resolve().parent / "content"


@lru_cache(maxsize=None)
def words(name: str = "daily") -> dict:
    """The words of one content file, read once (they ship with the code and do not change while it runs)."""
    return yaml.safe_load((CONTENT / f"{name}.yaml").read_text(encoding="utf-8"))
