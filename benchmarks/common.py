"""What the benchmark scripts share: the data options and how a run's data and split are
loaded, timing, peak memory, scores on the test split, and the JSON line each script ends with.

Each script runs as ``python benchmarks/<name>.py``; Python puts this folder first on
``sys.path``, so they import this module as ``common``. Importing it loads neither TensorFlow
nor pitot_tf's trainer (the helpers that need them import them when called), so every
script's ``--help`` stays quick.

The conventions every script keeps:

* ``--data-dir DIR`` (default: ``$PITOT_DATA``, else ``./data``), ``--splits DIR`` for split
  files (ours or the reference implementation's, same layout), ``--steps N`` and
  ``--set KEY=VALUE`` config overrides, spelled ``--set a=1 b=2`` or ``--set a=1 --set b=2``;
* training runs quietly (``training.progress=false``) and is timed in wall and CPU seconds
  (CPU time is the steadier figure when other work shares the cores);
* the last line a script prints is one JSON object (:func:`emit`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pitot_tf.training.experiment import Experiment
    from pitot_tf.training.trainer import TrainResult

REPO = Path(__file__).resolve().parents[1]
#: The miscoverage every benchmark reports bounds at.
ALPHA = 0.05
#: The console script of the environment running the benchmark (for subprocess jobs).
PITOT_TF = Path(sys.executable).with_name("pitot-tf")
#: Quiet training: no progress bar in a benchmark's output.
QUIET = {"training.progress": False}


# ---------------------------------------------------------------------------- options


def add_data_options(
    parser: argparse.ArgumentParser,
    *,
    data_dir: str | None = None,
    data_help: str = "dataset folder (default: $PITOT_DATA, else ./data)",
    splits: bool = False,
    steps: int | None | bool = None,
    overrides: bool = True,
) -> None:
    """Add ``--data-dir`` (default ``data_dir``; None: ``$PITOT_DATA``, else ``./data``, for
    :func:`experiment`; ``data_help`` says what else a script does with None),
    ``--splits`` when ``splits``, ``--steps`` (default ``steps``; ``False`` leaves it out) and
    ``--set`` (into ``args.overrides``) when ``overrides``."""
    parser.add_argument("--data-dir", default=data_dir, help=data_help)
    if splits:
        parser.add_argument("--splits", default=None, metavar="DIR",
                            help="read split files from DIR instead of making the split")
    if steps is not False:
        parser.add_argument("--steps", type=int, default=steps, help="training steps (default: "
                            + ("the preset's)" if steps is None else f"{steps})"))
    if overrides:
        parser.add_argument("--set", dest="overrides", action="extend", nargs="*", default=[],
                            metavar="KEY=VALUE", help="config overrides")


def overrides_of(args: argparse.Namespace, extra: dict[str, Any] | None = None,
                 quiet: bool = True) -> dict[str, Any]:
    """The run's overrides: quiet training (unless not ``quiet``), ``extra``, then the
    ``--set`` ones (parsed and type-checked)."""
    from pitot_tf.config import parse_overrides

    return {**(QUIET if quiet else {}), **(extra or {}),
            **parse_overrides(getattr(args, "overrides", None) or [])}


# ---------------------------------------------------------------------------- data and runs


def experiment(
    preset: str,
    overrides: dict[str, Any] | None = None,
    level: float = 0.5,
    replicate: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
    splits: str | os.PathLike[str] | None = None,
    steps: int | None = None,
) -> Experiment:
    """The resolved config (quiet training unless ``overrides`` says otherwise), the dataset
    and the split of (``level``, ``replicate``): read from ``splits`` when given, else made
    as a run makes it."""
    from pitot_tf.training.experiment import prepare

    return prepare(preset, {**QUIET, **(overrides or {})}, level, replicate, data_dir, splits,
                   steps)


@dataclass
class Timing:
    """Wall and CPU seconds of a block (filled in when it ends)."""

    wall_s: float = 0.0
    cpu_s: float = 0.0


@contextmanager
def stopwatch() -> Iterator[Timing]:
    """``with stopwatch() as timing: ...``: the block's wall and CPU (this process) seconds."""
    timing = Timing()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield timing
    finally:
        timing.wall_s = time.perf_counter() - wall
        timing.cpu_s = time.process_time() - cpu


def train_run(run: Experiment) -> tuple[TrainResult, Timing]:
    """Train ``run``'s config on its data and split; the result and how long it took
    (build, baseline fit, compilation and steps)."""
    from pitot_tf.training import train

    with stopwatch() as timing:
        result = train(run.config, run.dataset, run.split)
    return result, timing


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> tuple[float, float, float]:
    """The machine's 1, 5 and 15 minute load averages (is the machine shared right now?)."""
    return os.getloadavg()


# ---------------------------------------------------------------------------- scores


def mape_scores(model: Any, run: Experiment) -> dict[str, float]:
    """Test MAPE per objective: the mean of ``|t/t̂ - 1|`` over the test rows, as a fraction."""
    import numpy as np

    from pitot_tf.training.predict import predict_objective

    scores = {}
    for objective in run.split.objectives():
        rows = run.split.rows(objective, "test")
        log_true, log_pred = predict_objective(model, run.dataset, objective, rows)
        scores[objective] = float(np.mean(np.abs(np.exp(log_true - log_pred[:, 0]) - 1)))
    return scores


def bound_metrics(model: Any, run: Experiment, alphas: Sequence[float] | None = None
                  ) -> dict[str, float]:
    """Bounds calibrated on the validation rows, as a run calibrates them, and measured on
    the test rows: the run's flat metrics (``test_<objective>_mape``,
    ``test_<objective>_width_<α>``, ...) at ``alphas`` (default: a run's summary levels)."""
    from pitot_tf.conformal.evaluate import evaluate

    if alphas is None:
        return evaluate(model, run.dataset, run.split).metrics()
    return evaluate(model, run.dataset, run.split, alphas).metrics(alphas)


# ---------------------------------------------------------------------------- output


def emit(record: dict[str, Any], jsonl: Path | None = None) -> None:
    """Print ``record`` as one JSON line (a script's last line is its summary), and append it
    to ``jsonl`` when given (a partial file still holds every finished record)."""
    line = json.dumps(record)
    print(line, flush=True)
    if jsonl is not None:
        with open(jsonl, "a") as handle:
            handle.write(line + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records :func:`emit` appended to ``path``."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def work_folder(path: Path | None, prefix: str) -> Path:
    """``path`` (made if missing), else a new temporary folder named ``prefix...``; absolute."""
    folder = path or Path(tempfile.mkdtemp(prefix=prefix))
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def checkout_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess that must run this checkout's pitot_tf with this
    interpreter's packages: this checkout first on ``PYTHONPATH``, this environment's
    ``bin`` first on ``PATH``, TensorFlow's C++ log quiet; then ``extra``."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": path, **extra}


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now (for a server a benchmark starts)."""
    import socket

    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def train_and_log(workdir: Path, data_dir: Path | None, steps: int, name: str) -> Path:
    """Train ``pitot`` for ``steps`` steps in a private SQLite tracking store under
    ``workdir`` (experiment ``name``) and download its pyfunc-model; its local folder."""
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
    from pitot_tf.tracking.training import RunOptions, run_training

    os.chdir(workdir)  # ./mlruns of the private store lands here
    run = run_training("pitot", {"training.steps": steps, "training.progress": False},
                       RunOptions(data_dir=data_dir, experiment=name))
    return Path(mlflow.artifacts.download_artifacts(
        f"runs:/{run.run_id}/pyfunc-model", dst_path=str(workdir / "served")))


def stop_process_group(process: Any) -> None:
    """End a server started with ``start_new_session=True``: its whole process group (the
    command and every worker), SIGTERM first, SIGKILL after 30 s."""
    import signal
    import subprocess

    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=30)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


#: Steps run before timing (they trace and compile the step), and timed rounds.
WARM_UP_STEPS, ROUNDS = 50, 3


def cpu_ms_per_step(trainer: Any, steps: int) -> list[float]:
    """CPU milliseconds per optimizer step of ``trainer``, over :data:`ROUNDS` rounds of
    ``steps`` steps after :data:`WARM_UP_STEPS`."""
    import tensorflow as tf  # here, after pitot_tf has set TensorFlow's environment

    trainer._steps(tf.constant(0), tf.constant(WARM_UP_STEPS)).numpy()
    rounds = []
    for i in range(ROUNDS):
        with stopwatch() as timing:
            trainer._steps(tf.constant(WARM_UP_STEPS + i * steps), tf.constant(steps)).numpy()
        rounds.append(round(timing.cpu_s / steps * 1e3, 2))
    return rounds
