"""Synthetic datasets in the Pitot format, generated from a known structure with saved truth.

Why: the real dataset is a few MB and its ground truth is unknown, so tests, smoke runs and
model debugging use a small synthetic dataset whose generating parameters are known. A model
that works should recover them (up to the noise level, saved beside the data in
``truth.npz``); see :class:`SynthSpec` for the structure. Its runtimes are in nanoseconds,
recorded as ``unit = "ns"`` in ``data.npz`` (the published data is in microseconds and
records no unit; see :mod:`pitot_tf.data.units`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from pitot_tf.data.units import UNIT_KEY
from pitot_tf.errors import ConfigError

__all__ = ["SynthSpec", "generate", "generate_sparse", "synthesize_dataset",
           "write_dataset"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
Arrays = dict[str, NDArray[np.generic]]

UARCHS = ("cortex-a53", "cortex-a72", "skylake", "znver2")
RUNTIMES = ("iwasm-i", "wasm3-i", "wasmtime-a", "wasmer-j-cl")
CONTINUOUS = ("cpufreq", "l2_size", "l3_size")
SUITES = ("polybench", "mibench", "cortex", "libsodium")
#: The unit of the synthetic runtimes (every log runtime below is of nanoseconds).
UNIT = "ns"
BASELINE_LOG_NS = (12.0, 18.5)  # range of b_w: e^12 ns = 0.16 ms, e^18.5 ns = 0.11 s
PLATFORM_SPREAD = 1.5  # |a_p| < 1.5
EMBED_SCALE = 0.5  # |U|, |V| < 0.5 elementwise, so |<U_w, V_p>| < rank / 4
SLOWDOWN_MAX = 0.6  # one co-runner adds less than 0.6 to the log runtime (< 1.8x)


@dataclass(frozen=True)
class SynthSpec:
    """Size, seed and noise of a synthetic dataset; the docstring is the generating model.

    Side information. Platform ``p`` has a micro-architecture and a WebAssembly runtime, each
    coded one-hot as +1 / -1 columns (``uarch=skylake``, ``runtime=wasm3-i``) like the real
    data, and continuous ``cpufreq`` (log2 GHz), ``l2_size`` and ``l3_size`` (log2 MiB).
    Workload ``w`` has ``opcodes`` nonnegative log opcode counts (``x04``, ``x0B``, ...),
    driven by a latent size and instruction mix, with about 40 % of opcodes absent (0).
    ``x̃`` and ``ỹ`` are the standardised workload and platform features; ``lin(z)`` below
    is a fixed random linear map of ``z`` plus a small per-row residual, so every parameter is
    mostly, but not exactly, a function of the side features.

    Matrix objective (``data.npz``, ``mf``), noise-free::

        log t[p, w] = b_w + a_p + <U_w, V_p>
        b_w = 12 + 6.5 * minmax(mean x̃_w + lin(x̃_w))       # workload size: e^12..e^18.5 ns
        a_p = 1.5 * tanh(interpreter_p - 0.5 cpufreq_p + 0.5 lin(ỹ_p) - 0.5)  # slowness
        U_w = 0.5 * tanh(lin(x̃_w)),  V_p = 0.5 * tanh(lin(ỹ_p))    # rank-``rank`` interaction

    Only a ``density`` fraction of the (p, w) cells is observed (every platform and workload
    at least once).

    K-way interference (``ifK.npz``): rows are observed (p, w) cells, each with K-1 distinct
    co-runners ``c`` other than ``w``; with ``resources`` shared resources ``r``::

        log t = log t[p, w] + sum_c sum_r susceptibility[p, w, r] * pressure[p, c, r]
        susceptibility[p, w, r] = sigmoid(s_w,r + k_p,r)                # in (0, 1)
        pressure[p, c, r] = 0.6 / resources * tanh(relu(g_c,r + h_p,r))  # >= 0

    so co-runners only ever slow a workload down, by less than 1.8x each.

    Observation: ``t = exp(log t + noise * N(0, 1))`` ns, independently per row.
    """

    platforms: int = 24
    workloads: int = 40
    interference: tuple[int, ...] = (2,)
    seed: int = 0
    noise: float = 0.05
    density: float = 0.6
    interference_rows: int | None = None
    rank: int = 4
    resources: int = 2
    opcodes: int = 16

    def validate(self) -> None:
        """Raise ``ConfigError`` for a size, density, noise or degree the model cannot use."""
        checks = {
            "platforms must be >= 1": self.platforms >= 1,
            "workloads must be >= 2": self.workloads >= 2,
            "seed must be >= 0": self.seed >= 0,
            "noise must be >= 0": self.noise >= 0,
            "density must be in (0, 1]": 0 < self.density <= 1,
            "interference degrees must be >= 2": all(k >= 2 for k in self.interference),
            "workloads must be >= the largest interference degree": all(
                k <= self.workloads for k in self.interference
            ),
            "interference_rows must be >= 1": self.interference_rows is None
            or self.interference_rows >= 1,
            "rank, resources and opcodes must be >= 1": min(
                self.rank, self.resources, self.opcodes) >= 1,
        }
        failed = [message for message, ok in checks.items() if not ok]
        if failed:
            raise ConfigError(f"synthetic dataset: {'; '.join(failed)} (got {self})")


@dataclass(frozen=True)
class _Truth:
    """Generating parameters of one synthetic dataset (see :class:`SynthSpec`)."""

    a: FloatArray  # (P,) platform baseline
    b: FloatArray  # (W,) workload baseline
    u: FloatArray  # (W, rank)
    v: FloatArray  # (P, rank)
    s: FloatArray  # (W, R) workload susceptibility logits
    k: FloatArray  # (P, R) platform susceptibility logits
    g: FloatArray  # (W, R) workload pressure logits
    h: FloatArray  # (P, R) platform pressure logits

    def log_t(self) -> FloatArray:
        """Noise-free log runtime of every (platform, workload) pair, shape (P, W)."""
        return self.a[:, None] + self.b[None, :] + self.v @ self.u.T

    def log_t_at(self, p: IntArray, w: IntArray) -> FloatArray:
        """Noise-free log runtime of the cells ``(p, w)`` alone (no ``(P, W)`` matrix)."""
        return self.a[p] + self.b[w] + np.einsum("nr,nr->n", self.v[p], self.u[w])

    def slowdown(self, p: IntArray, w: IntArray, c: IntArray) -> FloatArray:
        """Increase of log runtime of ``w`` on ``p`` caused by co-runner ``c`` (rows)."""
        susceptibility = _sigmoid(self.s[w] + self.k[p])
        pressure = np.tanh(np.maximum(self.g[c] + self.h[p], 0.0))
        return (SLOWDOWN_MAX / self.s.shape[1]) * (susceptibility * pressure).sum(axis=1)


def synthesize_dataset(
    out: Path,
    platforms: int = 24,
    workloads: int = 40,
    interference: Sequence[int] = (2,),
    seed: int = 0,
    noise: float = 0.05,
    density: float = 0.6,
    interference_rows: int | None = None,
) -> Path:
    """Write ``data.npz``, ``ifK.npz`` for each K and ``truth.npz`` into ``out``; return it.

    The dataset in ``out`` is replaced: ``ifK.npz`` files of other degrees are removed, since
    they would not match the new ``data.npz`` and truth.

    The files have the keys and dtypes of the real dataset (plus ``unit``: ``ns``), so every
    loader and model runs on them unchanged; ``truth.npz`` holds the noise-free log runtime
    (of nanoseconds) of every row
    (``mf_log_t``, ``if2_log_t``, ...) and the generating parameters. Deterministic per seed.
    """
    spec = SynthSpec(platforms, workloads, tuple(interference), seed, noise, density,
                     interference_rows)
    return write_dataset(out, generate(spec))


def write_dataset(out: Path, files: dict[str, Arrays]) -> Path:
    """Write ``files`` (:func:`generate`'s or :func:`generate_sparse`'s) into ``out``,
    replacing the dataset there; return ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("if*.npz"):  # loaders read every ifK.npz: drop other degrees' rows
        if re.fullmatch(r"if\d+\.npz", stale.name) and stale.name not in files:
            stale.unlink()
    for name, arrays in files.items():
        # numpy's stub types **kwds like its bool keyword, hence the ignore
        np.savez(out / name, **arrays)  # type: ignore[arg-type]
    return out


def generate(spec: SynthSpec) -> dict[str, Arrays]:
    """The arrays of each file (``data.npz``, ``ifK.npz``, ``truth.npz``) for ``spec``."""
    spec.validate()
    sides = _sides(spec)
    matrix = sides.truth.log_t()
    p, w = _observed(spec, _rng(spec, 4))
    return _files(spec, sides, p, w, matrix[p, w], matrix)


def generate_sparse(spec: SynthSpec, rows: int) -> dict[str, Arrays]:
    """As :func:`generate`, for axes too large for a ``(P, W)`` matrix (benchmarks of scale):
    ``rows`` observed cells instead of a ``spec.density`` fraction, every platform and
    workload at least once, and ``truth.npz`` without ``log_t_matrix``. Memory and time are
    linear in ``rows`` and the axes' sizes; deterministic per seed."""
    spec.validate()
    least = max(spec.platforms, spec.workloads)
    if not least <= rows <= spec.platforms * spec.workloads:
        raise ConfigError(f"synthetic dataset: rows must be in [{least}, platforms * "
                          f"workloads], got {rows}")
    sides = _sides(spec)
    p, w = _observed_cells(spec, rows, _rng(spec, 4))
    return _files(spec, sides, p, w, sides.truth.log_t_at(p, w), None)


@dataclass(frozen=True)
class _Sides:
    """Both axes' side information and the generating parameters drawn from it."""

    platform: FloatArray
    platform_names: NDArray[np.str_]
    workload: FloatArray
    workload_names: NDArray[np.str_]
    truth: _Truth


def _sides(spec: SynthSpec) -> _Sides:
    platform, platform_names, interpreter = _platform_side(spec, _rng(spec, 1))
    workload, workload_names = _workload_side(spec, _rng(spec, 2))
    truth = _parameters(spec, platform, workload, interpreter, _rng(spec, 3))
    return _Sides(platform, platform_names, workload, workload_names, truth)


def _files(spec: SynthSpec, sides: _Sides, p: IntArray, w: IntArray, log_t: FloatArray,
           matrix: FloatArray | None) -> dict[str, Arrays]:
    """Every file's arrays, from the observed cells ``(p, w)`` and their noise-free
    ``log_t`` (and the whole ``matrix`` where there is one, saved in the truth)."""
    data: Arrays = {
        "t": _observe(log_t, spec.noise, _rng(spec, 5)),
        "i_platform": p, "i_workload": w,
        "d_platform": sides.platform.astype(np.float32),
        "d_workload": sides.workload.astype(np.float32),
        "n_platform": sides.platform_names, "n_workload": sides.workload_names,
        "f_platform": _platform_feature_names(), "f_workload": _opcode_names(spec.opcodes),
        UNIT_KEY: np.array(UNIT),
    }
    files = {"data.npz": data}
    truth_arrays = _truth_arrays(spec, sides.truth, matrix)
    truth_arrays["mf_log_t"] = log_t
    for degree in sorted(set(spec.interference)):
        rows, if_log_t = _interference(spec, sides.truth, log_t, p, w, degree,
                                       _rng(spec, 100 + degree))
        files[f"if{degree}.npz"] = rows
        truth_arrays[f"if{degree}_log_t"] = if_log_t
    files["truth.npz"] = truth_arrays
    return files


def _rng(spec: SynthSpec, stream: int) -> np.random.Generator:
    """An independent generator per purpose, so adding an objective leaves the others alone."""
    return np.random.default_rng([spec.seed, stream])


def _sigmoid(x: FloatArray) -> FloatArray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def _one_hot_pm(index: IntArray, classes: int) -> FloatArray:
    """One-hot coding with +1 for the class and -1 elsewhere, as in the real features."""
    return np.where(index[:, None] == np.arange(classes), 1.0, -1.0)


def _balanced(rng: np.random.Generator, n: int, classes: int) -> IntArray:
    """``n`` class labels, each class used as evenly as possible, in random order."""
    return rng.permutation(np.arange(n, dtype=np.int64) % classes)


def _platform_side(
    spec: SynthSpec, rng: np.random.Generator
) -> tuple[FloatArray, NDArray[np.str_], FloatArray]:
    """Platform features (uarch one-hot, continuous, runtime one-hot), names, interpreter flag."""
    n = spec.platforms
    uarch, runtime = _balanced(rng, n, len(UARCHS)), _balanced(rng, n, len(RUNTIMES))
    continuous = np.stack([
        rng.uniform(-1.5, 1.3, n),  # cpufreq: log2 GHz, 0.35 to 2.5 GHz
        rng.integers(-2, 2, n).astype(np.float64),  # l2_size: log2 MiB
        rng.integers(-1, 4, n).astype(np.float64),  # l3_size: log2 MiB
    ], axis=1)
    features = np.hstack([_one_hot_pm(uarch, len(UARCHS)), continuous,
                          _one_hot_pm(runtime, len(RUNTIMES))])
    interpreter = np.array([RUNTIMES[r].endswith("-i") for r in runtime], dtype=np.float64)
    names = np.array([f"synth-p{i:02d}" for i in range(n)])
    return features, names, interpreter


def _platform_feature_names() -> NDArray[np.str_]:
    """Feature names in the real data's style and column order."""
    return np.array([f"uarch={u}" for u in UARCHS] + list(CONTINUOUS)
                    + [f"runtime={r}" for r in RUNTIMES])


def _opcode_names(count: int) -> NDArray[np.str_]:
    """Names like the real workload features: ``x`` and a hex opcode."""
    return np.array([f"x{0x04 + 7 * j:02X}" for j in range(count)])


def _workload_side(
    spec: SynthSpec, rng: np.random.Generator
) -> tuple[FloatArray, NDArray[np.str_]]:
    """Log opcode counts driven by a latent size and mix, about 40 % zeros; and names."""
    n, f = spec.workloads, spec.opcodes
    size = rng.uniform(0.0, 1.0, n)
    mix = rng.normal(size=(n, 3))
    level = 6.0 + 10.0 * size[:, None] + mix @ rng.normal(scale=1.2, size=(3, f))
    level += rng.normal(scale=0.5, size=(n, f))
    present = rng.random((n, f)) < _sigmoid(0.4 + mix @ rng.normal(size=(3, f)))
    features = np.where(present, np.maximum(level, 0.0), 0.0)
    names = np.array([f"{SUITES[i % len(SUITES)]}/w{i:02d}" for i in range(n)])
    return features, names


def _standardize(x: FloatArray) -> FloatArray:
    """Zero mean, unit variance per column (constant columns become 0)."""
    return (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)


def _lin(rng: np.random.Generator, x: FloatArray, out: int, residual: float) -> FloatArray:
    """A random linear map of ``x`` with unit-variance outputs plus a small residual."""
    weight = rng.normal(size=(x.shape[1], out)) / np.sqrt(x.shape[1])
    return x @ weight + residual * rng.normal(size=(x.shape[0], out))


def _minmax(x: FloatArray) -> FloatArray:
    """Rescale to [0, 1]."""
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.full_like(x, 0.5)


def _parameters(
    spec: SynthSpec, platform: FloatArray, workload: FloatArray, interpreter: FloatArray,
    rng: np.random.Generator,
) -> _Truth:
    """Draw the generating parameters as functions of the standardised side features."""
    x, y = _standardize(workload), _standardize(platform)
    lo, hi = BASELINE_LOG_NS
    cpufreq = y[:, len(UARCHS)]
    r = spec.resources
    return _Truth(
        a=PLATFORM_SPREAD * np.tanh(
            interpreter - 0.5 * cpufreq + 0.5 * _lin(rng, y, 1, 0.1)[:, 0] - 0.5),
        b=lo + (hi - lo) * _minmax(x.mean(axis=1) + 0.3 * _lin(rng, x, 1, 0.1)[:, 0]),
        u=EMBED_SCALE * np.tanh(_lin(rng, x, spec.rank, 0.2)),
        v=EMBED_SCALE * np.tanh(_lin(rng, y, spec.rank, 0.2)),
        s=_lin(rng, x, r, 0.2), k=_lin(rng, y, r, 0.2),
        g=_lin(rng, x, r, 0.2) + 0.5, h=0.5 * _lin(rng, y, r, 0.2),
    )


def _observed(spec: SynthSpec, rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """A ``density`` fraction of the (p, w) cells, covering every platform and workload."""
    n_p, n_w = spec.platforms, spec.workloads
    cover = np.arange(max(n_p, n_w))
    forced = np.unique((cover % n_p) * n_w + rng.permutation(n_w)[cover % n_w])
    target = max(round(spec.density * n_p * n_w), forced.size)
    rest = np.setdiff1d(np.arange(n_p * n_w), forced)
    extra = rng.choice(rest, size=target - forced.size, replace=False)
    cells = rng.permutation(np.concatenate([forced, extra])).astype(np.int64)
    return cells // n_w, cells % n_w


def _observed_cells(spec: SynthSpec, rows: int,
                    rng: np.random.Generator) -> tuple[IntArray, IntArray]:
    """``rows`` distinct (p, w) cells covering every platform and workload, drawn without
    listing every cell (for axes too large for that)."""
    n_p, n_w = spec.platforms, spec.workloads
    cover = np.arange(max(n_p, n_w))
    forced = np.unique((cover % n_p) * n_w + rng.permutation(n_w)[cover % n_w])
    drawn = forced
    while drawn.size < rows:
        drawn = np.union1d(drawn, rng.integers(n_p * n_w, size=rows - drawn.size))
    extra = rng.permutation(np.setdiff1d(drawn, forced))[: rows - forced.size]
    cells = rng.permutation(np.concatenate([forced, extra])).astype(np.int64)
    return cells // n_w, cells % n_w


def _observe(log_t: FloatArray, noise: float, rng: np.random.Generator) -> FloatArray:
    """Runtimes in ns with multiplicative log-normal noise."""
    return np.exp(log_t + noise * rng.normal(size=log_t.shape))


def _corunners(rng: np.random.Generator, w: IntArray, n_w: int, count: int) -> IntArray:
    """For each row, ``count`` distinct workloads other than ``w[row]`` (uniformly)."""
    co = np.empty((w.size, count), dtype=np.int64)
    for j in range(count):
        todo = np.arange(w.size)
        while todo.size:
            pick = rng.integers(n_w - 1, size=todo.size)
            pick += pick >= w[todo]  # skip the workload itself
            clash = (co[todo, :j] == pick[:, None]).any(axis=1)
            co[todo[~clash], j] = pick[~clash]
            todo = todo[clash]
    return co


def _interference(
    spec: SynthSpec, truth: _Truth, cells: FloatArray, p: IntArray, w: IntArray,
    degree: int, rng: np.random.Generator,
) -> tuple[Arrays, FloatArray]:
    """Rows of the ``degree``-way objective (each on an observed cell ``(p, w)``, whose
    noise-free log runtime alone is ``cells``) and their noise-free log runtime."""
    rows = rng.integers(p.size, size=spec.interference_rows or p.size)
    ip, iw = p[rows], w[rows]
    co = _corunners(rng, iw, spec.workloads, degree - 1)
    log_t = cells[rows] + sum(
        (truth.slowdown(ip, iw, co[:, j]) for j in range(degree - 1)), np.zeros(rows.size))
    arrays: Arrays = {"t": _observe(log_t, spec.noise, rng), "i_platform": ip, "i_workload": iw}
    arrays.update({f"i_interference{j}": co[:, j] for j in range(degree - 1)})
    return arrays, log_t


def _truth_arrays(spec: SynthSpec, truth: _Truth, matrix: FloatArray | None) -> Arrays:
    """Generating parameters and settings, for ``truth.npz`` (and the noise-free ``(P, W)``
    matrix, where there is one)."""
    return {
        **({} if matrix is None else {"log_t_matrix": matrix}),
        "a_platform": truth.a, "b_workload": truth.b,
        "u_workload": truth.u, "v_platform": truth.v,
        "susceptibility_workload": truth.s, "susceptibility_platform": truth.k,
        "pressure_workload": truth.g, "pressure_platform": truth.h,
        "slowdown_max": np.array(SLOWDOWN_MAX, dtype=np.float64),
        "noise": np.array(spec.noise, dtype=np.float64),
        "density": np.array(spec.density, dtype=np.float64),
        "seed": np.array(spec.seed, dtype=np.int64), "rank": np.array(spec.rank, dtype=np.int64),
        "interference": np.array(sorted(set(spec.interference)), dtype=np.int64),
    }
