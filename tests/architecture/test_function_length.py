"""Every function in ``services/`` and ``libs/`` (tests and migrations aside) fits in the head:
at most 80 lines from its ``def`` to its last line. A longer one becomes named steps."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 80


def long_functions(roots: list[Path], limit: int = MAX_LINES) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts or ".venv" in parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    lines = (node.end_lineno or node.lineno) - node.lineno + 1
                    if lines > limit:
                        found.append((lines, f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"))
    return sorted(found, reverse=True)


def test_no_function_is_longer_than_80_lines() -> None:
    too_long = long_functions([ROOT / "services", ROOT / "libs"])
    assert too_long == [], "\n".join(f"{n} lines: {where}" for n, where in too_long)


def test_the_check_finds_a_long_function(tmp_path: Path) -> None:
    probe = ROOT / "libs" / f"_probe_{tmp_path.name[-8:]}.py"
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    probe.write_text(f"def long_one():\n{body}\n")
    try:
        assert [where for _, where in long_functions([probe.parent])] == [f"libs/{probe.name}:1 long_one"]
    finally:
        probe.unlink()
