"""The layout's rules, checked on the source: which package may import which, and no cycles.

Every `import` counts, at module level or inside a function: a lazy import is still a dependency.
The table reads bottom-up; ARCHITECTURE.md draws it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "campaigner"

# What each part of campaigner may import of campaigner (besides itself). A part is a top-level
# module or package; "dispatch.request_sizing" names one module where a whole part is too much.
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "errors": set(),
    "metrics": set(),
    "examples": set(),
    # Concurrent calls batched into shared statements: pure asyncio, for whoever writes a lot.
    "group_commit": set(),
    # Start-up objects out of the garbage collector's walks: for the processes that pace requests.
    "heap": set(),
    "config_env": {"errors"},
    "config": {"errors", "config_env"},
    "text": {"model", "errors"},
    "store": {"model", "errors", "config"},
    # The rules of the law and the carriers, as data and pure functions (sending windows).
    "compliance": {"model", "errors", "config"},
    "dispatch": {"model", "errors", "config", "metrics", "compliance", "group_commit"},
    "providers": {"model", "errors", "config", "metrics", "text"},
    # The preview's ETA predicts the dispatcher (its request sizing) for the provider's batch.
    "planning": {"model", "errors", "config", "text", "providers", "dispatch.request_sizing"},
    "inbound": {"model", "errors", "config", "metrics", "store", "planning", "text", "group_commit"},
    # What every view shows of a campaign (dashboard, API, status, report): read from the store.
    "observe": {"model", "errors", "config", "store", "planning", "compliance"},
    "app": {
        *("model", "errors", "config", "metrics", "text", "heap"),
        *("store", "dispatch", "providers", "planning", "inbound", "observe", "compliance"),
    },
    # The sandbox stands in for a provider: it shares nothing with our client but the GSM alphabet.
    "sandbox": {"text"},
    "cli": {"*"},
    "__main__": {"cli"},
    "__init__": set(),
}


def modules() -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imported(path: Path, name: str) -> Iterator[tuple[str, int]]:
    """(campaigner module imported, line) for every import in the file, relative ones resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno  # may name a module or an attribute


def part_of(module: str) -> str | None:
    """The part of campaigner a dotted name belongs to (None: not campaigner)."""
    parts = module.split(".")
    if parts[0] != "campaigner":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def allowed(importer: str, target: str) -> bool:
    mine, theirs = part_of(importer), part_of(target)
    if theirs is None or theirs == mine or theirs == "__init__":
        return True
    rules = ALLOWED[mine or "__init__"]
    if "*" in rules or theirs in rules:
        return True
    inner = target.split(".")[1:]
    return any(".".join(inner[:n]) in rules for n in range(2, len(inner) + 1))


def violations() -> list[str]:
    found = []
    for name, path in modules():
        for target, line in imported(path, name):
            if not allowed(name, target):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {name} imports {target}")
    return found


def test_every_part_is_in_the_table() -> None:
    parts = {part_of(name) for name, _ in modules()}
    assert parts <= set(ALLOWED), f"add to ALLOWED: {sorted(p for p in parts - set(ALLOWED) if p)}"


def test_no_import_crosses_the_layers_the_wrong_way() -> None:
    assert violations() == []


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    # A store module that imported the dispatcher would be reported.
    assert not allowed("campaigner.store.store", "campaigner.dispatch.runner.CampaignRunner")
    assert not allowed("campaigner.dispatch.runner", "campaigner.store.store.Store")
    assert not allowed("campaigner.dispatch.runner", "campaigner.providers.cliqtel.CliqtelProvider")
    assert not allowed("campaigner.model.jobs", "campaigner.config.Config")
    assert not allowed("campaigner.app.daemon", "campaigner.cli.context.AppContext")
    assert allowed("campaigner.planning.planner", "campaigner.dispatch.request_sizing.claim_size")
    assert not allowed("campaigner.planning.planner", "campaigner.dispatch.runner.CampaignRunner")


def module_graph() -> dict[str, set[str]]:
    """Module → campaigner modules it imports (an attribute import counts as its module)."""
    names = {name for name, _ in modules()}
    graph: dict[str, set[str]] = {}
    for name, path in modules():
        edges = set()
        for target, _line in imported(path, name):
            while target and target not in names:
                target = target.rpartition(".")[0]
            # `from campaigner.store import migrations` names a module; the package itself is no edge.
            package = PACKAGE / Path(*target.split(".")[1:]) / "__init__.py"
            if target and target != name and not package.exists():
                edges.add(target)
        graph[name] = edges
    return graph


def test_no_import_cycles() -> None:
    graph = module_graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


# Programs of their own, whose output is their interface: the command line, the sandbox, the
# example generator. Everything else reports through return values, exceptions and logging.
MAY_PRINT = ("cli", "sandbox", "examples")


def test_nothing_below_the_command_line_prints() -> None:
    found = []
    for name, path in modules():
        if part_of(name) in MAY_PRINT or name.endswith("__main__"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert found == []


def libraries() -> list[str]:
    """Every module outside campaigner that a module of campaigner imports at its top level."""
    found = set()
    for _name, path in modules():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.add(node.module)
    return sorted(m for m in found if m.split(".")[0] not in ("campaigner", "__future__"))


# The libraries are imported once, before the fork (a child would otherwise spend most of its time
# importing pydantic, aiohttp, asyncpg, rich, ... again): the children still start from an
# interpreter that has imported nothing of campaigner, which is what this test is about. A library
# that fails to import here is left to the child that needs it, and fails there as before.
IMPORT_EACH = """
import importlib, os, sys
cut = sys.argv.index("--")
for library in sys.argv[1:cut]:
    try:
        importlib.import_module(library)
    except Exception:
        pass
if any(name == "campaigner" or name.startswith("campaigner.") for name in sys.modules):
    sys.exit("a library imported campaigner: the children would not start clean")
names = sys.argv[cut + 1 :]
failed = []
running = {}  # pid -> module; as many children at once as the machine has cores
width = max(1, os.cpu_count() or 1)


def reap():
    pid, status = os.wait()
    if status:
        failed.append(running[pid])
    del running[pid]


for name in names:
    if len(running) >= width:
        reap()
    pid = os.fork()
    if pid == 0:
        try:
            __import__(name)
        except BaseException as exc:
            print(f"{name}: {type(exc).__name__}: {exc}", flush=True)
            os._exit(1)
        os._exit(0)
    running[pid] = name
while running:
    reap()
sys.exit(1 if failed else 0)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_every_module_imports_on_its_own() -> None:
    # Each module in a child of an interpreter that has imported nothing of campaigner.
    names = [name for name, _ in modules() if not name.endswith("__main__")]
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_EACH, *libraries(), "--", *names],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
