"""The dataset layer: real-data numbers, a pandas view, and one test per bad-input class."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pitot_tf.data.dataset import load_dataset
from pitot_tf.errors import DataError


def test_real_dataset_numbers(real_data_dir: Path) -> None:
    dataset = load_dataset(real_data_dir)
    summary = dataset.summary()
    assert (summary["platforms"], summary["workloads"]) == (231, 249)
    assert len(dataset.objectives["mf"]) == 53_637
    assert len(dataset.objectives["if2"]) == 98_957
    assert dataset.objectives["if2"].degree == 2
    assert summary["objectives"]["if2"]["duplicate_rows"] > 0  # type: ignore[index]
    frame = dataset.frame("if2")
    assert list(frame.columns) == ["platform", "workload", "interferer0", "runtime_s"]
    assert (
        frame.iloc[0]["workload"] == dataset.workloads.names[dataset.objectives["if2"].workload[0]]
    )


def test_real_runtimes_are_microseconds(real_data_dir: Path) -> None:
    """One real cell pins the unit: polybench/small/gemm (about 336k multiply-adds) on
    iwasm-a:hc-11 (ahead-of-time compiled) stores 5,459.8, i.e. 5.5 ms, not 5.5 µs; and the
    largest runtime is the 30 s timeout."""
    dataset = load_dataset(real_data_dir)
    assert dataset.unit == "us" and dataset.summary()["runtime_unit"] == "us"
    mf = dataset.objectives["mf"]
    cell = (dataset.platforms.names[mf.platform] == "iwasm-a:hc-11") & (
        dataset.workloads.names[mf.workload] == "polybench/small/gemm")
    assert cell.sum() == 1
    seconds = float(dataset.seconds(mf.runtime[cell])[0])
    assert seconds == pytest.approx(5.46e-3, rel=1e-3)
    assert float(dataset.seconds_from_log(mf.log_runtime[cell])[0]) == pytest.approx(seconds)
    frame = dataset.frame("mf")
    row = frame[(frame["platform"] == "iwasm-a:hc-11")
                & (frame["workload"] == "polybench/small/gemm")]
    assert row["runtime_s"].tolist() == pytest.approx([5.46e-3], rel=1e-3)
    assert dataset.summary()["objectives"]["mf"]["runtime_max_s"] == pytest.approx(30, rel=1e-3)


def test_recorded_unit(synth_dir: Path, tmp_path: Path) -> None:
    """``data.npz``'s ``unit`` key sets the unit; no key means microseconds; a bad one is a
    DataError naming the key."""
    synth = load_dataset(synth_dir)
    assert synth.unit == "ns"
    assert synth.seconds(np.array([2e9])) == pytest.approx([2.0])
    data = _copy(synth_dir, tmp_path)
    _rewrite(data / "data.npz", unit=np.array("µs"))
    assert load_dataset(data).unit == "us"
    _rewrite(data / "data.npz", unit=None)
    unrecorded = load_dataset(data)
    assert unrecorded.unit == "us"
    np.testing.assert_allclose(unrecorded.seconds(synth.objectives["mf"].runtime),
                               synth.seconds(synth.objectives["mf"].runtime) * 1e3)
    for bad in (np.array("minutes"), np.array(["us"]), np.array(3)):
        _rewrite(data / "data.npz", unit=bad)
        with pytest.raises(DataError, match=r"data.npz: key 'unit'.*runtime unit must be"):
            load_dataset(data)


def test_objectives_filter(synth_dir: Path) -> None:
    assert list(load_dataset(synth_dir, ["mf"]).objectives) == ["mf"]
    with pytest.raises(DataError, match="if7"):
        load_dataset(synth_dir, ["if7"])


def _copy(synth_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "data"
    shutil.copytree(synth_dir, out)
    return out


def _rewrite(path: Path, **changes: object) -> None:
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    for key, value in changes.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value  # type: ignore[assignment]
    np.savez(path, **arrays)  # type: ignore[arg-type]


def _array(path: Path, key: str) -> np.ndarray:
    with np.load(path) as archive:
        return archive[key].copy()


@pytest.mark.parametrize("bad", [np.nan, np.inf, 0.0, -5.0])
def test_bad_runtime(synth_dir: Path, tmp_path: Path, bad: float) -> None:
    data = _copy(synth_dir, tmp_path)
    t = _array(data / "data.npz", "t")
    t[7] = bad
    _rewrite(data / "data.npz", t=t)
    with pytest.raises(
        DataError, match=r"data.npz: key 't', row 7: runtime must be finite and positive"
    ):
        load_dataset(data)


def test_index_out_of_range(synth_dir: Path, tmp_path: Path) -> None:
    data = _copy(synth_dir, tmp_path)
    i = _array(data / "data.npz", "i_platform")
    i[3] = 10_000
    _rewrite(data / "data.npz", i_platform=i)
    with pytest.raises(
        DataError, match=r"'i_platform', row 3: index 10000 is not a valid platform"
    ):
        load_dataset(data)


def test_index_not_integer(synth_dir: Path, tmp_path: Path) -> None:
    data = _copy(synth_dir, tmp_path)
    i = _array(data / "data.npz", "i_workload").astype(float)
    i[5] = 2.5
    _rewrite(data / "data.npz", i_workload=i)
    with pytest.raises(DataError, match=r"'i_workload', row 5: index must be an integer"):
        load_dataset(data)


def test_interference_index_not_a_workload(synth_dir: Path, tmp_path: Path) -> None:
    data = _copy(synth_dir, tmp_path)
    i = _array(data / "if2.npz", "i_interference0")
    i[11] = -1
    _rewrite(data / "if2.npz", i_interference0=i)
    with pytest.raises(
        DataError, match=r"if2.npz: key 'i_interference0', row 11: .* not a valid workload"
    ):
        load_dataset(data)


def test_feature_names_mismatch(synth_dir: Path, tmp_path: Path) -> None:
    data = _copy(synth_dir, tmp_path)
    names = _array(data / "data.npz", "n_workload")
    _rewrite(data / "data.npz", n_workload=names[:-1])
    with pytest.raises(DataError, match=r"key 'n_workload'.*names but d_workload has"):
        load_dataset(data)


def test_nan_feature(synth_dir: Path, tmp_path: Path) -> None:
    data = _copy(synth_dir, tmp_path)
    d = _array(data / "data.npz", "d_platform")
    d[4, 0] = np.nan
    _rewrite(data / "data.npz", d_platform=d)
    with pytest.raises(DataError, match=r"key 'd_platform', row 4: feature is NaN"):
        load_dataset(data)


def test_missing_key(synth_dir: Path, tmp_path: Path) -> None:
    data = _copy(synth_dir, tmp_path)
    _rewrite(data / "if2.npz", i_workload=None)
    with pytest.raises(DataError, match=r"if2.npz: key 'i_workload': missing key"):
        load_dataset(data)


def test_missing_file(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"data.npz: file not found"):
        load_dataset(tmp_path / "empty")
    with pytest.raises(DataError, match="PITOT_DATA"):
        load_dataset(tmp_path / "nowhere")


def test_truncated_npz(synth_dir: Path, tmp_path: Path) -> None:
    data = _copy(synth_dir, tmp_path)
    content = (data / "if2.npz").read_bytes()
    (data / "if2.npz").write_bytes(content[: len(content) // 2])
    with pytest.raises(DataError, match=r"if2.npz: not a readable npz"):
        load_dataset(data)


def test_cli_validate(synth_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pitot_tf.cli.app import app, register_commands

    register_commands()
    ok = CliRunner().invoke(app, ["data", "validate", "--data-dir", str(synth_dir)])
    assert ok.exit_code == 0 and "valid" in ok.output and "if2" in ok.output
    data = _copy(synth_dir, tmp_path)
    _rewrite(data / "data.npz", t=None)
    bad = CliRunner().invoke(app, ["data", "validate", "--data-dir", str(data)])
    assert bad.exit_code != 0


def test_cli_validate_shows_real_runtimes_in_seconds(real_data_dir: Path) -> None:
    """1.3 ms (the fastest measurement) to 30 s (the timeout), not 1.3 µs to 0.03 s."""
    from typer.testing import CliRunner

    from pitot_tf.cli.app import app, register_commands

    register_commands()
    result = CliRunner().invoke(app, ["data", "validate", "--data-dir", str(real_data_dir)])
    assert result.exit_code == 0, result.output
    assert "valid (runtimes stored in us)" in result.output
    assert "53,637 runtimes" in result.output and "1.32 ms to 30 s" in result.output
