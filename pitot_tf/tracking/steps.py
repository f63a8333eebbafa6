"""The ``data`` and ``split`` steps of the pipeline (and ``data preprocess``) as tracked runs.

``data`` takes the published dataset shipped in the package (``published``, the default), a
data directory, a fresh download of it (``fetch``) or a synthetic one, validates it and logs
where it is and its fingerprint (the ``train`` step and the pipeline's reuse check compare
against it). ``split`` writes split files and logs what it wrote.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow

from pitot_tf.data.dataset import Dataset, load_dataset
from pitot_tf.data.packaged import PUBLISHED, published_data_dir
from pitot_tf.data.preprocess import ENCODERS_FILE, PreprocessSummary
from pitot_tf.tracking import names
from pitot_tf.tracking.fingerprint import data_fingerprint, file_sha256, shape_text
from pitot_tf.tracking.run_log import log_metrics, log_params
from pitot_tf.tracking.runs import tracked_run

SOURCE_PUBLISHED = PUBLISHED
SOURCE_SYNTHETIC = "synthetic"
SOURCE_FETCH = "fetch"
SUMMARY_FILE = "data_summary.json"
MANIFEST_FILE = "splits.json"
PREPROCESS_SUMMARY_FILE = "preprocess_summary.json"


@dataclass(frozen=True)
class SynthOptions:
    """Size and seed of a synthetic dataset (``source="synthetic"``)."""

    platforms: int = 48
    workloads: int = 80
    interference: tuple[int, ...] = (2,)
    seed: int = 0


def obtain_dataset(
    source: str, out: str | os.PathLike[str] | None, synth: SynthOptions = SynthOptions()
) -> Path:
    """The data directory for ``source``: ``published`` (the dataset shipped in the package;
    ``out`` is not used), a path (used as is), ``fetch`` (download into ``out``, default
    ``data``) or ``synthetic`` (write into ``out``, default ``data/synthetic``)."""
    if source == SOURCE_PUBLISHED:
        return published_data_dir()
    if source == SOURCE_SYNTHETIC:
        from pitot_tf.data.synth import synthesize_dataset

        target = Path(out or "data/synthetic")
        return synthesize_dataset(target, synth.platforms, synth.workloads, synth.interference,
                                  synth.seed)
    if source == SOURCE_FETCH:
        from pitot_tf.data.fetch import fetch_dataset

        target = Path(out or "data")
        fetch_dataset(target)
        return target
    return Path(source)


def run_data_step(
    source: str, out: str | os.PathLike[str] | None = None,
    synth: SynthOptions = SynthOptions(), experiment: str | None = None,
) -> tuple[str, Dataset]:
    """Obtain and validate a dataset in a ``data`` run; log its directory, fingerprint,
    shape and summary. Returns the run id and the dataset."""
    with tracked_run(names.KIND_DATA, f"data {source}", experiment) as run:
        dataset = load_dataset(obtain_dataset(source, out, synth))
        fingerprint = data_fingerprint(dataset)
        log_params({names.PARAM_DATA_DIR: fingerprint["directory"],
                    names.PARAM_DATA_FINGERPRINT: fingerprint["fingerprint"],
                    names.PARAM_DATA_SHAPE: shape_text(fingerprint)})
        log_metrics({f"rows_{name}": len(obs) for name, obs in dataset.objectives.items()})
        mlflow.log_dict(dataset.summary(), SUMMARY_FILE)
        mlflow.log_dict(fingerprint, names.FINGERPRINT_FILE)
    return run.info.run_id, dataset


def run_split_step(
    data_dir: str | os.PathLike[str] | None, out: str | os.PathLike[str],
    write: Callable[[Dataset], list[Path]], experiment: str | None = None,
) -> tuple[str, list[Path]]:
    """Load the data and ``write`` split files under ``out`` in a ``split`` run; log the data
    fingerprint and a manifest of the files (path and SHA-256). Returns the run id and the
    files."""
    with tracked_run(names.KIND_SPLIT, f"split {Path(out).name}", experiment) as run:
        dataset = load_dataset(data_dir)
        fingerprint = data_fingerprint(dataset)
        written = write(dataset)
        log_params({names.PARAM_DATA_DIR: fingerprint["directory"],
                    names.PARAM_DATA_FINGERPRINT: fingerprint["fingerprint"],
                    "split.dir": str(Path(out).resolve())})
        manifest = {str(p.relative_to(out)): file_sha256(p) for p in written}
        mlflow.log_text(json.dumps(manifest, indent=2), MANIFEST_FILE)
    return run.info.run_id, written


def log_preprocess_step(summary: PreprocessSummary, experiment: str | None = None) -> str:
    """Record a finished ``data preprocess`` in a ``data`` run: the summary counts as metrics,
    the summary and the encoders as artifacts, the new dataset's directory and fingerprint as
    parameters (as the ``data`` step logs them). Returns the run id."""
    with tracked_run(names.KIND_DATA, f"preprocess {Path(summary.out).name}", experiment) as run:
        fingerprint = data_fingerprint(load_dataset(summary.out))
        log_params({names.PARAM_DATA_DIR: fingerprint["directory"],
                    names.PARAM_DATA_FINGERPRINT: fingerprint["fingerprint"],
                    names.PARAM_DATA_SHAPE: shape_text(fingerprint)})
        metrics = {"runs_read": summary.runs_read, "runs_kept": summary.runs_kept,
                   "platforms": summary.platforms, "workloads": summary.workloads}
        metrics.update({f"dropped_{status}": n for status, n in summary.dropped.items()})
        metrics.update({f"rows_{name}": info["rows"] for name, info in summary.objectives.items()})
        log_metrics({k: float(v) for k, v in metrics.items()})
        mlflow.log_dict(summary.to_dict(), PREPROCESS_SUMMARY_FILE)
        mlflow.log_artifact(str(Path(summary.out) / ENCODERS_FILE))
    return run.info.run_id
