"""Time to accuracy: a preset against the reference implementation, whole process, interleaved.

    bash benchmarks/reference.sh --work WORK     # once: the reference's clone, venv and splits
    python benchmarks/time_to_accuracy.py --preset pitot/fast --reference-work WORK \
        --splits WORK/run-<date-time>/splits [--level 0.5] [--replicate 0] [--pairs 3]
        [--reference-preset pitot] [--set KEY=VALUE ...] [--jsonl FILE] [--reference-steps N]

Each pair runs both sides once on the same split file (``--splits DIR``, folders
``<level>/<replicate>.npz``: pitot-tf's or the reference's, see ``reference.sh --splits``),
each as a fresh process timed from its start to its metrics printed (Python's start-up and
the import of TensorFlow or JAX included): ours by ``benchmarks/accuracy_trace.py``, the
reference by ``benchmarks/reference_run.py`` in its own environment (``WORK/venv``, run from
``WORK/pitot``, the preset restricted to the matrix and 2-way objectives as ``reference.sh``
does, ``--steps`` as the preset says). Pairs alternate which side goes first, so that both
see the same load; the load average is printed beside every time.

Ours validates every ``training.val_every`` steps as usual; at each validation it also
records the validation MAPE per objective and the time since its process started. The time
to accuracy is the first of those times at which every objective's validation MAPE is at or
below the reference's final validation MAPE (same pair, same split file; "never" if it does
not get there). The test MAPE of both is reported at the end; MAPE is the mean
``|exp(log t - log t̂) - 1|`` over the rows, as both implementations score it.

Per pair it prints both wall times, their ratio (ours / reference), the peak RSS, the test
MAPE of each and the time to accuracy. The last line is one JSON object: ``pairs`` (a record
per pair), ``median_wall_ratio``, ``median_time_to_accuracy_ratio`` (time to accuracy over
the reference's whole-process wall; null if ours never got there in some pair) and the mean
test MAPE of each side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import add_data_options, emit

HERE = Path(__file__).resolve().parent
REFERENCE_RUN = HERE / "reference_run.py"
ACCURACY_TRACE = HERE / "accuracy_trace.py"


def level_folder(splits: Path, level: float) -> str:
    """The name of ``splits``' folder for ``level`` (``0.5``, ``0.50`` ...)."""
    for path in sorted(splits.iterdir()):
        try:
            if path.is_dir() and abs(float(path.name) - level) < 1e-9:
                return path.name
        except ValueError:
            continue
    raise SystemExit(f"time_to_accuracy: {splits} has no folder for level {level:g} "
                     "(make the split files with `bash benchmarks/reference.sh --level L`)")


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run ``command``; its last line's JSON object, plus ``started`` (epoch seconds),
    ``wall_s`` (whole process) and the load average before it started."""
    load = os.getloadavg()[0]
    started = time.time()
    begin = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - begin
    if done.returncode != 0:
        raise SystemExit(f"time_to_accuracy: {' '.join(command)} failed "
                         f"(exit {done.returncode}):\n{done.stderr[-3000:]}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    return {**record, "started": started, "wall_s": round(wall, 2), "load": round(load, 2)}


def reference_side(args: argparse.Namespace, level: str) -> dict[str, Any]:
    work = Path(args.reference_work).resolve()
    python, clone = work / "venv" / "bin" / "python", work / "pitot"
    if not python.is_file() or not (clone / "manage.py").is_file():
        raise SystemExit(f"time_to_accuracy: {work} has no reference clone and venv "
                         "(make them with `bash benchmarks/reference.sh --work DIR`)")
    env = {**os.environ, "JAX_PLATFORM_NAME": os.environ.get("JAX_PLATFORM_NAME", "cpu")}
    command = [str(python), str(REFERENCE_RUN), "--splits", str(Path(args.splits).resolve()),
               "--level", level, "--replicate", str(args.replicate),
               "--preset", args.reference_preset]
    if args.reference_steps:
        command += ["--steps", str(args.reference_steps)]
    return timed(command, clone, env)


def our_side(args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, str(ACCURACY_TRACE), "--preset", args.preset,
               "--splits", str(Path(args.splits).resolve()), "--level", str(args.level),
               "--replicate", str(args.replicate), "--set", *args.overrides]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    path = os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))
    return timed(command, HERE.parent, {**os.environ, "PYTHONPATH": path})


def time_to_accuracy(ours: dict[str, Any], target: dict[str, float]) -> float | None:
    """Seconds from our process's start to its first validation with every objective's
    validation MAPE at or below ``target``'s; None if none was."""
    for stamp, _, val in ours["trace"]:
        if all(val[name] <= target[name] for name in target if name in val):
            return round(stamp - ours["started"], 2)
    return None


def one_pair(args: argparse.Namespace, level: str, index: int) -> dict[str, Any]:
    sides = [("reference", lambda: reference_side(args, level)), ("ours", lambda: our_side(args))]
    if index % 2 == 0:
        sides.reverse()
    runs = {name: run() for name, run in sides}
    ours, reference = runs["ours"], runs["reference"]
    reach = time_to_accuracy(ours, reference["val"])
    record = {
        "pair": index, "first": sides[0][0],
        "reference_wall_s": reference["wall_s"], "ours_wall_s": ours["wall_s"],
        "wall_ratio": round(ours["wall_s"] / reference["wall_s"], 3),
        "reference_peak_rss_mb": reference["peak_rss_mb"], "ours_peak_rss_mb": ours["peak_rss_mb"],
        "reference_test": reference["test"], "ours_test": ours["test"],
        "reference_val": reference["val"], "ours_val": ours["val"],
        "time_to_accuracy_s": reach,
        "time_to_accuracy_ratio": None if reach is None else round(reach / reference["wall_s"], 3),
        "ours_steps": ours["steps"], "load": [reference["load"], ours["load"]],
    }
    print(f"pair {index} ({record['first']} first; load {reference['load']:.1f} / "
          f"{ours['load']:.1f}): reference {reference['wall_s']:.1f} s, "
          f"{reference['peak_rss_mb']:.0f} MiB, test {_mape(reference['test'])}; ours "
          f"{ours['wall_s']:.1f} s, {ours['peak_rss_mb']:.0f} MiB, test {_mape(ours['test'])}; "
          f"wall ratio {record['wall_ratio']:.3f}; reference's validation accuracy reached at "
          + ("never" if reach is None else f"{reach:.1f} s ({record['time_to_accuracy_ratio']:.3f}"
             "× the reference's wall)"), flush=True)
    return record


def _mape(scores: dict[str, float]) -> str:
    return "/".join(f"{name} {value:.2%}" for name, value in scores.items())


def summary(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    reach = [p["time_to_accuracy_ratio"] for p in pairs]

    def mean(key: str) -> dict[str, float]:
        names = pairs[0][key]
        return {n: round(statistics.fmean(p[key][n] for p in pairs), 5) for n in names}

    return {
        "pairs": pairs,
        "median_wall_ratio": statistics.median(p["wall_ratio"] for p in pairs),
        "median_time_to_accuracy_ratio": None if None in reach else statistics.median(reach),
        "reference_test_mean": mean("reference_test"),
        "ours_test_mean": mean("ours_test"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="pitot/fast")
    parser.add_argument("--reference-work", required=True, metavar="DIR",
                        help="what `bash benchmarks/reference.sh --work DIR` made (its clone "
                             "DIR/pitot and environment DIR/venv)")
    parser.add_argument("--level", type=float, default=0.5)
    parser.add_argument("--replicate", type=int, default=0)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--reference-preset", default="pitot",
                        help="the reference's preset (default: pitot)")
    parser.add_argument("--reference-steps", type=int, default=None, metavar="N",
                        help="the reference's steps (default: its preset's; a quick check "
                             "with --set training.steps=N, not a comparison)")
    add_data_options(parser, splits=True, steps=False,
                     data_help="our dataset folder (default: the published data built into "
                               "pitot-tf, the same files as the reference's data/)")
    parser.add_argument("--jsonl", type=Path, default=None,
                        help="also append each pair's record to this file")
    args = parser.parse_args()
    if args.splits is None:
        parser.error("--splits DIR is required: the split files both sides read")
    level = level_folder(Path(args.splits), args.level)
    print(f"{args.preset} against the reference's {args.reference_preset}, split "
          f"{Path(args.splits).resolve()}/{level}/{args.replicate}.npz, {args.pairs} pair(s); "
          f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    pairs = []
    for index in range(args.pairs):
        pairs.append(one_pair(args, level, index))
        if args.jsonl:
            with open(args.jsonl, "a") as handle:
                handle.write(json.dumps(pairs[-1]) + "\n")
    result = summary(pairs)
    print(f"median wall ratio {result['median_wall_ratio']:.3f}, median time to accuracy "
          f"ratio {result['median_time_to_accuracy_ratio']}; mean test MAPE: reference "
          f"{_mape(result['reference_test_mean'])}, ours {_mape(result['ours_test_mean'])}; "
          f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    emit(result)


if __name__ == "__main__":
    main()
