"""Released-package basics: ``pitot-tf --version``, LICENSE and CITATION.cff."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

import pitot_tf
from pitot_tf.cli.app import DISTRIBUTION, app, package_version

REPO = Path(__file__).resolve().parents[1]
PAPER = "Interference-Aware Edge Runtime Prediction with Conformal Matrix Completion"
PAPER_AUTHORS = ["Tianshu Huang", "Arjun Ramesh", "Emily Ruppel", "Nuno Pereira",
                 "Anthony Rowe", "Carlee Joe-Wong"]


def test_version_option_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"pitot-tf {importlib.metadata.version(DISTRIBUTION)}\n"
    assert package_version() == pitot_tf.__version__  # one version: pyproject reads it


def test_version_is_eager_and_needs_no_command() -> None:
    """``--version`` wins over a command and its missing arguments."""
    result = CliRunner().invoke(app, ["--version", "predict"])
    assert result.exit_code == 0 and result.output.startswith("pitot-tf ")


def test_version_from_the_console_entry_point() -> None:
    done = subprocess.run([sys.executable, "-c", "from pitot_tf.cli import main; main()",
                           "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"pitot-tf {package_version()}"


def test_licence_is_mit_and_credits_the_dataset() -> None:
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License")
    assert "b94541c2bee815be183b4bb3dda9685afb41e2e7" in text
    assert "pitot_tf/data/published/LICENSE" in text


def test_citation_cites_this_software_and_the_paper() -> None:
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert {"cff-version", "message", "title", "authors"} <= set(cff)
    assert cff["type"] == "software" and str(cff["version"]) == pitot_tf.__version__
    paper = cff["preferred-citation"]
    assert paper["type"] == "conference-paper" and paper["title"] == PAPER
    assert paper["year"] == 2025 and "MLSys 2025" in paper["conference"]["name"]
    assert [f"{a['given-names']} {a['family-names']}" for a in paper["authors"]] == PAPER_AUTHORS
    (reference,) = cff["references"]
    assert reference["repository-code"] == "https://github.com/WiseLabCMU/pitot"
    assert reference["commit"] == "b94541c2bee815be183b4bb3dda9685afb41e2e7"
