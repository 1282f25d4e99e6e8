"""The tree is the architecture, and this test keeps it so.

- Layers: `registry.shared` (what both sides share) imports nothing else of the registry;
  `registry.server` (plumbing) only `shared`; the client side (`registry.client`) only
  `shared`, even in lazy imports, so a worker never pulls in the server; `registry.schemas`
  (schema versions and compatibility, pure logic) only `shared`; the features
  (`catalog`, `liveness`, `dispatch`, `schedules`, `search_attributes`, `system`) build on
  `shared` and `server`; the composition (`app`, `runtime`) and the dev stack never on the
  client side.
- No import cycles between modules (imports at module level, `TYPE_CHECKING` blocks aside).
- The client side imports without the server's dependencies installed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "registry"
FEATURES = (
    "catalog",
    "liveness",
    "dispatch",
    "schedules",
    "schemas",
    "search_attributes",
    "system",
)
# What each part may import of the registry (a prefix of the imported module's name).
ALLOWED: dict[str, tuple[str, ...]] = {
    "shared": ("shared",),
    "server": ("shared", "server"),
    "client": ("shared", "client"),
    **{feature: ("shared", "server", *FEATURES) for feature in FEATURES},
    "app": ("shared", "server", "runtime", *FEATURES),
    "runtime": ("shared", "server", *FEATURES),
    "devstack": ("shared", "server", "app", "devstack", *FEATURES),
    "worker": ("client",),
    # export and import (registry.catalog.transfer) run in the command's process
    "cli": ("shared", "server", "client", "devstack", "app", "catalog"),
}
# Distributions only the server needs: the client side must import without them.
SERVER_ONLY = (
    "aiohttp",
    "prometheus_client",
    "grpc_health",
    "grpc_reflection",
    "openapi_ui_bundles",
)


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def registry_imports(path: Path, *, module_level_only: bool) -> Iterator[tuple[str, int]]:
    """(imported registry module, line) of every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    known = modules()
    for node in _walk(tree, module_level_only):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from registry.x import y`: y may be a module
                candidate = f"{node.module}.{alias.name}"
                target = candidate if candidate in known else node.module
                if target.startswith("registry."):
                    yield target, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("registry."):
                    yield alias.name, node.lineno


def _walk(tree: ast.AST, module_level_only: bool) -> Iterator[ast.AST]:
    if not module_level_only:
        yield from ast.walk(tree)
        return
    for node in getattr(tree, "body", []):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, (ast.If, ast.Try)):
            yield from _walk(node, module_level_only)


def part_of(module: str) -> str:
    return module.split(".")[1]


def test_every_part_imports_only_the_layers_below_it() -> None:
    wrong = []
    for name, path in modules().items():
        if name == "registry":
            continue
        part = part_of(name)
        assert part in ALLOWED, f"{name}: a new top-level part? add it to ALLOWED"
        for target, line in registry_imports(path, module_level_only=False):
            if part_of(target) not in ALLOWED[part]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert wrong == []


def test_no_import_cycles() -> None:
    graph = {
        name: {target for target, _ in registry_imports(path, module_level_only=True)}
        for name, path in modules().items()
    }
    cycles = [scc for scc in _strongly_connected(graph) if len(scc) > 1]
    assert cycles == []


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_client_side_imports_without_the_servers_dependencies() -> None:
    client = sorted(n for n in modules() if n.startswith(("registry.client", "registry.shared")))
    code = f"""
import importlib.abc, sys
class NoServer(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {SERVER_ONLY!r} or name.startswith(("registry.server",
                "registry.app", "registry.runtime")):
            raise ImportError(f"the client side imported {{name}}")
        return None
sys.meta_path.insert(0, NoServer())
import importlib
for name in {[*client, "registry.worker"]!r}:
    importlib.import_module(name)
from registry.worker import RegistryPlugin, KeeperPolicy, ClientSettings
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip() == "ok", result.stderr[-3000:]


def test_the_registry_workflows_import_only_modules_passed_through_the_sandbox() -> None:
    """Every registry module the workflows import (but their own) is imported once per
    process, not once per run: a module added to their imports must be added to
    SANDBOX_PASSTHROUGH, after checking it is pure."""
    code = """
import sys
before = set(sys.modules)
import registry.catalog.workflow
print(" ".join(sorted(m for m in set(sys.modules) - before if m.startswith("registry."))))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    imported = set(result.stdout.split()) - {"registry.catalog.workflow"}
    from registry.catalog.workflow import SANDBOX_PASSTHROUGH

    packages = {"registry.catalog", "registry.dispatch"}  # their __init__ only: docstrings
    not_passed = {
        name
        for name in imported - packages
        if not any(name == p or name.startswith(p + ".") for p in SANDBOX_PASSTHROUGH)
    }
    assert not not_passed
    assert imported  # the check saw the workflows' imports
