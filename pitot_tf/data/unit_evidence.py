"""Why the published runtimes are microseconds: the evidence, computed from the data itself.

The published dataset does not record its unit, and the reference implementation's README
has said two different things (``seconds``, then ``nanoseconds``), both physically
impossible. Two facts in the data settle it:

* a kernel of known size: polybench/small/gemm multiplies 60×80 by 80×70 matrices
  (2·60·70·80 = 672,000 floating-point operations) and reads 5,460 on iwasm-a:hc-11. As
  microseconds that is 5.46 ms (0.12 GFLOP/s, a plausible pace for scalar WebAssembly on an
  edge device); as seconds it would be an hour and a half, as nanoseconds 123 GFLOP/s, far
  beyond any single CPU core running WebAssembly.
* the ceiling: no runtime exceeds 3.0e7 and the largest is 2.9993e7, i.e. 30 s as
  microseconds, the benchmark's 30 s timeout; a few runtimes sit just under it.

``pitot-tf data validate`` prints these lines for the published data (docs/data.md).
"""

from __future__ import annotations

import numpy as np

from pitot_tf.data.dataset import MATRIX_OBJECTIVE, Dataset
from pitot_tf.data.units import format_seconds

#: The reference cell: (workload, platform, floating-point operations of one run).
GEMM_CELL = ("polybench/small/gemm", "iwasm-a:hc-11", 2 * 60 * 70 * 80)
#: The benchmark's per-run timeout, and how close to it a runtime counts as "at" it.
TIMEOUT_S = 30.0
NEAR_TIMEOUT_S = 0.1
UNIT_WORDS = {"ns": "nanoseconds", "us": "microseconds", "ms": "milliseconds", "s": "seconds"}


def cell_runtime(dataset: Dataset, workload: str, platform: str) -> float | None:
    """The stored (unconverted) matrix runtime of ``workload`` alone on ``platform``, or None
    if either name is unknown or the cell is unobserved (the mean if it is repeated)."""
    w = dataset.workloads.index().get(workload)
    p = dataset.platforms.index().get(platform)
    if w is None or p is None:
        return None
    matrix = dataset.objectives[MATRIX_OBJECTIVE]
    rows = (matrix.workload == w) & (matrix.platform == p)
    return float(np.mean(matrix.runtime[rows])) if rows.any() else None


def timeout_counts(dataset: Dataset) -> tuple[float, dict[str, int], int]:
    """The largest stored runtime, the number of runtimes per objective within
    ``NEAR_TIMEOUT_S`` of the timeout (at or under it), and how many exceed it."""
    largest = max(float(obs.runtime.max()) for obs in dataset.objectives.values() if len(obs))
    near: dict[str, int] = {}
    above = 0
    for name, obs in dataset.objectives.items():
        seconds = dataset.seconds(obs.runtime)
        near[name] = int(((seconds >= TIMEOUT_S - NEAR_TIMEOUT_S) & (seconds <= TIMEOUT_S)).sum())
        above += int((seconds > TIMEOUT_S).sum())
    return largest, near, above


def unit_lines(dataset: Dataset, published: bool) -> list[str]:
    """What ``t`` is, for people; for the published data, with the evidence for its unit."""
    unit = UNIT_WORDS.get(dataset.unit, dataset.unit)
    if not published:
        return [f"runtimes t are in {unit} (recorded in data.npz); commands show seconds or "
                "milliseconds"]
    lines = [f"t is mean wall time in {unit} (the files do not say so; the evidence:)"]
    workload, platform, flops = GEMM_CELL
    stored = cell_runtime(dataset, workload, platform)
    if stored is not None:
        seconds = float(dataset.seconds(np.array([stored]))[0])
        lines.append(
            f"  {workload} (about {flops / 1000:.0f}k flops) reads {stored:,.0f} on {platform} "
            f"= {format_seconds(seconds)} ({flops / seconds / 1e9:.2g} GFLOP/s);")
        lines.append(
            f"    read as seconds it would take {stored / 60:,.0f} min; as nanoseconds it would "
            f"run at {flops / (stored * 1e-9) / 1e9:,.0f} GFLOP/s, beyond any CPU core running "
            "WebAssembly")
    largest, near, above = timeout_counts(dataset)
    counted = ", ".join(f"{n} {name}" for name, n in near.items())
    stored_max = f"{largest:.5g}".replace("e+0", "e")
    ceiling = format_seconds(float(dataset.seconds(np.array(largest))))
    lines.append(
        f"  the largest, {stored_max} = {ceiling}, "
        f"is the {TIMEOUT_S:g} s timeout: {sum(near.values())} runtimes within "
        f"{NEAR_TIMEOUT_S:g} s of it ({counted}), {above} above")
    lines.append("  the reference README's 'seconds' and later 'nanoseconds' are both "
                 "physically impossible (see docs/data.md)")
    return lines
