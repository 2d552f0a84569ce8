"""The floor plan: imports only point down (README, "Where things live"). Read from the code's own imports, so
that a loop or an upward import cannot come back unnoticed."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Each room, from the top floor down, and the rooms below it that it may import. A room imports none above it
# and no room beside it unless listed here; `models` and `ground` import nothing of ours.
MAY_IMPORT = {
    "bench": {"frontdoor", "evaluation", "api", "reports", "voice", "assistant", "desk", "knowledge_base", "accounts", "models",
              "storage", "ground"},
    "frontdoor": {"api", "evaluation", "reports", "voice", "assistant", "desk", "knowledge_base", "accounts", "models", "storage",
                  "ground"},
    "api": {"reports", "voice", "assistant", "desk", "knowledge_base", "accounts", "models", "storage", "ground"},
    "evaluation": {"voice", "assistant", "desk", "knowledge_base", "accounts", "models", "storage", "ground"},
    "reports": {"assistant", "desk", "knowledge_base", "accounts", "models", "storage", "ground"},
    "voice": {"assistant", "desk", "knowledge_base", "accounts", "models", "storage", "ground"},
    "assistant": {"desk", "knowledge_base", "accounts", "models", "storage", "ground"},
    "desk": {"knowledge_base", "accounts", "models", "storage", "ground"},
    "knowledge_base": {"accounts", "models", "storage", "ground"},
    "accounts": {"storage", "ground"},
    "storage": {"ground"},
    "models": set(),
    "ground": set(),
}


def _imported_rooms(path: Path) -> set[str]:
    """The rooms a module imports (absolute imports, at any depth: inside functions and TYPE_CHECKING too)."""
    rooms = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            rooms.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            rooms.add(node.module.split(".")[0])
    return rooms & set(MAY_IMPORT)


def _modules(room: str) -> list[Path]:
    return sorted((ROOT / room).rglob("*.py"))


def test_every_room_of_the_project_is_on_the_plan():
    rooms = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert rooms <= set(MAY_IMPORT), f"rooms missing from the plan: {sorted(rooms - set(MAY_IMPORT))}"


def test_the_plan_is_floors_with_no_loop():
    for room, below in MAY_IMPORT.items():
        for other in below:
            assert room not in MAY_IMPORT[other], f"{room} and {other} may import each other"
            assert MAY_IMPORT[other] <= MAY_IMPORT[room], f"{other} is below {room} but may import what {room} may not"


@pytest.mark.parametrize("room", sorted(MAY_IMPORT))
def test_a_room_imports_only_rooms_below_it(room):
    upward = []
    for path in _modules(room):
        for other in _imported_rooms(path) - {room} - MAY_IMPORT[room]:
            upward.append(f"{path.relative_to(ROOT)} imports {other}")
    assert not upward, "imports that do not point down:\n" + "\n".join(upward)
