"""The import graph (tools/check_imports.py): pitot_tf has no import cycle, deferred imports
included, and imports only point down the layers; the checker finds what it should."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO / "tools" / "check_imports.py"


def _package(root: Path, files: dict[str, str]) -> Path:
    """A package ``root/pkg`` with ``files`` (relative path → source), ``__init__.py``s added."""
    package = root / "pkg"
    for name, source in {"__init__.py": "", **files}.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in path.relative_to(package).parents:
            (package / folder / "__init__.py").touch()
        path.write_text(textwrap.dedent(source))
    return package


def _run(package: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECKER), str(package)], capture_output=True,
                          text=True, timeout=60, check=False)


def test_pitot_tf_has_no_cycle_and_no_upward_import() -> None:
    result = _run(REPO / "pitot_tf")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_module_level_cycle_through_a_relative_import(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "models/a.py": "from . import b\n",
        "models/b.py": "from .a import VALUE\n",
    })
    result = _run(package)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        line for line in result.stdout.splitlines() if line.startswith("import cycle")]
    assert "import cycle pkg.models.a -> pkg.models.b -> pkg.models.a:" in result.stdout


def test_a_deferred_import_cycle_is_a_cycle(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "models/build.py": """\
            def build():
                from pkg.models.ensemble import members
                return members()
            """,
        "models/ensemble.py": "from pkg.models.build import build\n",
    })
    lines = _run(package).stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("import cycle pkg.models.build -> pkg.models.ensemble -> "
                               "pkg.models.build:")
    assert "models/build.py:2: deferred import of pkg.models.ensemble" in lines[0]
    assert "models/ensemble.py:1: import of pkg.models.build" in lines[0]


def test_a_cycle_through_a_package_reexport(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "models/__init__.py": "from .build import make as make_model\n",
        "models/build.py": "import pkg.models.parts\n\ndef make(): ...\n",
        "models/parts.py": "from pkg.models import make_model\n",
    })
    lines = _run(package).stdout.splitlines()
    # The edge goes to the module that defines the name, not to the package that re-exports it.
    assert len(lines) == 1
    assert lines[0].startswith("import cycle pkg.models.build -> pkg.models.parts -> "
                               "pkg.models.build: ")


def test_type_checking_imports_and_acyclic_packages_pass(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "config.py": "import json\n",
        "models/a.py": """\
            from typing import TYPE_CHECKING
            from pkg import config
            if TYPE_CHECKING:
                from pkg.models.b import B
            """,
        "models/b.py": "from pkg.models import a\n",
    })
    result = _run(package)
    assert (result.returncode, result.stdout) == (0, "")


def test_an_import_up_the_layers_is_reported(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "config.py": """\
            def kinds():
                from pkg.models.registry import KINDS
                return KINDS
            """,
        "models/registry.py": "KINDS = {}\n",
        "serving/server.py": "from pkg.tracking import runs\nfrom pkg.cli import main\n",
        "tracking/runs.py": "",
        "cli/main.py": "",
        "extras/x.py": "",
    })
    lines = _run(package).stdout.splitlines()
    assert sorted(lines) == sorted([
        f"{package}/config.py:2: deferred import of pkg.models.registry from pkg.config: "
        "layer 'config' must not import the higher layer 'models'",
        f"{package}/serving/server.py:2: import of pkg.cli.main from pkg.serving.server: "
        "layer 'serving' must not import the higher layer 'cli'",
        f"{package}/extras/__init__.py: pkg.extras is in no layer (add 'extras' to LAYERS "
        "in tools/check_imports.py)",
        f"{package}/extras/x.py: pkg.extras.x is in no layer (add 'extras' to LAYERS "
        "in tools/check_imports.py)",
    ])


def test_peer_folders_may_import_each_other_one_way_only(tmp_path: Path) -> None:
    package = _package(tmp_path, {
        "tracking/models.py": "from pkg.serving.pyfunc import MODEL\n",
        "tracking/names.py": "",
        "serving/pyfunc.py": "MODEL = 1\n",
        "serving/scoring.py": "from pkg.tracking.names import NAME\n",
    })
    lines = _run(package).stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("folder cycle serving -> tracking -> serving: ")
    assert "serving/scoring.py:1: import of pkg.tracking.names" in lines[0]
    assert "tracking/models.py:1: import of pkg.serving.pyfunc" in lines[0]
