"""What every entry-point script shares: run its body, turn user errors into exit code 1.

A user error (:class:`~pitot_tf.errors.PitotError`) prints as one line. If it happened before
the script resumed the run that ``mlflow run`` created for it (a bad parameter), that run is
marked FAILED with the ``error`` tag here; errors inside a run are marked by
:func:`~pitot_tf.tracking.runs.tracked_run`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from pitot_tf.errors import PitotError


def run_main(body: Callable[[], object]) -> int:
    """Call ``body``; return 0, or 1 after printing a user error as one line."""
    try:
        body()
    except PitotError as error:
        print(f"error: {error}", file=sys.stderr)
        _fail_unstarted_run(error)
        return 1
    except BaseException as error:
        _fail_unstarted_run(error)
        raise
    return 0


def _fail_unstarted_run(error: BaseException) -> None:
    """Mark the ``mlflow run`` run FAILED if the script never resumed it."""
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if not run_id:
        return
    import mlflow
    from mlflow.entities import RunStatus

    from pitot_tf.tracking.names import TAG_ERROR
    from pitot_tf.tracking.runs import error_text

    client = mlflow.MlflowClient()
    client.set_tag(run_id, TAG_ERROR, error_text(error))
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
