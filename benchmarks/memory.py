"""Where a training run's memory goes: resident memory after each stage of one run.

    python benchmarks/memory.py [--preset pitot] [--steps N] [--data-dir DIR] [--splits DIR]
                                [--set KEY=VALUE ...] [--mlflow]

Runs the stages of a run one after another in this process (level 0.5, replicate 0) and
prints, after each, the resident memory now and the peak so far (MiB), what the stage
added to each, and the CPU seconds it took (a run's fixed costs, beside its steps; the first
stage from the process's start): importing TensorFlow, importing Keras, loading the data and
split, building the trainer (model, baseline fit, optimizer, the train rows as constants),
compiling the training step (the first step), the remaining steps with their validations,
scoring the test rows, and with ``--mlflow`` importing MLflow (a run logs to it; a benchmark
does not).
Each stage's increase is split into ``anon`` (memory allocated: arrays, buffers, compiled
code) and ``file`` (pages of the shared libraries touched, such as XLA's compiler; shared with
every other process using them). The last line is one JSON object ``{"stages": [{"stage",
"rss_mb", "peak_rss_mb", "anon_mb", "file_mb", "cpu_s"}, ...]}``.
Peak memory only grows, so a stage's peak increase is what it costs above everything before.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import psutil
from common import add_data_options, emit, experiment, mape_scores, overrides_of, peak_rss_mb

import pitot_tf  # noqa: F401 - sets TensorFlow's environment before it is imported below

STAGES: list[dict[str, Any]] = []
_process = psutil.Process()
_cpu = [0.0]  # the process's CPU clock when the last stage ended


def resident_parts() -> dict[str, float]:
    """This process's resident memory in MiB by kind (Linux ``/proc/self/status``): ``anon``
    (heap, buffers: memory the process allocated) and ``file`` (pages of the shared
    libraries and files it mapped, e.g. TensorFlow's and XLA's machine code)."""
    parts = {"anon": 0.0, "file": 0.0}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):
                parts[key[3:].lower()] = int(value.split()[0]) / 1024
    return parts


def stage(name: str) -> None:
    """Record and print the memory after stage ``name``."""
    rss, peak = _process.memory_info().rss / 2**20, peak_rss_mb()
    parts = resident_parts()
    before = STAGES[-1] if STAGES else {"rss_mb": 0.0, "peak_rss_mb": 0.0, "anon_mb": 0.0,
                                        "file_mb": 0.0}
    STAGES.append({"stage": name, "rss_mb": round(rss, 1), "peak_rss_mb": round(peak, 1),
                   "anon_mb": round(parts["anon"], 1), "file_mb": round(parts["file"], 1)})
    anon, file = parts["anon"] - before["anon_mb"], parts["file"] - before["file_mb"]
    cpu = time.process_time() - _cpu[0]
    _cpu[0] += cpu
    STAGES[-1]["cpu_s"] = round(cpu, 2)
    print(f"{name:<34} RSS {rss:6.0f} MiB ({rss - before['rss_mb']:+5.0f}; anon {anon:+5.0f}, "
          f"file {file:+5.0f}), peak {peak:6.0f} MiB ({peak - before['peak_rss_mb']:+5.0f}), "
          f"{cpu:5.2f} CPU s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="pitot")
    add_data_options(parser, splits=True, steps=2_000)
    parser.add_argument("--mlflow", action="store_true", help="also import MLflow at the end")
    args = parser.parse_args()
    stage("python and pitot_tf.config")
    import tensorflow as tf

    stage("import tensorflow")
    import keras  # noqa: F401

    stage("import keras")
    run = experiment(args.preset, overrides_of(args), 0.5, 0, args.data_dir, args.splits,
                     args.steps)
    stage("data and split")
    from pitot_tf.training.trainer import Trainer

    trainer = Trainer(run.config, run.dataset, run.split)
    stage("trainer built")
    trainer._steps(tf.constant(0), tf.constant(1)).numpy()
    stage("first step (compile)")
    trainer.validation_losses()
    stage("first validation")
    started = time.perf_counter()
    result = trainer.fit()
    stage(f"fit ({args.steps} steps, {time.perf_counter() - started:.0f} s)")
    mape_scores(result.model, run)
    stage("test scores")
    if args.mlflow:
        import mlflow  # noqa: F401

        stage("import mlflow")
    emit({"preset": args.preset, "steps": args.steps, "stages": STAGES})


if __name__ == "__main__":
    main()
