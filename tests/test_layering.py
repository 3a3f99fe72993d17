"""The library's layers point one way: snippets never imports vis (figures are drawn by vis and
passed in), the decoder never imports the benchmark, and the entry point and the bench command do
not import each other. Read from the source, nothing run."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_snippets_never_imports_vis():
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in imported_modules(p) if m == "vis" or m.startswith("vis."))
                 for p in (ROOT / "snippets").rglob("*.py")}
    assert not {p: m for p, m in offenders.items() if m}


def test_the_decoder_does_not_import_the_benchmark():
    assert not {m for m in imported_modules(ROOT / "snippets" / "transformer.py") if m.startswith("snippets.bench")}


def test_entry_point_and_bench_command_do_not_import_each_other():
    # the entry point calls the command (one way); the command takes its name from a module of its own
    assert "snippets.__main__" not in imported_modules(ROOT / "snippets" / "bench" / "cli.py")
    assert not {m for m in imported_modules(ROOT / "snippets" / "bench" / "prog.py") if m.startswith("snippets")}


def test_every_bench_function_is_short():
    """The bench grows by modules, not by longer functions: none reaches 40 lines."""
    long = {}
    for path in (ROOT / "snippets" / "bench").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 >= 40:
                long[f"{path.relative_to(ROOT)}:{node.name}"] = node.end_lineno - node.lineno + 1
    assert not long
