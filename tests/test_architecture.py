"""The core's architecture, read from its source (ast), so a change that breaks it fails
here rather than in review: no import cycle inside kd_core, no private name of one package
used from another, nothing outside kd_core/demo and kd_core/cli that knows the demo world,
and no UI library in the core (the CLI's `serve` alone starts the UI); and every public function of kd_core
and ui has type hints.  Each rule is also run on a small made-up package, so the
checks themselves are shown to catch what they claim to."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "kd_core"
DEMO_ALLOWED = ("demo", "cli")  # the demo package itself, and the CLI that wires it in
UI_LIBRARIES = ("gradio", "ui")  # markdown_it is a declared core dependency (the report HTML)


def modules(root: Path) -> dict[str, tuple[Path, ast.Module]]:
    """Dotted module name -> (file, tree) for every module under `root`."""
    out = {}
    for f in sorted(root.rglob("*.py")):
        parts = f.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = (f, ast.parse(f.read_text(encoding="utf-8"), filename=str(f)))
    return out


def package_of(name: str, mods: dict) -> str:
    """`kd_core.x.y` -> `kd_core.x`; a top-level module is its own package."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else name


def imports(name: str, tree: ast.Module, is_package: bool) -> list[tuple[str, str | None, int]]:
    """(module imported from, name imported or None, line) for every import in the tree."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - node.level + 1]
                base = ".".join(here + ([base] if base else []))
            found += [(base, a.name, node.lineno) for a in node.names]
    return found


def graph(mods: dict) -> tuple[dict[str, set[str]], list[str], list[str], list[str]]:
    """The module import graph, and the private-name, demo and UI-library problems."""
    edges: dict[str, set[str]] = {m: set() for m in mods}
    private, demo, ui = [], [], []
    top = next(iter(mods)).split(".")[0]
    for m, (f, tree) in mods.items():
        aliases: dict[str, str] = {}
        for base, name, line in imports(m, tree, f.name == "__init__.py"):
            where = f"{f.relative_to(CORE.parent) if f.is_relative_to(CORE.parent) else f}:{line}"
            if base.split(".")[0] in UI_LIBRARIES and m.split(".")[1:2] != ["cli"]:  # `kd-studio serve` starts the UI
                ui.append(f"{where} imports {base}")
            if not base.startswith(top):
                continue
            target = f"{base}.{name}" if name and f"{base}.{name}" in mods else base
            if target in mods and target != m and not (m.startswith(target + ".") or target.startswith(m + ".")):
                edges[m].add(target)
            if target in mods and name and target.endswith("." + name):
                aliases[name] = target
            if name and name.startswith("_") and not name.startswith("__") and package_of(base, mods) != package_of(m, mods):
                private.append(f"{where} imports {base}.{name}")
            if (target.split(".")[1:2] == ["demo"]) and m.split(".")[1:2] not in ([p] for p in DEMO_ALLOWED):
                demo.append(f"{where} imports {target}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")
                    and package_of(aliases[node.value.id], mods) != package_of(m, mods)):
                private.append(f"{f.name}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    return edges, private, demo, ui


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def unhinted(roots: list[Path]) -> list[str]:
    """`file:line:name` of every public function (and public method of a public class) at
    the top of a module under `roots` that lacks a return annotation or one on a parameter
    (self and cls aside)."""
    missing = []
    for root in roots:
        for f in sorted(root.rglob("*.py")):
            tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
            for node in tree.body:
                items = [node]
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    items += [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
                for n in items:
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and not n.name.startswith("_"):
                        args = [a for a in n.args.args + n.args.kwonlyargs if a.arg not in ("self", "cls")]
                        if n.returns is None or any(a.annotation is None for a in args):
                            missing.append(f"{f.relative_to(root.parent)}:{n.lineno}:{n.name}")
    return missing


@pytest.fixture(scope="module")
def core():
    return graph(modules(CORE))


def test_the_core_has_no_import_cycle(core):
    assert cycles(core[0]) == []


def test_no_private_name_is_used_across_packages(core):
    assert core[1] == []


def test_only_demo_and_cli_know_the_demo_world(core):
    assert core[2] == []


def test_the_core_imports_no_ui_library(core):
    assert core[3] == []


def test_every_public_function_has_type_hints():
    missing = unhinted([CORE, CORE.parent / "ui"])
    assert missing == [], "public functions without type hints (heavy types go under TYPE_CHECKING):\n" + "\n".join(missing)


def test_the_checks_catch_a_cycle_a_private_import_and_a_demo_leak(tmp_path):
    pkg = tmp_path / "kd_core"
    for sub in ("alpha", "beta", "demo"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "alpha" / "one.py").write_text("from kd_core.beta.two import thing\n_hidden = 1\n")
    (pkg / "beta" / "two.py").write_text("from kd_core.alpha import one\nfrom kd_core.alpha.one import _hidden\nthing = one._hidden\nimport gradio\n")
    (pkg / "beta" / "three.py").write_text("from kd_core.demo.world import facts\n")
    (pkg / "demo" / "world.py").write_text("facts = []\n")
    edges, private, demo, ui = graph(modules(pkg))
    assert cycles(edges) == [["kd_core.alpha.one", "kd_core.beta.two"]]
    assert len(private) == 2 and all("_hidden" in p for p in private)
    assert len(demo) == 1 and "kd_core.demo.world" in demo[0]
    assert len(ui) == 1 and "gradio" in ui[0]


def test_the_hint_check_catches_an_unannotated_function(tmp_path):
    pkg = tmp_path / "kd_core"
    pkg.mkdir()
    (pkg / "mod.py").write_text(
        "def typed(x: int, *, y: str = '') -> int: ...\n"
        "def no_return(x: int): ...\n"
        "def no_param(x) -> int: ...\n"
        "def _private(x): ...\n"
        "class Public:\n"
        "    def method(self, y) -> None: ...\n"
        "    def _hidden(self, y): ...\n"
        "    def fine(self) -> None: ...\n"
        "class _Private:\n"
        "    def method(self, y): ...\n"
    )
    assert unhinted([pkg]) == ["kd_core/mod.py:2:no_return", "kd_core/mod.py:3:no_param", "kd_core/mod.py:6:method"]
