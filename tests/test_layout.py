"""The code's layering: who may import whom, no import circles, and where SQL text may live."""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("events", "projections", "tracker")
# SQL text lives in the event store, the projections, the one module that opens the database,
# and the sandbox (its own world); everything else reads through named queries.
SQL_HOMES = ("events/", "projections/", "tracker/db.py", "tracker/sandbox/")
SQL = re.compile(r"\.execute(many)?\(|\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bDELETE FROM\b")


def _modules() -> dict[str, Path]:
    """Every first-party module by dotted name."""
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _top_level_imports(path: Path, name: str) -> set[str]:
    """Modules a module imports when it is imported (not under TYPE_CHECKING, not in functions)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    """First-party import edges between modules."""
    modules = _modules()
    return {name: {m for m in _top_level_imports(path, name) if m in modules and m != name}
            for name, path in modules.items()}


def test_lower_layers_import_nothing_from_higher_ones() -> None:
    """events/ imports nothing from projections/ or tracker/; projections/ nothing from tracker/."""
    upward = [(name, dep) for name, deps in _graph().items() for dep in deps
              if (name.startswith("events") and dep.split(".")[0] in ("projections", "tracker"))
              or (name.startswith("projections") and dep.split(".")[0] == "tracker")]
    assert upward == []


def test_no_import_circles() -> None:
    """No module imports itself back through others when the package is loaded."""
    graph, circles = _graph(), []

    def visit(name: str, path: list[str], done: set[str]) -> None:
        for dep in sorted(graph[name]):
            if dep in path:
                circles.append([*path[path.index(dep):], dep])
            elif dep not in done:
                visit(dep, [*path, dep], done)
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name], done)
    # A package's __init__ importing its own submodules is how a package is built, not a circle.
    real = [c for c in circles
            if not any(b.startswith(a + ".") or a.startswith(b + ".") for a, b in itertools.pairwise(c))]
    assert real == []


def test_sql_text_lives_only_beside_the_tables() -> None:
    """Outside events/, projections/, tracker/db.py and the sandbox no module holds SQL text."""
    offenders = []
    for path in _modules().values():
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(SQL_HOMES):
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SQL.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == []


def test_every_path_the_readme_names_exists() -> None:
    """The README's map of the code names only files and folders that exist (it went stale once)."""
    named = re.findall(r"`((?:events|projections|tracker|bench|tests|contrib|docs)/[\w/.\-]*)`",
                       (ROOT / "README.md").read_text(encoding="utf-8"))
    assert named  # the pattern still finds the map
    assert sorted({p for p in named if not (ROOT / p.rstrip("/")).exists()}) == []
