"""The import rules of docs/architecture.md, checked on the sources (imports inside functions count):

- Starlette is imported only under ``node/http/``;
- ``node/activitypub/`` (the protocol) and ``node/core/`` import no domain package and not the web layer;
- no domain package imports the web layer or the composition modules;
- the web layer and the inbox handlers build no query: of the database libraries they import only
  ``Session`` and ``Engine``;
- there is no import cycle between packages;
- every package appears in the architecture document's tree.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE = ROOT / "node"
DOMAIN = frozenset(
    {
        "accounts",
        "places",
        "catalog",
        "market",
        "timebank",
        "groups",
        "search",
        "conversations",
        "demo",
        "research",
        "telemanagement",
        "emails",
    }
)
COMPOSITION = frozenset({"app", "asgi", "worker", "cli", "models", "commands"})
PROTOCOL_MAY_IMPORT = frozenset({"core", "settings"})


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(NODE.rglob("*.py")):
        if "migrations" in path.relative_to(NODE).parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, path


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def package_of(module: str) -> str | None:
    """The package of ``node.X...``: ``X`` (a top-level module is a package of its own)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "node" and len(parts) > 1 else None


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    known = {package_of(name) for name, _ in modules()}
    for name, path in modules():
        source = package_of(name)
        if source is None:  # node/__init__.py
            continue
        edges = graph.setdefault(source, set())
        for imported in imports(path):
            target = package_of(imported)
            if target is not None and target != source and target in known:
                edges.add(target)
    return graph


def test_starlette_is_imported_only_by_the_web_layer() -> None:
    offenders = [
        name
        for name, path in modules()
        if not name.startswith("node.http")
        and any(m == "starlette" or m.startswith("starlette.") for m in imports(path))
    ]
    assert offenders == []


def test_the_protocol_and_the_core_import_no_domain_package() -> None:
    offenders = []
    for name, path in modules():
        package = package_of(name)
        if package not in ("activitypub", "core"):
            continue
        allowed = {package, *PROTOCOL_MAY_IMPORT} | ({"activitypub"} if package == "activitypub" else set())
        for imported in imports(path):
            target = package_of(imported)
            if target is not None and target not in allowed:
                offenders.append(f"{name} imports {imported}")
    assert offenders == []


def test_domain_packages_do_not_import_the_web_layer_or_the_composition() -> None:
    offenders = []
    for name, path in modules():
        if package_of(name) not in DOMAIN:
            continue
        for imported in imports(path):
            target = package_of(imported)
            if target == "http" or (target in COMPOSITION and not name.startswith("node.demo")):
                offenders.append(f"{name} imports {imported}")
    assert offenders == []


def query_builders(path: Path) -> list[str]:
    """What ``path`` imports from the database libraries beyond ``Session`` and ``Engine``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            "sqlmodel",
            "sqlalchemy",
        ):
            extra = {alias.name for alias in node.names} - {"Session", "Engine"}
            if extra:
                found.append(f"{sorted(extra)} from {node.module}")
        elif isinstance(node, ast.Import) and any(
            a.name.split(".")[0] in ("sqlmodel", "sqlalchemy") for a in node.names
        ):
            found.append(str([a.name for a in node.names]))
    return found


def test_the_web_layer_builds_no_query() -> None:
    offenders = [
        f"{name} imports {what}"
        for name, path in modules()
        if name.startswith("node.http")
        for what in query_builders(path)
    ]
    assert offenders == []


def test_inbox_handlers_build_no_query() -> None:
    """The handlers of incoming activities call their package's storage functions."""
    handlers = [
        (name, path)
        for name, path in modules()
        if name
        in ("node.activitypub.social.inbound", "node.groups.federation", "node.conversations.federation")
        or (name.startswith(("node.market.", "node.timebank.")) and name.endswith(".federation"))
    ]
    assert len(handlers) == 9
    offenders = [f"{name} imports {what}" for name, path in handlers for what in query_builders(path)]
    assert offenders == []


def test_the_marketplace_does_not_import_the_time_bank() -> None:
    """The time bank reads agreements; completing one knows nothing of payments (the job pays)."""
    offenders = [
        f"{name} imports {imported}"
        for name, path in modules()
        if package_of(name) == "market"
        for imported in imports(path)
        if package_of(imported) == "timebank"
    ]
    assert offenders == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(package: str) -> None:
        index[package] = low[package] = len(index)
        stack.append(package)
        on_stack.add(package)
        for target in sorted(graph.get(package, ())):
            if target not in index:
                visit(target)
                low[package] = min(low[package], low[target])
            elif target in on_stack:
                low[package] = min(low[package], index[target])
        if low[package] == index[package]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == package:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for package in sorted(graph):
        if package not in index:
            visit(package)
    return found


def test_there_is_no_import_cycle_between_packages() -> None:
    assert _cycles(package_graph()) == []


def test_the_cycle_check_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_every_package_is_in_the_architecture_document() -> None:
    document = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    tree = document.split("```", 2)[1]
    listed = set(re.findall(r"\b([a-z_0-9]+)/", tree))
    packages = {
        path.parent.name
        for path in NODE.rglob("__init__.py")
        if path.parent != NODE and not path.parent.name.startswith("_")
    }
    assert packages - listed == set()
