"""One pitot-tf training run on a split file, as light as a run can be, with its validation MAPE
traced: the side of ``benchmarks/time_to_accuracy.py`` that is ours.

    python benchmarks/accuracy_trace.py --preset pitot/fast --splits DIR [--level 0.5]
        [--replicate 0] [--data-dir DIR] [--set KEY=VALUE ...]

It imports what training needs and nothing else (no MLflow): the process is timed whole by
its caller. At every
validation (every ``training.val_every`` steps) it records the epoch time and the
validation MAPE per objective of the weights at that step. The last line is one JSON object:
``test`` and ``val`` (MAPE per objective of the kept weights, as fractions), ``trace``
(``[epoch seconds, step, {objective: validation MAPE}]`` per validation), ``steps``,
``best_step``, ``train_s`` and ``peak_rss_mb``.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from common import add_data_options, experiment, overrides_of


def mape(log_true, log_pred) -> float:  # type: ignore[no-untyped-def]
    """Mean ``|exp(log t - log t̂) - 1|`` of the first head."""
    import numpy as np

    return float(np.mean(np.abs(np.exp(log_true - log_pred[:, 0]) - 1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="pitot/fast")
    parser.add_argument("--level", type=float, default=0.5)
    parser.add_argument("--replicate", type=int, default=0)
    add_data_options(parser, splits=True, steps=False)
    args = parser.parse_args()
    run = experiment(args.preset, overrides_of(args), args.level, args.replicate, args.data_dir,
                     args.splits)

    from pitot_tf.training.trainer import Trainer

    trainer = Trainer(run.config, run.dataset, run.split)
    trace: list[tuple[float, int, dict[str, float]]] = []

    def validation_mape() -> dict[str, float]:
        return {name: mape(rows.log_runtime, trainer.predict_rows(rows))
                for name, rows in trainer.validation.items()}

    def on_validation(step: int, _weighted: float, _losses: dict[str, float]) -> None:
        trace.append((time.time(), step, validation_mape()))

    result = trainer.fit(on_validation)
    test = {}
    for name in run.split.objectives():
        rows = trainer._rows(name, "test")
        test[name] = mape(rows.log_runtime, trainer.predict_rows(rows))
    print(json.dumps({
        "test": test, "val": validation_mape(), "trace": trace,
        "steps": run.config.training.steps, "best_step": result.best_step,
        "train_s": round(result.wall_s, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }), flush=True)


if __name__ == "__main__":
    main()
