"""The published dataset shipped in the package: its hashes, the default data directory, the
``published`` source of the data step, the unit evidence ``data validate`` prints, and
a built wheel that carries the files."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pitot_tf.data import packaged
from pitot_tf.data.dataset import default_data_dir, load_dataset
from pitot_tf.data.packaged import PUBLISHED_DIR, is_published, verify_published
from pitot_tf.data.unit_evidence import cell_runtime, timeout_counts, unit_lines
from pitot_tf.errors import DataError

REPO = Path(__file__).resolve().parents[1]
#: SHA-256 of data/data.npz and data/if2.npz at WiseLabCMU/pitot b94541c (written out here
#: too, so that changing a file and SHA256SUMS together still fails).
SOURCE_SHA256 = {
    "data.npz": "4361e9380bc6f04f6691fe468f60f735da92d4180cd5a8749d14deb4f4767e2d",
    "if2.npz": "64f353e020a4272247caca0c6dca4b7c738997f0fc0632288c0362e0f7b04b08",
}
SHIPPED = ("data.npz", "if2.npz", "SHA256SUMS", "LICENSE", "README.md")


def test_packaged_files_have_the_published_hashes() -> None:
    assert verify_published() == SOURCE_SHA256
    for name, digest in SOURCE_SHA256.items():
        assert hashlib.sha256((PUBLISHED_DIR / name).read_bytes()).hexdigest() == digest


def test_a_changed_file_fails_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "published"
    shutil.copytree(PUBLISHED_DIR, copy)
    content = bytearray((copy / "if2.npz").read_bytes())
    content[-1] ^= 0xFF
    (copy / "if2.npz").write_bytes(bytes(content))
    monkeypatch.setattr(packaged, "PUBLISHED_DIR", copy)
    with pytest.raises(DataError, match=r"if2.npz: sha256 [0-9a-f]{64} differs from 64f353e0"):
        verify_published()


def test_licence_and_source_sit_beside_the_data() -> None:
    assert {p.name for p in PUBLISHED_DIR.iterdir()} >= set(SHIPPED)
    licence = (PUBLISHED_DIR / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "Tianshu Huang" in licence
    readme = (PUBLISHED_DIR / "README.md").read_text()
    assert packaged.SOURCE_COMMIT in readme and "github.com/WiseLabCMU/pitot" in readme


def test_default_data_dir_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--data-dir, else $PITOT_DATA, else the packaged data (never ./data)."""
    monkeypatch.delenv("PITOT_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    assert default_data_dir() == PUBLISHED_DIR
    monkeypatch.setenv("PITOT_DATA", str(tmp_path / "env"))
    assert default_data_dir() == tmp_path / "env"
    assert default_data_dir(tmp_path / "arg") == tmp_path / "arg"


def test_the_default_dataset_is_the_published_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PITOT_DATA", raising=False)
    dataset = load_dataset()
    assert dataset.source == PUBLISHED_DIR and dataset.unit == "us"
    assert (len(dataset.platforms), len(dataset.workloads)) == (231, 249)
    assert {k: len(v) for k, v in dataset.objectives.items()} == {"mf": 53_637, "if2": 98_957}


def test_data_step_source_published(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pitot_tf.tracking.steps import SOURCE_PUBLISHED, obtain_dataset

    monkeypatch.chdir(tmp_path)
    assert SOURCE_PUBLISHED == "published"
    assert obtain_dataset("published", None) == PUBLISHED_DIR
    assert obtain_dataset("published", "ignored") == PUBLISHED_DIR
    assert not (tmp_path / "ignored").exists()


def test_is_published(synth_dir: Path, tmp_path: Path) -> None:
    assert is_published(PUBLISHED_DIR)
    shutil.copy(PUBLISHED_DIR / "data.npz", tmp_path / "data.npz")
    assert is_published(tmp_path)
    assert not is_published(synth_dir) and not is_published(tmp_path / "nowhere")


def test_unit_evidence_from_the_data() -> None:
    """gemm reads 5,459.8 (5.46 ms as µs); the largest runtime is 2.9993e7 = 30 s with
    9 runtimes within 0.1 s of the 30 s timeout (2 alone, 7 with a co-runner), none above."""
    dataset = load_dataset(PUBLISHED_DIR)
    assert cell_runtime(dataset, "polybench/small/gemm", "iwasm-a:hc-11") == pytest.approx(5459.8)
    assert cell_runtime(dataset, "polybench/small/gemm", "no-such-platform") is None
    largest, near, above = timeout_counts(dataset)
    assert largest == pytest.approx(2.9993416e7) and near == {"mf": 2, "if2": 7} and above == 0
    lines = unit_lines(dataset, published=True)
    assert lines[0].startswith("t is mean wall time in microseconds")
    text = "\n".join(lines)
    assert "reads 5,460 on iwasm-a:hc-11 = 5.46 ms (0.12 GFLOP/s)" in text
    assert "as seconds it would take 91 min; as nanoseconds it would run at 123 GFLOP/s" in text
    assert "2.9993e7 = 30 s, is the 30 s timeout: 9 runtimes" in text


def test_unit_line_of_another_dataset(synth_dataset) -> None:  # type: ignore[no-untyped-def]
    assert unit_lines(synth_dataset, published=False) == [
        "runtimes t are in nanoseconds (recorded in data.npz); commands show seconds or "
        "milliseconds"]


def test_validate_with_nothing_set_reports_the_published_data(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pitot_tf.cli.app import app, register_commands

    register_commands()
    monkeypatch.delenv("PITOT_DATA", raising=False)
    result = CliRunner().invoke(app, ["data", "validate"])
    assert result.exit_code == 0, result.output
    assert f"{PUBLISHED_DIR}: valid" in result.output
    assert "the published Pitot dataset" in result.output
    assert "53,637 runtimes" in result.output and "98,957 runtimes" in result.output
    assert "t is mean wall time in microseconds" in result.output
    assert "9 runtimes within 0.1 s" in result.output


def test_the_wheel_carries_the_published_data(tmp_path: Path) -> None:
    """``pip wheel`` of the source tree holds the dataset folder and both licences."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("pitot_tf-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in SHIPPED:
            assert f"pitot_tf/data/published/{name}" in names
        for name, digest in SOURCE_SHA256.items():
            data = archive.read(f"pitot_tf/data/published/{name}")
            assert hashlib.sha256(data).hexdigest() == digest
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
