"""The layer rules inside services/, read from the source (ast), not from what happens to be imported:
no service imports the app facade (services.app) - the facade builds the services and hands each
what it needs - and the services packages import each other without a circle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
# entry points that open an app themselves (the facade is what they run)
MAY_IMPORT_FACADE = ("services/cli/", "services/headless.py", "services/sandbox/mode.py", "services/app.py")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, wherever the import stands (TYPE_CHECKING blocks and function
    bodies included): `from a.b import c` counts as a.b and as a.b.c."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    return found


def service_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SERVICES.rglob("*.py"))}


def _is_package(dotted: str) -> bool:
    return (ROOT.joinpath(*dotted.split(".")) / "__init__.py").is_file()


def domain(module: str) -> str:
    """The package a module belongs to, the deepest one under services/ (services.sync.store ->
    services.sync, services.connect.oauth.base -> services.connect.oauth); a core module
    (services.clock) is its own node."""
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        candidate = ".".join(parts[:n])
        if _is_package(candidate):
            return candidate
    return ".".join(parts[:2])


def package_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Packages and core modules of services/ and which of them each imports. The facade and the
    entry points sit on top of everything and are left out."""
    top = ("services.app", "services.cli", "services.headless")
    packages = {domain(m) for m in modules if m.count(".") >= 1 and not m.startswith(top)}
    # a sub-package belongs to its parent (an edge parent -> child is expected); the child must
    # still never import back into its parent, which the edges below would show as a circle
    graph: dict[str, set[str]] = {p: set() for p in packages}
    for mod, path in modules.items():
        src = domain(mod)
        if src not in packages or mod.startswith("services.sandbox.mode"):
            continue
        for target in imports_of(path):
            dst = domain(target)
            if dst in packages and dst != src:
                graph[src].add(dst)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One representative path per strongly connected component of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_service_imports_the_app_facade() -> None:
    offenders = []
    for path in service_modules().values():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(MAY_IMPORT_FACADE):
            continue
        if any(t == "services.app" or t.startswith("services.app.") for t in imports_of(path)):
            offenders.append(rel)
    assert offenders == [], ("these services import the facade; take what they need as arguments or a "
                             f"Protocol beside the service instead: {offenders}")


def test_the_services_packages_import_each_other_without_a_circle() -> None:
    found = cycles(package_graph(service_modules()))
    assert found == [], f"import circles between services packages: {found}"


def test_the_checks_see_a_circle_and_a_facade_import(tmp_path: Path) -> None:
    graph = {"services.a": {"services.b"}, "services.b": {"services.c"}, "services.c": {"services.a"},
             "services.d": {"services.a"}}
    assert cycles(graph) == [["services.a", "services.b", "services.c"]]
    f = tmp_path / "services" / "x" / "m.py"
    f.parent.mkdir(parents=True)
    f.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from services.app import WearSync\n"
                 "from ..y import z\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert {"services.app", "services.app.WearSync", "services.y", "services.y.z"} <= imports_of(f)
    finally:
        ROOT = saved
