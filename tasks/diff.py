"""Changes between two task documents as a flat list of {path, before, after}.

A small recursive function rather than a diff library: task documents are small JSON trees, and
the pages want exactly one line per changed leaf with a readable path (`input.data[0].id`), which
is simpler to produce here than to reshape from deepdiff's or jsondiff's output.
"""

from typing import Any

_MISSING = object()


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else str(key)


def _walk(before: Any, after: Any, path: str, out: list[dict[str, Any]]) -> None:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after), key=str):
            _walk(before.get(key, _MISSING), after.get(key, _MISSING), _path(path, key), out)
        return
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for index, (left, right) in enumerate(zip(before, after, strict=True)):
            _walk(left, right, _path(path, index), out)
        return
    if before == after and type(before) is type(after):
        return
    out.append(
        {
            "path": path,
            "before": None if before is _MISSING else before,
            "after": None if after is _MISSING else after,
        }
    )


def changes_between(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    """Every changed leaf from `before` to `after`, sorted by path; [] when `before` is None."""
    if before is None:
        return []
    out: list[dict[str, Any]] = []
    _walk(before, after, "", out)
    return out
