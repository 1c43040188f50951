"""Print the layout figures of the code: the largest modules, the longest checks and the import cycles among our own modules.

    python bench/layout.py            # largest ten modules (lines), the checks' functions, every import cycle
    python bench/layout.py --most 20
    python bench/layout.py --root /path/to/another/checkout

Cycles are read from the import statements (module level and inside functions alike, since
either can tie two modules together), not by importing anything. Only our own packages count.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("checks", "bot", "sandbox")


def _modules(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")) if (root / package).is_dir() else []:
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            candidates = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
        else:
            continue
        for candidate in candidates:
            # the longest known module the import names (a package's submodule, else the package)
            while candidate and candidate not in known:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
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
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _branches(fn: ast.AST) -> int:
    """Decision points: if/elif, loops, except clauses, conditional expressions, each extra and/or
    operand and comprehension condition (what makes a function hard to follow)."""
    n = 0
    for node in ast.walk(fn):
        if isinstance(node, ast.If | ast.For | ast.While | ast.ExceptHandler | ast.IfExp | ast.match_case):
            n += 1
        elif isinstance(node, ast.BoolOp):
            n += len(node.values) - 1
        elif isinstance(node, ast.comprehension):
            n += len(node.ifs)
    return n


def _guide_functions(root: Path) -> list[tuple[int, int, str]]:
    """(lines, branches, name) of every top-level function in checks/guide/, longest first."""
    out = []
    for path in sorted((root / "checks" / "guide").glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                out.append((lines, _branches(node), f"{path.stem}.{node.name}"))
    return sorted(out, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--most", type=int, default=10)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to read (default: this one)")
    args = parser.parse_args()
    known = _modules(args.root)
    sizes = sorted(((len(p.read_text(encoding="utf-8").splitlines()), n) for n, p in known.items()), reverse=True)
    print(f"largest {args.most} of {len(known)} modules (lines):")
    for lines, name in sizes[: args.most]:
        print(f"  {lines:5d}  {name}")
    # a package's __init__ importing its own submodules is how packages work, not a cycle to fix
    graph = {n: {t for t in _imports(n, p, known) if not (p.name == "__init__.py" and t.startswith(n + "."))}
             for n, p in known.items()}
    functions = _guide_functions(args.root)
    if functions:
        lines = sorted(f[0] for f in functions)
        print(f"checks/guide functions: {len(functions)}, median {lines[len(lines) // 2]} lines; longest:")
        for n, branches, name in functions[:5]:
            print(f"  {n:5d} lines {branches:3d} branches  {name}")
    cycles = _cycles(graph)
    print(f"import cycles: {len(cycles)}")
    for cycle in cycles:
        print("  " + " <-> ".join(cycle))


if __name__ == "__main__":
    main()
