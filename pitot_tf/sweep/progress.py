"""A tqdm bar over a sweep's cells, with tqdm's estimate of the time left.

The bar counts cells done (a FINISHED run in MLflow when the sweep started, or a COMPLETE
trial since); it is refreshed from the study after each cell (one worker in-process) or
every few seconds (worker processes), so it also counts cells other machines finish.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType

import optuna
from tqdm import tqdm

from pitot_tf.sweep.queue import completed_cells, failed_cells


class CellProgress:
    """``with CellProgress(total, done) as bar: bar.refresh(study)``."""

    def __init__(self, total: int, done: set[str], enabled: bool = True,
                 label: str = "sweep") -> None:
        self.done_at_start, self.started = set(done), datetime.now()
        self.bar = tqdm(total=total, initial=len(done), unit="cell", desc=label,
                        disable=not enabled, dynamic_ncols=True)

    def refresh(self, study: optuna.Study) -> None:
        done = len(self.done_at_start | completed_cells(study, self.started))
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)
        failed = len(failed_cells(study))
        if failed:
            self.bar.set_postfix(failed=failed)

    def on_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Optuna callback form of :meth:`refresh`."""
        self.refresh(study)

    def __enter__(self) -> CellProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.bar.close()
