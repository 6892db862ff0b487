"""The layout's import rules, read from the source (no import is run): the site (`portal`) and
the domain (`tasks`) never import each other in a circle, and the speed layer stays in its room."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, wherever the import stands (function-local ones too)."""
    found: set[str] = set()
    module_name = _module_name(path)
    package = module_name if path.name == "__init__.py" else module_name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _modules(package: str) -> dict[str, set[str]]:
    return {
        _module_name(path): _imports(path)
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    }


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_nothing_in_tasks_imports_the_site():
    offenders = {
        module: sorted(name for name in names if _under(name, "portal"))
        for module, names in _modules("tasks").items()
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_nothing_in_the_site_imports_the_speed_layer():
    offenders = {
        module: sorted(name for name in names if _under(name, "tasks.caching"))
        for module, names in _modules("portal").items()
    }
    assert {module: names for module, names in offenders.items() if names} == {}


@pytest.mark.parametrize("package", ["tasks/vas", "vassim"])
def test_the_upstream_client_and_the_simulator_import_no_django_and_no_portal_code(package):
    offenders = {
        module: sorted(
            name
            for name in names
            if any(_under(name, top) for top in ("django", "rest_framework", "portal"))
            or (_under(name, "tasks") and not _under(name, "tasks.vas"))
        )
        for module, names in _modules(package).items()
    }
    assert {module: names for module, names in offenders.items() if names} == {}


def test_the_speed_code_lives_in_tasks_caching_and_the_cache_client():
    """What exists only for speed (the read, memo, locks, rate limits) is in tasks/caching; the
    site keeps only the cache client (portal/cache.py). No read-ahead, handler or session engine
    of our own is left."""
    assert not (ROOT / "portal" / "handler.py").exists()
    assert not (ROOT / "portal" / "sessions.py").exists()
    assert not (ROOT / "tasks" / "caching" / "readahead.py").exists()
    speed = {"tasks.caching.read", "tasks.caching.memo", "tasks.caching.locks"}
    speed.add("tasks.caching.ratelimit")
    found = {module for module in _modules("tasks") if module in speed}
    assert found == speed
