"""The package's shape: no import cycle, and no module outside conformance/frameworks/
naming a framework (the adapters own all that the suite knows of one)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.frameworks import adapters

CHECKOUT = Path(__file__).resolve().parent.parent
PACKAGES = ("conformance", "reference", "benchmarks")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((CHECKOUT / package).rglob("*.py")):
            parts = path.relative_to(CHECKOUT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _owner(name: str, modules) -> str | None:
    """The module of ours that `name` (a dotted import) is, or is inside of."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of ours it imports (at any depth of its code: a function's
    own import counts as much as a top-level one)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, *([node.module] if node.module else [])])
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            else:
                continue
            for target in targets:
                owner = _owner(target, modules)
                if owner and owner != name:
                    edges.add(owner)
                    break
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    graph = import_graph()
    assert graph.get("conformance.engine")  # the scan works
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_nothing_imports_the_cli():
    importers = [m for m, edges in import_graph().items() if "conformance.cli" in edges]
    assert importers == ["conformance.__main__"]


def _framework_words() -> set[str]:
    """Every name an adapter declares: its framework, packages, distributions, module,
    the variables of its environment, the modules it warms up."""
    words = set()
    for a in adapters():
        if a.name == "numpy":  # the suite's own array library, used everywhere
            continue
        words |= {a.name, a.module, *a.packages, *a.distributions, *a.env, *a.warm_imports}
        if a.thread_env is not None:
            words |= set(a.thread_env(1))
        for v in a.variants:
            words |= set(v.env)
    return words


def names_a_framework(text: str, words: set[str]) -> bool:
    """Whether a string is, or begins with, a framework's name: "torch", "torch/compile",
    "tf.keras.activations.selu" (an alias of the package), "JAX_ENABLE_X64"."""
    head = text.replace("/", ".").split(".")[0].split(" ")[0]
    return head in words or head in {"tf", "jnp", "ort"}


def framework_strings(path: Path, words: set[str]) -> list[str]:
    """The string constants of a module, docstrings apart, that name a framework."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    return [
        f"{path.relative_to(CHECKOUT)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and names_a_framework(node.value, words)
    ]


def test_no_module_outside_the_adapters_names_a_framework():
    words = _framework_words()
    assert {"torch", "tensorflow-cpu", "JAX_ENABLE_X64", "KERAS_BACKEND"} <= words
    found = []
    for path in _modules().values():
        if "frameworks" not in path.relative_to(CHECKOUT).parts:
            found += framework_strings(path, words)
    assert found == []


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("torch", True),
        ("torch/compile", True),
        ("tf.keras.activations.selu", True),
        ("KERAS_BACKEND", True),
        ("keras-idiom", False),  # a check's name
        ("forward", False),
    ],
)
def test_the_scan_recognises_a_framework_name(text, named):
    assert names_a_framework(text, _framework_words()) is named


#: What a worker's interpreter may lack: the suite's own dependencies. The worker, the
#: wire, every adapter and the worker tasks import none of them (at module level), so
#: `--python PATH` needs numpy, ml_dtypes and the framework only.
SUITE_ONLY = (
    "mpmath",
    "gmpy2",
    "pytest",
    "packaging",
    "scipy",
    "jinja2",
    "matplotlib",
    "reference",
)
WORKER_SIDE = (
    "conformance.process.worker",
    "conformance.process.wire",
    "conformance.sweep.call",
    "conformance.selfnorm.child",
    *(f"conformance.frameworks.{a.module}" for a in adapters()),
)


def test_the_worker_side_imports_nothing_but_numpy_and_ml_dtypes():

    blocker = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {SUITE_ONLY!r}:
            raise ImportError("the worker side imported " + name)
sys.meta_path.insert(0, Block())
for module in {WORKER_SIDE!r}:
    __import__(module)
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", blocker], cwd=CHECKOUT, capture_output=True, text=True
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_a_missing_program_makes_an_implementation_unavailable_with_its_reason():
    import dataclasses

    from conformance.registry import BY_ID

    spec = dataclasses.replace(
        BY_ID["numpy/reference"], programs={"no-such-compiler-xyz": "apt-get install it"}
    )
    assert spec.unavailable() == "no-such-compiler-xyz is not on PATH (apt-get install it)"
    assert BY_ID["numpy/reference"].unavailable() is None


def test_the_gate_parts_split_the_registry_and_a_variant_overrides_its_adapter():
    """Every implementation is in exactly one part of the gate: its variant's, else its
    adapter's; `python -m conformance.registry --part P` prints that part's ids."""
    from conformance.frameworks.base import GatePart
    from conformance.registry import BY_ID, SPECS

    for a in adapters():
        for v in a.variants:
            assert BY_ID[f"{a.name}/{v.name}"].gate == (v.gate or a.gate)
    printed = {}
    for part in GatePart:
        done = subprocess.run(
            [sys.executable, "-m", "conformance.registry", "--part", part.value],
            cwd=CHECKOUT,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        printed[part] = done.stdout.strip().split("|")
        assert printed[part] == [s.id for s in SPECS if s.gate == part]
    assert all(printed.values())  # neither part is empty
    assert sorted(printed[GatePart.MAIN] + printed[GatePart.MORE]) == sorted(BY_ID)
    # a variant's own part wins over its adapter's (torch is main, torch/compile more)
    assert BY_ID["torch/functional"].gate == GatePart.MAIN
    assert BY_ID["torch/compile"].gate == GatePart.MORE
