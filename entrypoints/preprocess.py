"""MLflow entry point ``preprocess``: ``pitot-tf data preprocess``, given the MLproject's
parameters as its options (raw measurements to a dataset; see docs/mlflow.md)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this project's pitot_tf
from pitot_tf.cli import run_command  # noqa: E402

sys.exit(run_command("data preprocess", sys.argv[1:]))
