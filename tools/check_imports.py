"""Check pitot_tf's import graph: no cycles, and imports only point down the layers.

Usage: ``python tools/check_imports.py [PACKAGE_DIR]`` (default: ``pitot_tf`` beside this
file's folder). Prints one line per violation and exits 1 when there is any, 0 otherwise.

Every ``import`` and ``from ... import`` counts, at module level or deferred inside a function:
a deferred import hides a cycle from Python's import machinery but not from the reader, who
still has to know which module needs which. Imports under ``if TYPE_CHECKING:`` are left out
(they never run). Relative imports are resolved, and ``from package import name`` where the
package's ``__init__`` re-exports ``name`` from a submodule is an edge to that submodule (the
module the name really comes from). Imports by a computed name (``importlib.import_module``)
are not seen. Besides cycles between modules, a cycle between folders is reported (peers of
one layer, such as ``tracking`` and ``serving``, may import one another one way only). Only
the standard library is used, so CI can run this before anything is installed.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: The layers, lowest first: a module may import from its own layer or a lower one. Keys are
#: the first name below the package (a subpackage or a top-level module). Top-level modules
#: sit at the bottom because everything reads them and they read nothing of ours above
#: themselves: ``errors`` (exception types), ``tensorflow_import`` (the start-up filter that
#: ``pitot_tf/__init__`` installs) and ``malloc_arenas`` (which it applies), ``config`` (the
#: typed config; the keys each model kind reads are pure data there, not in ``models``) and
#: ``presets`` (named config overrides).
#: They are one layer, below ``data``, so that resolving a preset never needs the data layer,
#: Keras or TensorFlow. The package's own ``__init__`` (``""``) is there too.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("", "errors", "malloc_arenas", "tensorflow_import", "config", "config_reference", "presets",
     "redaction", "db_drivers"),
    ("data",),
    ("models",),
    ("training",),
    ("conformal",),
    ("tracking", "search", "sweep", "serving", "planning", "reporting"),
    ("cli",),
)
LAYER_OF: dict[str, int] = {name: rank for rank, names in enumerate(LAYERS) for name in names}


@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``source`` imports ``target`` at ``path:line``."""

    source: str
    target: str
    path: Path
    line: int
    deferred: bool

    def where(self) -> str:
        kind = "deferred import" if self.deferred else "import"
        return f"{shown(self.path)}:{self.line}: {kind}"


def shown(path: Path) -> Path:
    """``path`` relative to the working directory when it is below it (shorter lines)."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package at ``root``, dotted name → file (a package is its
    ``__init__.py``)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _statements(tree: ast.AST, deferred: bool = False,
                ) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement under ``tree`` with whether it runs later than module import
    (inside a function), skipping ``if TYPE_CHECKING:`` bodies."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, deferred
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from _statements(ast.Module(body=[child], type_ignores=[]), deferred)
        else:
            inner = deferred or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                   ast.Lambda))
            yield from _statements(node, inner)


class Graph:
    """The import edges between the modules of one package."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.package = root.name
        self.modules = module_names(root)
        self.trees = {name: ast.parse(path.read_text(), filename=str(path))
                      for name, path in self.modules.items()}
        self.edges = [edge for name in self.modules for edge in self._imports_of(name)]

    def _base(self, module: str, node: ast.ImportFrom) -> str:
        """The absolute module named by ``from <node.module> import``, relative ones resolved."""
        if not node.level:
            return node.module or ""
        is_package = self.modules[module].name == "__init__.py"
        parts = module.split(".")
        parts = parts if is_package else parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        return ".".join(parts + ([node.module] if node.module else []))

    def _owner(self, dotted: str) -> str | None:
        """The longest prefix of ``dotted`` that is one of our modules."""
        parts = dotted.split(".")
        while parts:
            if ".".join(parts) in self.modules:
                return ".".join(parts)
            parts.pop()
        return None

    def _defining(self, package: str, name: str, seen: frozenset[str] = frozenset()) -> str:
        """Where ``from package import name`` really takes ``name`` from: the submodule
        ``package.name``, or the module a package ``__init__`` re-exports it from."""
        if f"{package}.{name}" in self.modules:
            return f"{package}.{name}"
        if package in seen or self.modules[package].name != "__init__.py":
            return package
        for node, _ in _statements(self.trees[package]):
            if isinstance(node, ast.ImportFrom) and any(
                    (alias.asname or alias.name) == name for alias in node.names):
                source = self._owner(self._base(package, node))
                original = next(alias.name for alias in node.names
                                if (alias.asname or alias.name) == name)
                if source is not None:
                    return self._defining(source, original, seen | {package})
        return package

    def _imports_of(self, module: str) -> Iterator[Import]:
        path = self.modules[module]
        for node, deferred in _statements(self.trees[module]):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [self._owner(alias.name) for alias in node.names]
            else:
                base = self._owner(self._base(module, node))
                if base is not None:
                    targets = [self._defining(base, alias.name) for alias in node.names]
            for target in dict.fromkeys(targets):
                if target is not None and target != module:
                    yield Import(module, target, path, node.lineno, deferred)

    def layer(self, module: str) -> tuple[str, int | None]:
        """The layer key of ``module`` (first name below the package) and its rank."""
        key = module.split(".")[1] if "." in module else ""
        return key, LAYER_OF.get(key)


def strongly_connected(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative); each has its nodes in visit order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(edges.get(start, ())))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, ()))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                found.append(sorted(component, key=index.__getitem__))
    return found


def shortest_cycle(start: str, members: set[str], edges: dict[str, list[str]]) -> list[str]:
    """A shortest path ``start -> ... -> start`` inside one strongly connected component."""
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in edges.get(node, ()):
                if child not in members or child in parent:
                    continue
                parent[child] = node
                if child == start:
                    path = [start]
                    while path[-1] != start or len(path) == 1:
                        path.append(parent[path[-1]])
                    return path[::-1]
                following.append(child)
        frontier = following
    return [start, start]


def violations(root: Path) -> list[str]:
    """One line per import cycle and per import that points up the layers."""
    graph = Graph(root)
    lines = []
    for module, path in graph.modules.items():
        key, rank = graph.layer(module)
        if rank is None:
            lines.append(f"{shown(path)}: {module} is in no layer "
                         f"(add {key!r} to LAYERS in tools/check_imports.py)")
    for edge in graph.edges:
        source_key, source_rank = graph.layer(edge.source)
        target_key, target_rank = graph.layer(edge.target)
        if source_rank is not None and target_rank is not None and target_rank > source_rank:
            lines.append(f"{edge.where()} of {edge.target} from {edge.source}: layer "
                         f"{source_key or graph.package!r} must not import the higher layer "
                         f"{target_key!r}")
    adjacency: dict[str, list[str]] = {}
    first_edge: dict[tuple[str, str], Import] = {}
    for edge in graph.edges:
        adjacency.setdefault(edge.source, []).append(edge.target)
        first_edge.setdefault((edge.source, edge.target), edge)
    for component in strongly_connected(list(graph.modules), adjacency):
        if len(component) < 2:
            continue
        cycle = shortest_cycle(component[0], set(component), adjacency)
        steps = "; ".join(first_edge[(a, b)].where() + f" of {b}"
                          for a, b in itertools.pairwise(cycle))
        extra = f" (one of the cycles among {len(component)} modules)" if (
            len(component) > len(cycle) - 1) else ""
        lines.append(f"import cycle {' -> '.join(cycle)}{extra}: {steps}")
    lines.extend(_folder_cycles(graph))
    return list(dict.fromkeys(lines))


def _folder_cycles(graph: Graph) -> list[str]:
    """Cycles between folders (layer keys) even where no modules form one: ``tracking`` may
    import ``serving`` or the other way round, not both. Between layers such a cycle needs an
    upward import, reported above; so in practice this checks the peers of one layer."""
    adjacency: dict[str, list[str]] = {}
    example: dict[tuple[str, str], Import] = {}
    for edge in graph.edges:
        source, target = graph.layer(edge.source)[0], graph.layer(edge.target)[0]
        if source != target:
            adjacency.setdefault(source, []).append(target)
            example.setdefault((source, target), edge)
    lines = []
    for component in strongly_connected(sorted(adjacency), adjacency):
        if len(component) < 2:
            continue
        cycle = shortest_cycle(component[0], set(component), adjacency)
        steps = "; ".join(example[(a, b)].where() + f" of {example[(a, b)].target}"
                          for a, b in itertools.pairwise(cycle))
        lines.append(f"folder cycle {' -> '.join(cycle)}: {steps}")
    return lines


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent / "pitot_tf"
    if not (root / "__init__.py").is_file():
        print(f"{root}: not a package (no __init__.py)", file=sys.stderr)
        return 2
    found = violations(root)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
