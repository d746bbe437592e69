"""The rooms' import rules (docs/architecture.md): no import cycle inside any room, each room imports only the
rooms it may (flight/ nothing of ours and no command-line code), and the rooms of sim/ import only downwards
(docs/simulator.md).

Imports are read from the source (every ``import``/``from`` statement, at any depth: a function-level or
TYPE_CHECKING import ties modules together just the same), not by importing the modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = ("flight", "tools", "ground", "sim", "models")

#: Which of our rooms each room may import (besides itself): docs/architecture.md, "Who may import whom".
MAY_IMPORT = {
    "flight": set(),
    "tools": {"flight"},
    "ground": {"flight", "tools"},
    "sim": {"flight", "tools", "ground"},
    "models": {"flight", "tools"},
}


def module_name(path: Path) -> str:
    """``sim/mission/engine.py`` -> ``sim.mission.engine``; a package's ``__init__.py`` -> the package."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The modules of ours (in ``modules``) that the file at ``path`` imports."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import mod`` imports pkg.mod when that is a module, else a name of pkg.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # ``import a.b.c`` of a name: the longest module prefix
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> modules of ours it imports, over every .py file of our packages."""
    files = [p for room in OURS for p in (REPO / room).rglob("*.py")]
    modules = {module_name(p) for p in files}
    return {module_name(p): imports_of(p, modules) for p in files}


def find_cycle(graph: dict[str, set[str]], room: str) -> list[str] | None:
    """One import cycle among the modules of ``room`` (a list that starts and ends with the same module)."""
    nodes = {m for m in graph if m == room or m.startswith(f"{room}.")}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for dep in sorted(graph[m] & nodes):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(nodes):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


@pytest.mark.parametrize("room", OURS)
def test_no_import_cycle(room: str) -> None:
    cycle = find_cycle(import_graph(), room)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("room", OURS)
def test_room_imports_only_what_it_may(room: str) -> None:
    allowed = MAY_IMPORT[room] | {room}
    outside = {f"{m} -> {dep}" for m, deps in import_graph().items() if m.split(".")[0] == room
               for dep in deps if dep.split(".")[0] not in allowed}
    assert not outside, f"{room}/ imports a room it may not: {sorted(outside)}"


def test_flight_has_no_command_line_code() -> None:
    """The onboard room parses no command line: argparse (and so every CLI) lives in tools/ and above."""
    users = sorted(str(p.relative_to(REPO)) for p in (REPO / "flight").rglob("*.py")
                   if any(isinstance(n, ast.Import | ast.ImportFrom) and "argparse" in
                          ([a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""])
                          for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))))
    assert not users, f"flight/ modules importing argparse: {users}"


#: sim/'s rooms, bottom up: a module may import its own room and the ones below it, never one above.
SIM_LAYERS = {"sim.scenario": 0, "sim.tle": 0, "sim.cache": 0, "sim.world": 1, "sim.mission": 2, "sim.output": 3,
              "sim.study": 4, "sim.run": 5}


def sim_layer(module: str) -> int | None:
    """The layer of a sim module's room (None outside the rooms: ``sim`` itself, the data folders)."""
    for room, layer in SIM_LAYERS.items():
        if module == room or module.startswith(f"{room}."):
            return layer
    return None


def test_sim_rooms_import_downwards() -> None:
    upward = sorted(f"{m} -> {dep}" for m, deps in import_graph().items() if (low := sim_layer(m)) is not None
                    for dep in deps if (high := sim_layer(dep)) is not None and high > low)
    assert not upward, f"sim/ imports a room above its own: {upward}"


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"sim.a": {"sim.b"}, "sim.b": {"sim.c"}, "sim.c": {"sim.a"}, "sim.d": set()}
    assert find_cycle(graph, "sim") == ["sim.a", "sim.b", "sim.c", "sim.a"]
    assert find_cycle({"sim.a": {"sim.b"}, "sim.b": set()}, "sim") is None
