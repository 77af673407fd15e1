"""Issue 15: the layers are a checked contract (docs/adr/0002-layers.md).

The check itself runs in ``./dev check``; these tests prove that it can fail: the same contract run over a
copy of the tree with one upward import added reports exactly that import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _check(tree: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=environment, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    ignore = shutil.ignore_patterns("__pycache__", "templates", "static", "*.eml", "*.json", "*.txt")
    shutil.copytree(ROOT / "megalayer", copy / "megalayer", ignore=ignore)
    shutil.copytree(ROOT / "config", copy / "config", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_tree_keeps_the_layers(tree: Path) -> None:
    result = _check(tree)
    assert result.returncode == 0, result.stdout
    assert "Contracts: 1 kept, 0 broken." in result.stdout


def test_an_upward_import_breaks_the_contract_and_is_named(tree: Path) -> None:
    (tree / "megalayer" / "billing" / "example_upward.py").write_text("from megalayer.services.models import Service\n")
    result = _check(tree)
    assert result.returncode == 1
    assert "megalayer.billing is not allowed to import megalayer.services:" in result.stdout
    assert "- megalayer.billing.example_upward -> megalayer.services.models (l.1)" in result.stdout


def test_an_import_hidden_in_a_function_is_seen_too(tree: Path) -> None:
    hidden = "def later():\n    from megalayer.api.problems import problem_response\n    return problem_response\n"
    (tree / "megalayer" / "core" / "example_hidden.py").write_text(hidden)
    result = _check(tree)
    assert result.returncode == 1
    assert "megalayer.core is not allowed to import megalayer.api:" in result.stdout
    assert "- megalayer.core.example_hidden -> megalayer.api.problems (l.2)" in result.stdout


def test_no_app_imports_another_inside_a_function():
    """An import hidden in a function hides a dependency from the reader (issue 15). The one place for them is
    ``AppConfig.ready``, where Django requires them (the app registry is not ready at module import)."""
    import ast

    package = ROOT / "megalayer"
    apps = {path.name for path in package.iterdir() if (path / "__init__.py").exists()}
    hidden = []
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package).parts
        if "tests" in parts or "migrations" in parts or parts[0] not in apps or path.name == "apps.py":
            continue
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("megalayer."):
                    target = (node.module or "").split(".")[1]
                    if target != parts[0]:
                        hidden.append(f"{path.relative_to(package)}:{node.lineno} {node.module}")
    assert hidden == []
