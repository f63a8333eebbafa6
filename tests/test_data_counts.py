"""Raw opcode counts become the dataset's workload features: the published layout and
``encoders.json``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pitot_tf.data.counts import CountEncoding, CountError, count_encoding
from pitot_tf.data.dataset import load_dataset
from pitot_tf.data.export import export_raw
from pitot_tf.data.preprocess import preprocess

WORKLOADS = """\
name,count:x04,count:x05,count:x0C
fft,100,5,3
sort,20,7,3
crc,0,9,3
"""
RUNS = """\
workload,platform,runtime,unit,interferers,status
fft,rpi4,2,ms,,ok
sort,nuc,1,ms,,ok
crc,nuc,3,ms,,ok
"""
PLATFORMS = "name,freq_mhz:cpufreq\nrpi4,1500\nnuc,2600\n"


def real_counts(raw_tables_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The published table before filtering: workload names, opcode labels and raw counts
    (``exp(feature) - 1``, rounded)."""
    with np.load(raw_tables_dir / "_opcodes.npz") as table:
        names, labels, data = table["names"], table["labels"], table["data"]
    return names, labels, np.round(np.expm1(data.astype(np.float64)))


def test_published_counts_give_the_published_features(real_data_dir: Path,
                                                      raw_tables_dir: Path) -> None:
    dataset = load_dataset(real_data_dir, objectives=["mf"])
    encoding = count_encoding(dataset)
    assert encoding is not None and encoding.source == "opcode labels"
    assert encoding.features == tuple(dataset.workloads.feature_names)
    names, labels, counts = real_counts(raw_tables_dir)
    assert list(names) == list(dataset.workloads.names)
    for w in range(len(names)):
        row = {str(label): int(c) for label, c in zip(labels, counts[w], strict=True) if c}
        row["x00"] = 5  # a real opcode (unreachable), constant over the published workloads
        np.testing.assert_allclose(encoding.encode(row), dataset.workloads.features[w],
                                   rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("counts", "message"), [
    ({"add": 3}, "unknown opcode label 'add': not one of the model's 3 features"),
    ({"x0c": 3}, "unknown opcode label 'x0c'.*did you mean x0C"),
    ({"x04": -1}, "count of 'x04' must be a whole number >= 0, got -1"),
    ({"x04": 2.5}, "count of 'x04' must be a whole number >= 0, got 2.5"),
    ({"x04": float("inf")}, "count of 'x04' must be a whole number >= 0, got inf"),
    ({"x04": float("nan")}, "count of 'x04' must be a whole number >= 0, got nan"),
    ({"x04": "7"}, "count of 'x04' must be a whole number >= 0, got '7'"),
    ({"x04": True}, "count of 'x04' must be a whole number >= 0, got True"),
])
def test_bad_counts_name_the_label_and_value(counts: dict[str, object], message: str) -> None:
    encoding = CountEncoding(("x04", "x05", "x0C"), "opcode labels")
    with pytest.raises(CountError, match=message):
        encoding.encode(counts)


def test_missing_opcodes_count_zero_and_whole_floats_are_counts() -> None:
    encoding = CountEncoding(("x04", "x05", "x0C"), "opcode labels")
    found = encoding.encode({"x05": 3.0, "xFF": 12})
    np.testing.assert_array_equal(found, np.log1p([0.0, 3.0, 0.0]).astype(np.float32))
    assert CountEncoding.from_dict(encoding.to_dict()) == encoding


def test_saved_encoders_are_used_when_present(tmp_path: Path) -> None:
    raw = {"runs": RUNS, "workloads": WORKLOADS, "platforms": PLATFORMS}
    for name, text in raw.items():
        (tmp_path / f"{name}.csv").write_text(text)
    out = tmp_path / "data"
    preprocess(tmp_path / "runs.csv", tmp_path / "workloads.csv", tmp_path / "platforms.csv", out)
    dataset = load_dataset(out)
    encoding = count_encoding(dataset)
    assert encoding == CountEncoding(("x04", "x05"), "encoders.json", ("x0C",))
    found = encoding.encode({"x04": 20, "x05": 7, "x0C": 3})  # x0C: constant, ignored
    np.testing.assert_allclose(found, dataset.workloads.features[1], rtol=1e-6)
    with pytest.raises(CountError, match="unknown opcode label 'x20'"):
        encoding.encode({"x20": 1})  # an opcode label, but not a column of these encoders


def test_features_that_are_not_counts_have_no_encoding(tmp_path: Path) -> None:
    (tmp_path / "runs.csv").write_text(RUNS)
    (tmp_path / "workloads.csv").write_text(WORKLOADS.replace("count:x0C", "num:size")
                                            .replace(",3\n", ",1\n", 1))
    (tmp_path / "platforms.csv").write_text(PLATFORMS)
    preprocess(tmp_path / "runs.csv", tmp_path / "workloads.csv", tmp_path / "platforms.csv",
               tmp_path / "data")
    assert count_encoding(load_dataset(tmp_path / "data")) is None


def test_appended_published_layout_keeps_its_count_encoding(synth_dir: Path,
                                                            tmp_path: Path) -> None:
    """Appending to a dataset without encoders.json saves pass-through (``num:``) encoders;
    its features are still the published layout's opcode counts."""
    raw = export_raw(synth_dir, tmp_path / "raw")
    workloads = pd.read_csv(raw["workloads"], dtype=str).iloc[[0]].assign(name="newbie")
    workloads.to_csv(tmp_path / "w.csv", index=False)
    first = load_dataset(synth_dir).platforms.names[0]
    (tmp_path / "runs.csv").write_text(f"workload,platform,runtime,unit\nnewbie,{first},5,ms\n")
    preprocess(tmp_path / "runs.csv", tmp_path / "w.csv", None, tmp_path / "out",
               append_to=synth_dir)
    assert (tmp_path / "out" / "encoders.json").is_file()
    appended = count_encoding(load_dataset(tmp_path / "out"))
    assert appended == count_encoding(load_dataset(synth_dir))
    assert appended is not None and appended.source == "opcode labels"
