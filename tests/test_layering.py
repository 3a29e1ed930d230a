"""The package layout a newcomer reads in docs/ARCHITECTURE.md holds in the code.

`screenplay` < `model` < `bot` < `cogs` < `training` < `bench`: a module imports
only from its own package and the ones below it; only `cogs/` (and the entry point that starts
the Discord client) imports discord.py; nothing imports in a circle; and the room service and
the cogs load without torch, so the console and the glue start fast.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"screenplay": 0, "model": 1, "bot": 2, "cogs": 3, "training": 4, "bench": 5}
#: The entry point may start the Discord client that sits above it (see its docstring).
ENTRY_POINTS = {"bot/__main__.py": {"cogs"}}


def _modules() -> list[Path]:
    return sorted(p for package in LAYERS for p in (ROOT / package).rglob("*.py"))


def _imports(path: Path) -> list[str]:
    """Every module name `path` imports, at the top or inside a function (not under
    `if TYPE_CHECKING:`, which never runs)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    checking_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    names: list[str] = []
    for node in ast.walk(tree):
        if id(node) in checking_only:
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_no_package_imports_a_higher_one() -> None:
    wrong = []
    for path in _modules():
        relative = path.relative_to(ROOT).as_posix()
        package = relative.split("/")[0]
        allowed = ENTRY_POINTS.get(relative, set())
        for name in _imports(path):
            top = name.split(".")[0]
            if top in LAYERS and LAYERS[top] > LAYERS[package] and top not in allowed:
                wrong.append(f"{relative} imports {name}")
            if top in LAYERS and top != package and LAYERS[top] == LAYERS[package]:
                wrong.append(f"{relative} imports {name} (a package beside its own)")
    assert wrong == []


def test_only_the_glue_imports_discord() -> None:
    wrong = [
        f"{path.relative_to(ROOT).as_posix()} imports {name}"
        for path in _modules()
        if path.relative_to(ROOT).parts[0] != "cogs"
        for name in _imports(path)
        if name.split(".")[0] == "discord"
    ]
    assert wrong == []


def test_no_import_circles() -> None:
    """No two modules import each other, directly or round a longer loop, even when one of the
    imports waits inside a function: a circle makes import order matter and hides which module
    owns what. (A package's `__init__` importing its own modules is how it exports names.)"""
    graph: dict[str, set[str]] = {}
    for path in _modules():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        graph[module] = set(_imports(path))
    graph = {
        module: {
            target
            for target in targets
            if target in graph and target != module and not target.startswith(f"{module}.")
        }
        for module, targets in graph.items()
    }
    cycles: list[str] = []
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*trail[trail.index(target) :], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


@pytest.mark.parametrize("module", ["bot.room", "cogs.room", "cogs.views", "cogs.embeds"])
def test_the_room_and_the_glue_load_without_torch(module: str) -> None:
    code = (
        f"import sys, {module}; print([m for m in ('torch', 'transformers') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
