"""pyproject declares exactly what pitot_tf imports: a fresh install must not depend on what
another package happens to pull in, and nothing is installed that no code uses."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[1]
#: Declared for another reason than an import: the CUDA/Keras back end TensorFlow runs on.
NOT_IMPORTED = {"tensorflow"}
#: Imported only where the user installed the extra, with a one-line error otherwise.
OPTIONAL = {"optuna-dashboard": "dashboard"}


def normal(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    return normal(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0])


def imported_distributions() -> set[str]:
    """The distributions whose modules pitot_tf imports (any import, deferred ones too)."""
    owners = importlib.metadata.packages_distributions()
    found: set[str] = set()
    for path in (REPO / "pitot_tf").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top == "pitot_tf":
                    continue
                assert top in owners, f"{path.name} imports {top}, which no package provides"
                # mlflow's modules are shared by mlflow, mlflow-skinny and mlflow-tracing
                found.add("mlflow" if top == "mlflow" else normal(owners[top][0]))
    return found


def project() -> dict[str, object]:
    return dict(tomllib.loads((REPO / "pyproject.toml").read_text())["project"])


def test_every_imported_package_is_declared_and_every_declared_one_imported() -> None:
    spec = project()
    required = {requirement_name(r) for r in spec["dependencies"]}  # type: ignore[attr-defined]
    extras = {name: {requirement_name(r) for r in reqs}
              for name, reqs in spec["optional-dependencies"].items()}  # type: ignore[attr-defined]
    imported = imported_distributions()
    for package, extra in OPTIONAL.items():
        assert package in imported and package in extras[extra] and package not in required
    assert imported - set(OPTIONAL) - required == set(), "imported but not declared"
    assert required - imported - NOT_IMPORTED == set(), "declared but never imported"


def test_optuna_is_pinned_to_the_minor_versions_the_heartbeat_was_checked_against() -> None:
    """heartbeat.py touches Optuna internals: the pin, the versions its docstring names and
    the installed Optuna must agree, and the MLproject's environment pins the same."""
    [optuna] = [r for r in project()["dependencies"]  # type: ignore[attr-defined]
                if requirement_name(r) == "optuna"]
    pin = optuna.replace(" ", "")
    assert pin == "optuna>=5.0,<5.2"
    assert pin in (REPO / "pitot_tf" / "search" / "heartbeat.py").read_text()
    for environment in ("python_env.yaml", "conda.yaml"):
        assert f"- {pin}" in (REPO / environment).read_text(), environment
    assert importlib.metadata.version("optuna").startswith(("5.0.", "5.1."))
