"""The package's layering, as the README's layout table states it, read from the source (no
imports run): formats never import backends and backends never import formats, models see only
canonical forms and the core, and the core stands alone (but for a leaf of constants); none of
these, nor training, imports the problem families (``problems/``: bench, CLI and demo do). A change that crosses a line
fails here with the module and what it imported."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "learned_solvers"

# the parts of the package each layer may import besides itself (``_highs``: the HiGHS binding's
# status names and reader options, shared by the MPS adapter and the HiGHS backend; ``_fenicsx``:
# dolfinx imported the same way by the dolfinx adapter and the PDE families; ``_mpi``: rank-0 work
# whose errors every rank must see, in the dolfinx adapter and the PDE starter; ``_progress``:
# tqdm, quiet in logs, for training's and the bench's progress bars; ``_interrupt``, a leaf of the
# standard library: whether Ctrl-C or SIGTERM stopped a run, for training's message and the
# bench's, and the hold on interrupts that the dolfinx adapter's and the PETSc backend's calls run
# under; ``_limits``: constants that import nothing, which the command line checks without
# importing the core's torch)
ALLOWED = {
    "core": {"_limits"},
    "canonical": {"core"},
    "formats": {"canonical", "_highs", "_fenicsx", "_mpi", "_interrupt"},
    "backends": {"canonical", "_highs", "_interrupt"},
    "models": {"canonical", "core"},
    "training": {"canonical", "core", "models", "backends", "options", "_threads", "_progress", "_interrupt"},
}


def _imports(path: Path) -> set[str]:
    """The learned_solvers and problems modules ``path`` imports, relative imports resolved, as
    dotted names."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts if parts[-1] == "__init__" else parts[:-1]
    package = [p for p in package if p != "__init__"]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            out.update(n for n in names if n.split(".")[0] in ("learned_solvers", "problems"))
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] in ("learned_solvers", "problems"))
    return out


def test_each_layer_imports_only_what_the_layout_allows():
    crossings = []
    for layer, allowed in ALLOWED.items():
        files = sorted((PACKAGE / layer).glob("*.py"))
        assert files, f"no modules under learned_solvers/{layer}"
        for path in files:
            for module in sorted(_imports(path)):
                if module.split(".")[0] == "problems":
                    crossings.append(f"learned_solvers/{layer}/{path.name} imports {module}")
                    continue
                part = module.split(".")[1] if "." in module else ""
                if part and part != layer and part not in allowed:
                    crossings.append(f"learned_solvers/{layer}/{path.name} imports {module}")
    assert not crossings, "layering crossed:\n" + "\n".join(crossings)
    for leaf in ("_limits.py", "_interrupt.py"):  # imported by the core, or by formats and backends alike
        assert not _imports(PACKAGE / leaf), f"learned_solvers/{leaf} must import nothing of the package"


def test_the_reader_resolves_relative_imports():
    """The check itself: relative imports of a sibling package and of a private module."""
    src = PACKAGE / "formats" / "mps.py"
    got = _imports(src)
    assert "learned_solvers.canonical" in got and "learned_solvers._highs" in got
    assert not any(m.startswith("learned_solvers.backends") for m in got)
    assert "problems.registry" in _imports(PACKAGE / "bench" / "qp.py")  # bench may; the layers above may not
    assert {"learned_solvers.core", "learned_solvers.canonical"} <= {
        ".".join(m.split(".")[:2]) for m in _imports(PACKAGE / "models" / "qp_gnn.py")}
