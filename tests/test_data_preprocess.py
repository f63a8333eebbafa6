"""Preprocessing raw measurements: aggregation, dropped runs, co-runners, errors that name file,
line and column, the export → preprocess round trip (synthetic and real data) and appending."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pitot_tf.data.dataset import load_dataset
from pitot_tf.data.export import export_raw
from pitot_tf.data.preprocess import ENCODERS_FILE, preprocess
from pitot_tf.data.rawcsv import CsvError
from pitot_tf.data.units import convert
from pitot_tf.errors import ConfigError, DataError

PLATFORMS = """\
name,cat:uarch,freq_mhz:cpufreq
rpi4,cortex-a72,1500
nuc,skylake,2600
spare,znver2,3000
"""
WORKLOADS = """\
name,count:x04,count:x05
fft,100,5
sort,20,7
crc,0,9
"""
RUNS = """\
workload,platform,runtime,unit,interferers,status
fft,rpi4,2,ms,,ok
fft,rpi4,4000,us,,ok

sort,rpi4,1,s,,failed
sort,rpi4,,ns,,timeout
sort,nuc,500000,ns,,ok
fft,nuc,0.001,s,sort,ok
crc,nuc,1,ms,fft;sort,ok
crc,nuc,3,ms,sort ; fft,OK
crc,rpi4,7,ms,,ok
"""


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


@pytest.fixture()
def raw(tmp_path: Path) -> dict[str, Path]:
    """The hand-written raw files above, in ``tmp_path/raw``."""
    folder = tmp_path / "raw"
    folder.mkdir()
    files = {"runs": RUNS, "workloads": WORKLOADS, "platforms": PLATFORMS}
    paths = {}
    for name, text in files.items():
        paths[name] = folder / f"{name}.csv"
        paths[name].write_text(text)
    return paths


def _preprocess(raw: dict[str, Path], out: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    return preprocess(raw["runs"], raw["workloads"], raw["platforms"], out, **kwargs)  # type: ignore[arg-type]


def test_hand_written_measurements(raw: dict[str, Path], tmp_path: Path) -> None:
    """Repeats averaged over units (stored in µs, and the unit recorded), failed/timeout dropped
    and counted, co-runner sets merged."""
    out = tmp_path / "data"
    summary = _preprocess(raw, out)
    assert summary.unit == "us" and "(runtimes stored in us)" in summary.lines()[0]
    assert (summary.runs_read, summary.runs_kept) == (9, 7)
    assert summary.dropped == {"failed": 1, "timeout": 1}
    assert (summary.platforms, summary.unused_platforms) == (2, 1)  # "spare" never measured
    written = sorted(p.name for p in out.iterdir())
    assert written == ["data.npz", ENCODERS_FILE, "if2.npz", "if3.npz"]
    matrix = _npz(out / "data.npz")
    assert matrix["n_platform"].tolist() == ["rpi4", "nuc"]
    assert matrix["n_workload"].tolist() == ["fft", "sort", "crc"]
    assert matrix["t"].dtype == np.float64 and matrix["i_platform"].dtype == np.int64
    assert str(matrix["unit"]) == "us"
    np.testing.assert_allclose(matrix["t"], [3e3, 5e2, 7e3])  # 2 ms and 4000 us average to 3 ms
    assert matrix["count"].tolist() == [2, 1, 1]
    assert matrix["i_platform"].tolist() == [0, 1, 0]
    assert matrix["i_workload"].tolist() == [0, 1, 2]
    if3 = _npz(out / "if3.npz")
    np.testing.assert_allclose(if3["t"], [2e3])  # "fft;sort" and "sort ; fft" are one cell
    assert (if3["count"].tolist(), if3["i_interference0"].tolist(),
            if3["i_interference1"].tolist()) == ([2], [0], [1])
    assert _npz(out / "if2.npz")["t"].tolist() == [1e3]
    dataset = load_dataset(out)
    assert dataset.unit == "us"
    np.testing.assert_allclose(dataset.seconds(matrix["t"]), [3e-3, 5e-4, 7e-3])
    assert dataset.platforms.feature_names.tolist() == ["uarch=cortex-a72", "uarch=skylake",
                                                        "cpufreq"]
    np.testing.assert_array_equal(dataset.platforms.features[:, :2], [[1, -1], [-1, 1]])
    np.testing.assert_allclose(dataset.workloads.features, np.log1p([[100, 5], [20, 7], [0, 9]]),
                               rtol=1e-6)


@pytest.mark.parametrize(
    ("line", "replacement", "column", "message"),
    [
        (7, "fft,rpi5,0.001,s,sort,ok", "platform", "unknown platform 'rpi5'"),
        (7, "fft,nuc,0.001,s,sort;nope,ok", "interferers", "unknown workload 'nope'"),
        (7, "zip,nuc,0.001,s,,ok", "workload", "unknown workload 'zip'"),
        (7, "fft,nuc,fast,s,,ok", "runtime", "expected a finite number, got 'fast'"),
        (7, "fft,nuc,-3,s,,ok", "runtime", "runtime must be > 0, got '-3'"),
        (7, "fft,nuc,3,min,,ok", "unit", "unknown unit 'min'"),
        (7, "fft,nuc,3,s,,crashed", "status", "unknown status 'crashed'"),
        (7, "fft,nuc,3,s,sort;,ok", "interferers", "empty co-runner name"),
        (7, "fft,,3,s,,ok", "platform", "empty platform name"),
        (1, "workload,platform,runtime,interferers,status,unit_", "unit", "missing column"),
    ],
)
def test_bad_runs_name_file_line_column(
    raw: dict[str, Path], tmp_path: Path, line: int, replacement: str, column: str, message: str
) -> None:
    lines = RUNS.splitlines()
    lines[line - 1] = replacement
    raw["runs"].write_text("\n".join(lines) + "\n")
    with pytest.raises(CsvError) as caught:
        _preprocess(raw, tmp_path / "data")
    assert str(caught.value).startswith(f"{raw['runs']}: line {line}, column '{column}': ")
    assert message in str(caught.value)
    assert not (tmp_path / "data").exists()  # nothing written on error


def test_run_counts_and_refusals(raw: dict[str, Path], tmp_path: Path) -> None:
    raw["runs"].write_text("workload,platform,runtime,unit,count\nfft,nuc,2,s,3\nfft,nuc,4,s,1\n")
    _preprocess(raw, tmp_path / "data")
    matrix = _npz(tmp_path / "data" / "data.npz")
    assert (matrix["t"].tolist(), matrix["count"].tolist()) == ([2.5e6], [4])  # weighted mean, µs
    with pytest.raises(DataError, match="already holds a dataset"):
        _preprocess(raw, tmp_path / "data")
    _preprocess(raw, tmp_path / "data", overwrite=True)
    raw["runs"].write_text("workload,platform,runtime,unit,count\nfft,nuc,2,s,0.5\n")
    with pytest.raises(CsvError, match="line 2, column 'count': count must be an integer"):
        _preprocess(raw, tmp_path / "other")
    with pytest.raises(ConfigError, match="--workloads and --platforms"):
        preprocess(raw["runs"], None, raw["platforms"], tmp_path / "other")


def _cells(arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """Platform, workload, co-runners (sorted: they are a set) and runtime of every row."""
    inter = sorted(k for k in arrays if k.startswith("i_interference"))
    frame = pd.DataFrame({k: arrays[k] for k in ["i_platform", "i_workload", *inter, "t"]})
    if inter:
        frame[inter] = np.sort(frame[inter].to_numpy(), axis=1)
    return frame


def _assert_round_trip(original: Path, copy: Path) -> None:
    """``copy`` equals ``original`` with repeated cells averaged in first-seen order (computed
    here with pandas, independently of the code under test), in the copy's unit."""
    before, after = _npz(original / "data.npz"), _npz(copy / "data.npz")
    scale = convert(1.0, load_dataset(original).unit, load_dataset(copy).unit)
    for key in ("n_platform", "n_workload", "f_platform", "f_workload", "d_platform",
                "d_workload"):
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)
    for name in ["data.npz"] + sorted(p.name for p in original.glob("if*.npz")):
        expected = _cells(_npz(original / name))
        keys = [k for k in expected.columns if k != "t"]
        expected = expected.groupby(keys, sort=False)["t"].agg(["mean", "size"]).reset_index()
        got = _npz(copy / name)
        cells = _cells(got)
        for key in keys:
            np.testing.assert_array_equal(cells[key], expected[key], err_msg=f"{name}:{key}")
        np.testing.assert_allclose(got["t"], expected["mean"] * scale, rtol=1e-12)
        np.testing.assert_array_equal(got["count"], expected["size"])


def test_round_trip_synthetic(synth_dir: Path, tmp_path: Path) -> None:
    paths = export_raw(synth_dir, tmp_path / "raw")
    assert pd.read_csv(paths["runs"]).columns.tolist() == [
        "workload", "platform", "runtime", "unit", "interferers", "status"]
    assert set(pd.read_csv(paths["runs"])["unit"]) == {"ns"}  # synthetic data is in ns
    preprocess(paths["runs"], paths["workloads"], paths["platforms"], tmp_path / "copy")
    assert load_dataset(tmp_path / "copy").unit == "us"
    _assert_round_trip(synth_dir, tmp_path / "copy")
    # A second trip through our own output keeps counts (the `count` column) and is exact.
    again = export_raw(tmp_path / "copy", tmp_path / "raw2")
    assert "count" in pd.read_csv(again["runs"]).columns
    preprocess(again["runs"], again["workloads"], again["platforms"], tmp_path / "copy2")
    for name in ("data.npz", "if2.npz"):
        first, second = _npz(tmp_path / "copy" / name), _npz(tmp_path / "copy2" / name)
        for key in first:
            np.testing.assert_array_equal(second[key], first[key], err_msg=f"{name}:{key}")


@pytest.mark.end_to_end
def test_round_trip_real_data(real_data_dir: Path, tmp_path: Path) -> None:
    """The published dataset survives export and preprocessing: same names, indices and
    features, same runtimes; only if2's repeated cells (1,291 of them) are averaged."""
    paths = export_raw(real_data_dir, tmp_path / "raw")
    assert set(pd.read_csv(paths["runs"])["unit"]) == {"us"}
    summary = preprocess(paths["runs"], paths["workloads"], paths["platforms"], tmp_path / "copy")
    assert (summary.platforms, summary.workloads) == (231, 249)
    assert summary.objectives["mf"]["rows"] == 53_637
    assert summary.objectives["if2"]["runs"] == 98_957
    _assert_round_trip(real_data_dir, tmp_path / "copy")
    before, after = _npz(real_data_dir / "data.npz"), _npz(tmp_path / "copy" / "data.npz")
    np.testing.assert_array_equal(after["t"], before["t"].astype(np.float64))  # bit-exact


APPEND_RUNS = """\
workload,platform,runtime,unit,interferers
fft,rpi4,6,ms,
zip,rpi4,1,ms,
fft,spare,2,ms,
fft,nuc,5,ms,
zip,nuc,4,ms,crc;fft;sort
"""


@pytest.mark.parametrize("in_place", [False, True])
def test_append_keeps_old_indices(raw: dict[str, Path], tmp_path: Path, in_place: bool) -> None:
    base = tmp_path / "base"
    _preprocess(raw, base)
    before = load_dataset(base)
    old = {name: _npz(base / name) for name in ("data.npz", "if2.npz", "if3.npz")}
    new_runs = tmp_path / "new_runs.csv"
    new_runs.write_text(APPEND_RUNS)
    new_workloads = tmp_path / "new_workloads.csv"
    new_workloads.write_text("name,count:x04,count:x05\nzip,7,1\nfft,1,1\n")
    out = base if in_place else tmp_path / "extended"
    summary = preprocess(new_runs, new_workloads, raw["platforms"], out, append_to=base)
    assert (summary.new_platforms, summary.new_workloads) == (1, 1)
    after = load_dataset(out)
    assert after.platforms.names.tolist() == ["rpi4", "nuc", "spare"]
    assert after.workloads.names.tolist() == ["fft", "sort", "crc", "zip"]
    np.testing.assert_array_equal(after.workloads.features[:3], before.workloads.features)
    np.testing.assert_array_equal(after.platforms.features[:2], before.platforms.features)
    np.testing.assert_allclose(after.workloads.features[3], np.log1p([7, 1]), rtol=1e-6)
    np.testing.assert_array_equal(after.platforms.features[2, :2], [-1, -1])  # znver2 unseen
    matrix = _npz(out / "data.npz")
    for key in ("i_platform", "i_workload"):
        assert matrix[key][:3].tolist() == old["data.npz"][key].tolist()
    np.testing.assert_allclose(matrix["t"], [4e3, 5e2, 7e3, 1e3, 2e3, 5e3])  # (3+3+6)/3 ms
    assert matrix["count"].tolist() == [3, 1, 1, 1, 1, 1]
    assert (matrix["i_platform"][3:].tolist(), matrix["i_workload"][3:].tolist()) == (
        [0, 2, 1], [3, 0, 0])
    if4 = _npz(out / "if4.npz")
    assert [if4[f"i_interference{k}"].tolist() for k in range(3)] == [[2], [0], [1]]
    for name in ("if2.npz", "if3.npz"):
        for key, values in old[name].items():
            np.testing.assert_array_equal(_npz(out / name)[key], values)


def test_a_crash_while_appending_leaves_the_old_dataset_whole(
    raw: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files are written to a temporary folder renamed into place: a crash after the
    first file leaves every old file as it was (and other files in the folder stay)."""
    import pitot_tf.data.preprocess as module

    base = tmp_path / "base"
    _preprocess(raw, base)
    (base / "splits").mkdir()
    (base / "splits" / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in base.iterdir() if p.is_file()}
    new_runs = tmp_path / "new_runs.csv"
    new_runs.write_text(APPEND_RUNS)
    new_workloads = tmp_path / "new_workloads.csv"
    new_workloads.write_text("name,count:x04,count:x05\nzip,7,1\nfft,1,1\n")
    real_save, saved = module._save_npz, []

    def crash_on_second(path: Path, arrays: dict[str, np.ndarray]) -> Path:
        if saved:
            raise OSError("disk full")
        saved.append(path)
        return real_save(path, arrays)

    monkeypatch.setattr(module, "_save_npz", crash_on_second)
    with pytest.raises(OSError, match="disk full"):
        preprocess(new_runs, new_workloads, raw["platforms"], base, append_to=base)
    assert {p.name: p.read_bytes() for p in base.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    monkeypatch.setattr(module, "_save_npz", real_save)
    preprocess(new_runs, new_workloads, raw["platforms"], base, append_to=base)
    assert load_dataset(base).workloads.names.tolist() == ["fft", "sort", "crc", "zip"]
    assert (base / "splits" / "notes.txt").read_text() == "mine"


def test_append_without_encoders_uses_num_columns(synth_dir: Path, tmp_path: Path) -> None:
    """A dataset made elsewhere (no encoders.json) takes new rows as num:<feature> columns."""
    raw = export_raw(synth_dir, tmp_path / "raw")
    workloads = pd.read_csv(raw["workloads"], dtype=str).iloc[[0]].assign(name="newbie")
    workloads.to_csv(tmp_path / "w.csv", index=False)
    runs = tmp_path / "runs.csv"
    first = load_dataset(synth_dir).platforms.names[0]
    runs.write_text(f"workload,platform,runtime,unit\nnewbie,{first},5,ms\n")
    preprocess(runs, tmp_path / "w.csv", None, tmp_path / "out", append_to=synth_dir)
    before, after = load_dataset(synth_dir), load_dataset(tmp_path / "out")
    np.testing.assert_array_equal(after.workloads.features[-1], before.workloads.features[0])
    assert len(after.objectives["mf"]) == len(before.objectives["mf"]) + 1
    assert after.unit == "ns" and after.objectives["mf"].runtime[-1] == 5e6  # the base's unit
    assert (tmp_path / "out" / ENCODERS_FILE).is_file()
    runs.write_text(f"workload,platform,runtime,unit\nother,{first},5,ms\n")
    with pytest.raises(CsvError, match="line 2, column 'workload': unknown workload 'other'"):
        preprocess(runs, None, None, tmp_path / "out2", append_to=synth_dir)


def test_cli_preprocess_and_export(
    raw: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pitot_tf.cli import main
    from pitot_tf.cli.app import app, register_commands

    register_commands()
    result = CliRunner().invoke(app, [
        "data", "preprocess", "--runs", str(raw["runs"]), "--workloads", str(raw["workloads"]),
        "--platforms", str(raw["platforms"]), "--out", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "dropped 1 failed, 1 timeout" in result.output
    result = CliRunner().invoke(app, [
        "data", "export-raw", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    exported = pd.read_csv(tmp_path / "x" / "runs.csv")  # one row per cell, with its count
    assert (len(exported), exported["count"].sum()) == (5, 7)
    raw["runs"].write_text("workload,platform,runtime,unit\nfft,rpi5,1,s\n")
    monkeypatch.setattr(sys, "argv", [
        "pitot-tf", "data", "preprocess", "--runs", str(raw["runs"]), "--workloads",
        str(raw["workloads"]), "--platforms", str(raw["platforms"]), "--out", str(tmp_path / "y")])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 1
    error = capsys.readouterr().err.strip()
    assert error == (f"error: {raw['runs']}: line 2, column 'platform': unknown platform "
                     f"'rpi5' (not in {raw['platforms']})")
