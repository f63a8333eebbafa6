"""Scale: per-step training time and peak memory as the platforms, workloads and rows grow.

    python benchmarks/scaling.py [--scales 1,10,100] [--rows proportional,fixed]
                                 [--tower-rows all,batch] [--blocks PxW,...]
                                 [--all-up-to S] [--per-step N] [--preset NAME]
                                 [--work-dir DIR] [--plot FILE]

Synthetic data (:func:`pitot_tf.data.synth.generate_sparse`) shaped like the published data at
each scale ``s``: ``s × 231`` platforms and ``s × 249`` workloads with 141 opcode features,
and ``s ×`` its 53,637 matrix and 98,957 2-way rows (``proportional``), or the 1× rows on
the larger axes (``fixed``). For each dataset and each ``model.tower_rows`` (``all``: the
towers run on every platform and workload each step; ``batch``: on the rows the batch names;
``all`` only up to the scale ``--all-up-to``), and for each entity block ``PxW`` of
``--blocks`` (``training.block_platforms=P``, ``block_workloads=W``: the towers run on one
block's entities and the co-runner slots, :mod:`pitot_tf.training.entity_blocks`),
one process loads the data, builds the trainer, runs 50 steps to compile and warm up, then
times three rounds of N optimizer steps (CPU milliseconds per step; the figure to compare
on a shared machine) and reports its peak resident memory (TensorFlow's import included).
The cases of one dataset run one after the other, so their ratio is measured under the same
load.

Prints a table and, with ``--plot``, draws per-step time against the number of entities and
peak memory against rows; the last line is one JSON object with the key ``cases`` (one
object per case: scale, rows, tower_rows (``all``, ``batch`` or the block ``PxW``), auto,
platforms, workloads, train_rows, blocks, cpu_ms_per_step, median_ms, peak_rss_mb) and
``load_average``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import checkout_env, cpu_ms_per_step, emit, load_average, peak_rss_mb

#: The published data's axes and rows (``pitot_tf/data/published``).
PLATFORMS, WORKLOADS, OPCODES = 231, 249, 141
MATRIX_ROWS, PAIR_ROWS = 53_637, 98_957


def dataset_dir(work: Path, scale: int, rows: str) -> Path:
    """The synthetic dataset of ``scale`` and ``rows`` mode, written on first use."""
    from pitot_tf.data.synth import SynthSpec, generate_sparse, write_dataset

    folder = work / f"{scale}x-{rows}"
    if (folder / "data.npz").exists():
        return folder
    factor = scale if rows == "proportional" else 1
    spec = SynthSpec(platforms=scale * PLATFORMS, workloads=scale * WORKLOADS,
                     interference=(2,), opcodes=OPCODES, interference_rows=factor * PAIR_ROWS)
    return write_dataset(folder, generate_sparse(spec, factor * MATRIX_ROWS))


def run_case(folder: Path, tower_rows: str, preset: str, steps: int) -> dict[str, Any]:
    """One case in its own process (so that its peak memory is its own)."""
    command = [sys.executable, __file__, "--case", str(folder), "--tower-rows", tower_rows,
               "--preset", preset, "--per-step", str(steps)]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env=checkout_env())
    if done.returncode:
        raise SystemExit(f"case {folder.name} {tower_rows} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def case_overrides(tower_rows: str) -> dict[str, Any]:
    """The config overrides of a case: ``model.tower_rows``, or an entity block ``PxW``."""
    if "x" not in tower_rows:
        return {"model.tower_rows": tower_rows}
    platforms, workloads = (int(n) for n in tower_rows.split("x"))
    return {"training.block_platforms": platforms, "training.block_workloads": workloads}


def case(folder: Path, tower_rows: str, preset: str, steps: int) -> None:
    """Time one case (in this process) and print its JSON line."""
    from common import experiment

    from pitot_tf.training.trainer import Trainer

    run = experiment(preset, case_overrides(tower_rows), data_dir=folder)
    trainer = Trainer(run.config, run.dataset, run.split)
    rounds = cpu_ms_per_step(trainer, steps)
    emit({"platforms": len(run.dataset.platforms), "workloads": len(run.dataset.workloads),
          "train_rows": sum(int(n) for n in trainer.sampler.sizes),
          "blocks": getattr(trainer.sampler, "blocks", 1),
          "auto": auto_choice(trainer), "cpu_ms_per_step": rounds,
          "median_ms": statistics.median(rounds), "peak_rss_mb": round(own_peak_mb(), 1)})


def own_peak_mb() -> float:
    """This process's own peak resident memory, MiB: Linux's ``VmHWM``, which starts afresh
    at ``exec``, where ``getrusage`` keeps the parent's peak at the fork (here, the dataset
    generation's) as a floor; :func:`common.peak_rss_mb` elsewhere."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return peak_rss_mb()


def auto_choice(trainer: Any) -> str:
    """What ``model.tower_rows=auto`` runs for this trainer's training batches."""
    import tensorflow as tf

    from pitot_tf.models.blocks import concatenated
    from pitot_tf.models.parts import model_parts

    layer = model_parts(trainer.model).pitot()
    blocks = trainer.sampler.sample(tf.constant(0)).blocks
    platform, _, interferers = concatenated(blocks)
    saved, layer.tower_rows = layer.tower_rows, "auto"
    try:
        return "batch" if layer.on_batch(platform, interferers) else "all"
    finally:
        layer.tower_rows = saved


def table(cases: list[dict[str, Any]]) -> str:
    """The cases as a text table, with each case's time against the 1× ``all`` case."""
    base = next((c["median_ms"] for c in cases
                 if c["scale"] == 1 and c["tower_rows"] == "all"), None)
    lines = [f"{'scale':>5} {'rows':>12} {'platforms':>9} {'workloads':>9} {'train rows':>10} "
             f"{'towers':>7} {'auto':>5} {'ms/step':>8} {'vs 1x':>6} {'peak MiB':>8}"]
    for c in cases:
        ratio = f"{c['median_ms'] / base:.2f}" if base else "-"
        lines.append(f"{c['scale']:>5} {c['rows']:>12} {c['platforms']:>9} {c['workloads']:>9} "
                     f"{c['train_rows']:>10} {c['tower_rows']:>7} {c['auto']:>5} "
                     f"{c['median_ms']:>8.2f} {ratio:>6} {c['peak_rss_mb']:>8.0f}")
    return "\n".join(lines)


def plot(cases: list[dict[str, Any]], out: Path) -> None:
    """Per-step time against entities (left) and peak memory against rows (right)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), layout="constrained")
    time_axes, memory_axes = figure.subplots(1, 2)
    shapes = {"all": "o", "batch": "s"}
    for rows in ("proportional", "fixed"):
        for towers in dict.fromkeys(c["tower_rows"] for c in cases):
            chosen = sorted((c for c in cases if c["tower_rows"] == towers
                             and (c["rows"] == rows or c["scale"] == 1)),
                            key=lambda c: c["scale"])
            if len(chosen) < 2:
                continue
            style = shapes.get(towers, "^") + ("-" if rows == "proportional" else "--")
            draw(time_axes, memory_axes, chosen, style, f"{label_of(towers)}, {rows} rows")
    base = next((c["median_ms"] for c in cases
                 if c["scale"] == 1 and c["tower_rows"] == "all"), None)
    if base:
        time_axes.axhline(2 * base, color="grey", linestyle=":", label="2 × the 1× step")
    time_axes.set(xscale="log", yscale="log", xlabel="platforms + workloads",
                  ylabel="CPU ms per training step", title="Step time")
    memory_axes.set(xscale="log", xlabel="training rows", ylabel="peak RSS (MiB)",
                    title="Peak memory (whole process)")
    time_axes.legend(fontsize=8)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)


def label_of(towers: str) -> str:
    """A case's legend: where its towers run."""
    if towers in ("all", "batch"):
        return f"towers on {'every entity' if towers == 'all' else 'the batch'}"
    return f"towers on a {towers.replace('x', ' × ')} entity block"


def draw(time_axes: Any, memory_axes: Any, chosen: list[dict[str, Any]], style: str,
         label: str) -> None:
    """One line of cases on each panel."""
    entities = [c["platforms"] + c["workloads"] for c in chosen]
    time_axes.plot(entities, [c["median_ms"] for c in chosen], style, label=label)
    memory_axes.plot([c["train_rows"] for c in chosen], [c["peak_rss_mb"] for c in chosen],
                     style, label=label)


def cases_of(args: argparse.Namespace, scale: int) -> list[str]:
    """The cases of one dataset of ``scale``: the tower rows, then the entity blocks."""
    towers = [t for t in args.tower_rows.split(",") if t and not (
        t == "all" and args.all_up_to is not None and scale > args.all_up_to)]
    return towers + [b for b in args.blocks.split(",") if b]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10,100", help="comma list (default 1,10,100)")
    parser.add_argument("--rows", default="proportional,fixed",
                        help="row modes: proportional, fixed (comma list)")
    parser.add_argument("--tower-rows", default="all,batch", help="model.tower_rows values")
    parser.add_argument("--blocks", default="", metavar="PxW,...",
                        help="entity blocks to time too (e.g. 231x249; default none)")
    parser.add_argument("--all-up-to", type=int, default=None, metavar="S",
                        help="time tower_rows=all only up to scale S (default every scale)")
    parser.add_argument("--per-step", type=int, default=200, metavar="N",
                        help="steps per timed round (default 200)")
    parser.add_argument("--preset", default="pitot")
    parser.add_argument("--work-dir", default=None,
                        help="folder for the synthetic datasets (default: a new one)")
    parser.add_argument("--plot", default=None, metavar="FILE", help="write the figure here")
    parser.add_argument("--replot", default=None, metavar="FILE",
                        help="run nothing: table and figure of the cases in FILE (a JSON "
                        "line this script printed, or a list of cases)")
    parser.add_argument("--case", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        case(Path(args.case), args.tower_rows, args.preset, args.per_step)
        return
    if args.replot:
        saved = json.loads(Path(args.replot).read_text().strip().splitlines()[-1])
        cases = saved["cases"] if isinstance(saved, dict) else saved
        print(table(cases))
        if args.plot:
            plot(cases, Path(args.plot))
        return
    with tempfile.TemporaryDirectory(prefix="pitot-scaling-") as scratch:
        work = Path(args.work_dir or scratch)
        cases = []
        for scale in (int(s) for s in args.scales.split(",")):
            for rows in args.rows.split(",") if scale > 1 else ["proportional"]:
                folder = dataset_dir(work, scale, rows)
                for towers in cases_of(args, scale):
                    result = run_case(folder, towers, args.preset, args.per_step)
                    cases.append({"scale": scale, "rows": rows, "tower_rows": towers, **result})
                    print(table(cases).splitlines()[-1], flush=True)
    print(table(cases))
    if args.plot:
        plot(cases, Path(args.plot))
    emit({"preset": args.preset, "steps": args.per_step, "cases": cases,
          "load_average": [round(x, 2) for x in load_average()]})


if __name__ == "__main__":
    main()
