"""MLflow entry point ``preprocess``: raw measurements → a Pitot-format dataset.

A thin wrapper around :func:`pitot_tf.data.preprocess.preprocess` (the same code as
``pitot-tf data preprocess``). Inside ``mlflow run`` (``MLFLOW_RUN_ID`` set) it logs the
inputs as parameters, the summary counts as metrics and the summary and ``encoders.json`` as
artifacts; run directly, it only prints the summary. Empty-string paths mean "not given", so
that MLproject defaults can be ``""``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pitot_tf.data.preprocess import ENCODERS_FILE, PreprocessSummary, preprocess
from pitot_tf.errors import PitotError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="measurements CSV")
    parser.add_argument("--workloads", default="", help="workload features CSV")
    parser.add_argument("--platforms", default="", help="platform features CSV")
    parser.add_argument("--out", required=True, help="folder to write the dataset to")
    parser.add_argument("--append-to", default="", help="existing dataset to extend")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset in --out")
    return parser.parse_args(argv)


def log_to_mlflow(args: argparse.Namespace, summary: PreprocessSummary) -> None:
    """Record the inputs, counts, summary and encoders in the active MLflow run."""
    import mlflow

    with mlflow.start_run():
        mlflow.log_params({k: v for k, v in vars(args).items() if v not in ("", None)})
        metrics = {"runs_read": summary.runs_read, "runs_kept": summary.runs_kept,
                   "platforms": summary.platforms, "workloads": summary.workloads}
        metrics.update({f"dropped_{status}": n for status, n in summary.dropped.items()})
        metrics.update({f"rows_{name}": info["rows"] for name, info in summary.objectives.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        mlflow.log_dict(summary.to_dict(), "preprocess_summary.json")
        mlflow.log_artifact(str(Path(summary.out) / ENCODERS_FILE))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = preprocess(
            args.runs, args.workloads or None, args.platforms or None, args.out,
            args.append_to or None, args.overwrite,
        )
    except PitotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print("\n".join(summary.lines()))
    if os.environ.get("MLFLOW_RUN_ID"):
        log_to_mlflow(args, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
