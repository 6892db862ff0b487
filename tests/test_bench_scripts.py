"""The benchmark scripts import the portal's code lazily (after their harness has set Django
up), so a renamed name breaks them only when `make bench` runs. Every such import must resolve."""

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _portal_imports():
    for script in sorted(BENCH.glob("*.py")):
        for node in ast.walk(ast.parse(script.read_text(), str(script))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
                "tasks",
                "portal",
            ):
                for alias in node.names:
                    yield pytest.param(node.module, alias.name, id=f"{script.name}:{alias.name}")


@pytest.mark.parametrize(("module", "name"), list(_portal_imports()))
def test_every_name_a_bench_script_imports_exists(module, name):
    imported = importlib.import_module(module)
    assert (
        name == "*"
        or hasattr(imported, name)
        or importlib.util.find_spec(f"{module}.{name}") is not None
    )
