"""Feature encoders and the raw CSV reader: values of each encoding, constant columns dropped,
saved encoders re-applied identically, and errors that name file, line and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pitot_tf.data.encoders import (
    AxisEncoder,
    fit_axis,
    load_encoders,
    passthrough,
    read_feature_table,
    save_encoders,
)
from pitot_tf.data.rawcsv import CsvError, read_csv
from pitot_tf.errors import DataError

PLATFORMS = """\
name,cat:uarch,size:l2_size,freq_mhz:cpufreq,cat:runtime,num:cores
rpi4,cortex-a72,1048576,1500,wasmtime,4
nuc,skylake,0,2600,wasmtime,4

odroid,cortex-a53,524288,1200,wasmtime,4
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_platform_encodings(tmp_path: Path) -> None:
    """One-hot ±1, log2 size with offset and indicator, log MHz with offset; constants go."""
    table = read_feature_table(_write(tmp_path, "platforms.csv", PLATFORMS), "platform")
    encoder = fit_axis("platform", table)
    # runtime and cores are the same for every platform: dropped.
    assert encoder.features == (
        "uarch=cortex-a53", "uarch=cortex-a72", "uarch=skylake", "l2_size", "l2_size:ind",
        "cpufreq",
    )
    x = encoder.encode(table)
    assert x.dtype == np.float32 and x.shape == (3, 6)
    np.testing.assert_array_equal(x[:, :3], [[-1, 1, -1], [-1, -1, 1], [1, -1, -1]])
    # l2: log2 of 2^20 and 2^19, offset = round(median(20, 19)) = 20 (round half to even);
    # absent (0 bytes) encodes as 0 with indicator -1.
    np.testing.assert_allclose(x[:, 3], [0.0, 0.0, -1.0])
    np.testing.assert_array_equal(x[:, 4], [1, -1, 1])
    offset = round(float(np.median(np.log([1500, 2600, 1200]))))
    np.testing.assert_allclose(x[:, 5], np.log([1500, 2600, 1200]) - offset, rtol=1e-6)
    assert table.lines.tolist() == [2, 3, 5]  # the blank line 4 is skipped, numbering kept


def test_counts_are_log1p(tmp_path: Path) -> None:
    path = _write(tmp_path, "w.csv", "name,count:x04,count:x05\na,0,10\nb,99,10\nc,3,10\n")
    table = read_feature_table(path, "workload")
    encoder = fit_axis("workload", table)
    assert encoder.features == ("x04",)
    np.testing.assert_allclose(encoder.encode(table)[:, 0], np.log1p([0, 99, 3]), rtol=1e-6)


def test_saved_encoders_encode_new_rows_the_same(tmp_path: Path) -> None:
    table = read_feature_table(_write(tmp_path, "platforms.csv", PLATFORMS), "platform")
    encoder = fit_axis("platform", table)
    path = save_encoders(tmp_path / "encoders.json", {"platform": encoder, "workload": passthrough(
        "workload", ["x04"])})
    loaded = load_encoders(path)
    assert loaded["platform"] == encoder
    assert loaded["workload"].features == ("x04",)
    new = read_feature_table(_write(tmp_path, "new.csv", PLATFORMS.replace(
        "nuc,skylake,0,2600", "nuc,znver2,2097152,2600")), "platform")
    x = loaded["platform"].encode(new)
    assert x.shape == (3, 6)
    np.testing.assert_array_equal(x[1, :3], [-1, -1, -1])  # unseen category: all -1
    np.testing.assert_allclose(x[1, 3:5], [1.0, 1.0])  # log2(2^21) - 20, present
    np.testing.assert_array_equal(x[[0, 2]], encoder.encode(table)[[0, 2]])


def test_passthrough_keeps_values_exactly(tmp_path: Path) -> None:
    path = _write(tmp_path, "p.csv", "name,num:a:ind,num:b=1\np,0.1,-1.0\nq,1e-08,1.0\n")
    encoder = passthrough("platform", ["a:ind", "b=1"])
    x = encoder.encode(read_feature_table(path, "platform"))
    np.testing.assert_array_equal(x, np.array([[0.1, -1.0], [1e-8, 1.0]], dtype=np.float32))


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("name,size:l2\na,1024\nb,-5\n", 3, "size:l2", "must be >= 0"),
        ("name,freq_mhz:f\na,1000\nb,0\n", 3, "freq_mhz:f", "must be > 0"),
        ("name,count:x\na,1\nb,many\n", 3, "count:x", "expected a finite number, got 'many'"),
        ("name,num:x\na,\n", 2, "num:x", "expected a finite number"),
        ("name,cat:u\na,\n", 2, "cat:u", "empty category"),
        ("name,x04\na,1\n", 1, "x04", "kind:column"),
        ("name,bogus:x\na,1\n", 1, "bogus:x", "kind:column"),
        ("name,num:x\na,1\na,2\n", 3, "name", "appears twice"),
        ("name,num:x\na;b,1\n", 2, "name", "contains ';'"),
        ("name,num:x,num:x\na,1,2\n", 1, "num:x", "appears twice in the header"),
        ("name,num:x\na,1,2\n", 2, "num:x", "expected 2 fields"),
        ("name,num:x,count:x\na,1,2\nb,2,3\n", 1, "count:x", "also made by 'num:x'"),
        ("num:x\n1\n", 1, "name", "missing column"),
    ],
)
def test_bad_tables_name_file_line_column(
    tmp_path: Path, text: str, line: int, column: str, message: str
) -> None:
    path = _write(tmp_path, "workloads.csv", text)
    with pytest.raises(CsvError) as caught:
        fit_axis("workload", read_feature_table(path, "workload"))
    error = caught.value
    assert (error.line, error.column) == (line, column)
    assert str(error).startswith(f"{path}: line {line}, column '{column}': ")
    assert message in str(error)
    assert "\n" not in str(error)


def test_encoders_reject_unknown_columns(tmp_path: Path) -> None:
    encoder = passthrough("platform", ["a"])
    table = read_csv(_write(tmp_path, "p.csv", "name,num:a,num:b\np,1,2\n"))
    with pytest.raises(CsvError, match="column 'num:b': not a column of the dataset's saved"):
        encoder.encode(table)
    with pytest.raises(CsvError, match="column 'num:a': missing column"):
        AxisEncoder("platform", passthrough("platform", ["a"]).columns, ("a",)).encode(
            read_csv(_write(tmp_path, "q.csv", "name\np\n")))


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_csv(tmp_path / "absent.csv")
    with pytest.raises(DataError, match="empty file"):
        read_csv(_write(tmp_path, "empty.csv", ""))
    broken = _write(tmp_path, "encoders.json", '{"version": 1, "platform": {}}')
    with pytest.raises(DataError, match="not a readable encoders file"):
        load_encoders(broken)
