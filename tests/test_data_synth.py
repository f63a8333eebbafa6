"""Tests of the synthetic dataset: real format, determinism, validity and consistent truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pitot_tf.data.synth import SynthSpec, generate, generate_sparse, synthesize_dataset
from pitot_tf.errors import ConfigError


def _load(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an npz file (no pickles allowed, like the real loader)."""
    with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset with 2-, 3- and 4-way interference, shared by the read-only tests."""
    return synthesize_dataset(tmp_path_factory.mktemp("synth"), interference=(2, 3, 4))


def test_files_and_keys(synth: Path) -> None:
    """One file per objective plus truth; ifK has i_interference0..K-2."""
    assert sorted(p.name for p in synth.iterdir()) == [
        "data.npz", "if2.npz", "if3.npz", "if4.npz", "truth.npz"]
    data = _load(synth / "data.npz")
    assert set(data) == {"t", "i_platform", "i_workload", "d_platform", "d_workload",
                         "n_platform", "n_workload", "f_platform", "f_workload", "unit"}
    assert str(data["unit"]) == "ns"
    for k in (2, 3, 4):
        rows = _load(synth / f"if{k}.npz")
        expected = {"t", "i_platform", "i_workload"} | {f"i_interference{j}" for j in range(k - 1)}
        assert set(rows) == expected
        assert all(a.shape == rows["t"].shape for a in rows.values())
    assert data["d_platform"].shape == (24, len(data["f_platform"]))
    assert data["d_workload"].shape == (40, len(data["f_workload"]))
    assert data["n_platform"][3] == "synth-p03"
    assert {"uarch=skylake", "runtime=wasm3-i", "cpufreq"} <= set(data["f_platform"])


def test_matches_real_format(synth: Path, real_data_dir: Path) -> None:
    """Same keys and dtype kinds (and dimensions) as the real data.npz and if2.npz, plus the
    runtime unit, which the published data does not record."""
    real = real_data_dir
    for name in ("data.npz", "if2.npz"):
        ours, theirs = _load(synth / name), _load(real / name)
        assert set(ours) - {"unit"} == set(theirs), name
        for key in theirs:
            assert ours[key].dtype.kind == theirs[key].dtype.kind, (name, key)
            assert ours[key].ndim == theirs[key].ndim, (name, key)


def test_values_valid(synth: Path) -> None:
    """Runtimes finite, positive and realistic (1 µs to 100 s, in ns); indices in range;
    co-runners distinct."""
    data = _load(synth / "data.npz")
    n_p, n_w = len(data["n_platform"]), len(data["n_workload"])
    for name in ("data.npz", "if2.npz", "if3.npz", "if4.npz"):
        rows = _load(synth / name)
        t = rows["t"]
        assert np.isfinite(t).all() and (t > 0).all() and (1e3 < t).all() and (t < 1e11).all()
        assert ((0 <= rows["i_platform"]) & (rows["i_platform"] < n_p)).all()
        others = sorted(k for k in rows if k.startswith("i_interference"))
        group = np.stack([rows["i_workload"]] + [rows[k] for k in others], axis=1)
        assert ((0 <= group) & (group < n_w)).all()
        assert all(len(set(row)) == group.shape[1] for row in group.tolist()), name
    assert len(np.unique(data["i_platform"] * n_w + data["i_workload"])) == len(data["t"])
    assert set(data["i_platform"]) == set(range(n_p)) and set(data["i_workload"]) == set(range(n_w))
    assert len(data["t"]) == round(0.6 * n_p * n_w)


def test_truth_consistent(synth: Path) -> None:
    """log t minus the saved noise-free log t is noise of the saved size, for every objective."""
    truth = _load(synth / "truth.npz")
    noise = float(truth["noise"])
    for objective, name in (("mf", "data.npz"), ("if2", "if2.npz"), ("if4", "if4.npz")):
        residual = np.log(_load(synth / name)["t"]) - truth[f"{objective}_log_t"]
        assert abs(residual.std() - noise) < 0.2 * noise, objective
        assert abs(residual.mean()) < 0.3 * noise, objective
    data = _load(synth / "data.npz")
    matrix = truth["log_t_matrix"]
    assert np.allclose(truth["mf_log_t"], matrix[data["i_platform"], data["i_workload"]])
    expected = truth["a_platform"][:, None] + truth["b_workload"][None, :]
    expected = expected + truth["v_platform"] @ truth["u_workload"].T
    assert np.allclose(matrix, expected)


def test_interference_slows_down(synth: Path) -> None:
    """Co-runners never speed up (noise-free) and slow down on average, more with more of them."""
    truth = _load(synth / "truth.npz")
    mean_slowdown = []
    for k in (2, 3, 4):
        rows = _load(synth / f"if{k}.npz")
        alone = truth["log_t_matrix"][rows["i_platform"], rows["i_workload"]]
        assert (truth[f"if{k}_log_t"] >= alone).all()
        mean_slowdown.append(float(np.mean(np.log(rows["t"]) - alone)))
    assert 0 < mean_slowdown[0] < mean_slowdown[1] < mean_slowdown[2]


def test_deterministic_per_seed(tmp_path: Path) -> None:
    """Same seed → identical files; another seed → different runtimes."""
    kwargs = {"platforms": 6, "workloads": 9, "interference": (2, 3)}
    first = synthesize_dataset(tmp_path / "a", seed=3, **kwargs)  # type: ignore[arg-type]
    second = synthesize_dataset(tmp_path / "b", seed=3, **kwargs)  # type: ignore[arg-type]
    other = synthesize_dataset(tmp_path / "c", seed=4, **kwargs)  # type: ignore[arg-type]
    for name in ("data.npz", "if2.npz", "if3.npz", "truth.npz"):
        a, b = _load(first / name), _load(second / name)
        assert all(np.array_equal(a[key], b[key]) for key in a), name
    assert not np.array_equal(_load(first / "data.npz")["t"], _load(other / "data.npz")["t"])
    assert not np.array_equal(_load(first / "if2.npz")["t"], _load(other / "if2.npz")["t"])


def test_objectives_independent_and_sizes(tmp_path: Path) -> None:
    """Adding if3 leaves if2 unchanged; interference_rows sets the row count."""
    only2 = synthesize_dataset(tmp_path / "a", platforms=5, workloads=7, interference=(2,))
    both = synthesize_dataset(tmp_path / "b", platforms=5, workloads=7, interference=(3, 2),
                              interference_rows=50, density=1.0)
    assert len(_load(only2 / "data.npz")["i_workload"]) == 21
    assert len(_load(both / "data.npz")["t"]) == 35
    assert len(_load(both / "if3.npz")["t"]) == 50
    again = synthesize_dataset(tmp_path / "c", platforms=5, workloads=7, interference=(2, 3))
    assert np.array_equal(_load(only2 / "if2.npz")["t"], _load(again / "if2.npz")["t"])


def test_small_and_edge_sizes(tmp_path: Path) -> None:
    """K equal to the workload count still works (co-runners = all other workloads)."""
    out = synthesize_dataset(tmp_path, platforms=2, workloads=3, interference=(3,), density=0.1)
    rows = _load(out / "if3.npz")
    group = np.stack([rows["i_workload"], rows["i_interference0"], rows["i_interference1"]], 1)
    assert (np.sort(group, axis=1) == np.arange(3)).all()
    assert len(_load(out / "data.npz")["t"]) == 3  # at least every platform and workload


@pytest.mark.parametrize("bad", [
    {"density": 0.0}, {"density": 1.5}, {"interference": (1,)}, {"noise": -0.1},
    {"workloads": 3, "interference": (4,)}, {"platforms": 0}, {"seed": -1},
    {"interference_rows": 0},
])
def test_invalid_parameters(tmp_path: Path, bad: dict[str, object]) -> None:
    """Out-of-range parameters raise ConfigError and write nothing."""
    with pytest.raises(ConfigError):
        synthesize_dataset(tmp_path / "x", **bad)  # type: ignore[arg-type]
    assert not (tmp_path / "x").exists()


def test_spec_documents_structure() -> None:
    """The SynthSpec docstring describes the model (it is the user-facing documentation)."""
    doc = SynthSpec.__doc__ or ""
    assert "susceptibility" in doc and "pressure" in doc and "density" in doc


def test_rewrite_drops_other_degrees(tmp_path: Path) -> None:
    """Synthesizing into a used folder replaces the dataset, leaving no stale ifK.npz."""
    synthesize_dataset(tmp_path, platforms=4, workloads=5, interference=(2, 3))
    (tmp_path / "notes.txt").write_text("kept")
    synthesize_dataset(tmp_path, platforms=4, workloads=5, interference=(4,))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "data.npz", "if4.npz", "notes.txt", "truth.npz"]


def test_sparse_rows_cover_every_entity_without_a_matrix() -> None:
    spec = SynthSpec(platforms=30, workloads=50, interference=(2, 3), interference_rows=70)
    files = generate_sparse(spec, rows=400)
    data, truth = files["data.npz"], files["truth.npz"]
    p, w = data["i_platform"], data["i_workload"]
    assert len(p) == 400 and len(np.unique(p * 50 + w)) == 400  # distinct cells
    assert set(p) == set(range(30)) and set(w) == set(range(50))
    assert "log_t_matrix" not in truth
    dense = generate(spec)["truth.npz"]  # same parameters, so the same cells' truth
    np.testing.assert_allclose(truth["mf_log_t"], dense["log_t_matrix"][p, w], rtol=1e-12)
    for degree in (2, 3):
        rows = files[f"if{degree}.npz"]
        assert len(rows["t"]) == 70
        cells = set(zip(p.tolist(), w.tolist(), strict=True))
        pairs = zip(rows["i_platform"].tolist(), rows["i_workload"].tolist(), strict=True)
        assert all(pair in cells for pair in pairs)
    again = generate_sparse(spec, rows=400)["data.npz"]
    np.testing.assert_array_equal(again["t"], data["t"])
    with pytest.raises(ConfigError, match="rows"):
        generate_sparse(spec, rows=30 * 50 + 1)
