"""Bad input through the command line, as a user meets it.

Every case must end with exit status 1 and exactly one line on stderr, ``error: ...``, that
names the thing at fault and what is wrong with it, with no traceback (``--debug`` shows one);
``pitot-tf train`` must also leave its MLflow run FAILED with that message in the ``error``
tag. The cases run through :func:`pitot_tf.cli.main` in this process (the console script's
own function: argument parsing, error printing, exit status), which keeps ~40 cases fast; two
tests run the real ``pitot-tf`` script. Library-level checks of the same validators live in
test_data_dataset.py, test_data_splits.py, test_config.py and test_conformal_calibration.py.
The table in docs/reliability.md lists every case with the message it prints.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
import yaml
from mlflow_helpers import experiment, private_tracking
from reliability_cli import assert_one_line_error, pitot, script

from pitot_tf.data.dataset import load_dataset
from pitot_tf.data.splits import Split, make_split, save_split
from pitot_tf.data.synth import synthesize_dataset

EXPERIMENT = "bad-input"
FAST = ["--steps", "60", "--set", "training.val_every=20", "--set", "training.batch=64",
        "--set", "training.progress=false", "--set", "model.layers=[16]",
        "--set", "model.mf_dim=8", "--set", "training.jit_compile=false"]


@dataclass(frozen=True)
class World:
    """A private tracking store, a synthetic dataset and a scratch folder for broken copies."""

    root: Path
    data: Path
    scratch: Path

    def broken(self, name: str, file: str, **changes: Any) -> Path:
        """A copy of the dataset whose ``file`` has ``changes`` applied: ``key=None`` drops a
        key, ``key=function`` maps its array, ``key=array`` replaces it."""
        target = self.scratch / name
        shutil.copytree(self.data, target)
        arrays = dict(np.load(self.data / file))
        for key, change in changes.items():
            if change is None:
                del arrays[key]
            else:
                arrays[key] = change(arrays[key]) if callable(change) else change
        np.savez(target / file, **arrays)
        return target

    def damaged(self, name: str, file: str, keep: float) -> Path:
        """A copy of the dataset whose ``file`` keeps only a fraction ``keep`` of its bytes
        (``keep=0`` writes garbage instead)."""
        target = self.scratch / name
        shutil.copytree(self.data, target)
        raw = (target / file).read_bytes()
        (target / file).write_bytes(raw[: int(len(raw) * keep)] if keep else b"garbage " * 40)
        return target

    def split_dir(self, name: str, change: Callable[[dict[str, dict[str, np.ndarray]]], None]
                  ) -> Path:
        """A split folder (level 0.5, replicate 0) whose parts ``change`` edited in place."""
        split = make_split(load_dataset(self.data), 0.5, 0)
        parts = {objective: dict(rows) for objective, rows in split.parts.items()}
        change(parts)
        save_split(Split(parts), self.scratch / name / "0.5" / "0.npz")
        return self.scratch / name


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("bad-input")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment(EXPERIMENT, root)
        data = synthesize_dataset(root / "data", platforms=16, workloads=24, seed=1)
        yield World(root, data, root / "scratch")


@pytest.fixture(scope="module")
def trained(world: World) -> str:
    """A finished training run with its models logged; its run id."""
    outcome = pitot("train", "--data-dir", str(world.data), "--experiment", EXPERIMENT, *FAST)
    assert outcome.code == 0, outcome
    found = re.search(r"^MLflow: run ([0-9a-f]{32}) ", outcome.out, re.MULTILINE)
    assert found, outcome.out
    return found.group(1)


def _set(index: Any, value: float) -> Callable[[np.ndarray], np.ndarray]:
    def change(array: np.ndarray) -> np.ndarray:
        changed = array.astype(np.float64) if isinstance(value, float) else array.copy()
        changed[index] = value
        return changed

    return change


def _overlap(parts: dict[str, dict[str, np.ndarray]]) -> None:
    parts["mf"]["test"] = np.append(parts["mf"]["test"], parts["mf"]["train"][0])


def _out_of_range(parts: dict[str, dict[str, np.ndarray]]) -> None:
    parts["if2"]["val"] = np.append(parts["if2"]["val"], 10**6)


def _unknown_objective(parts: dict[str, dict[str, np.ndarray]]) -> None:
    parts["if3"] = dict(parts["if2"])


def _damaged_split(world: World) -> Path:
    folder = world.split_dir("split-truncated", lambda parts: None)
    path = folder / "0.5" / "0.npz"
    path.write_bytes(path.read_bytes()[:200])
    return folder


# (id, extra `pitot-tf train` arguments given the world, fragments of the message)
TrainCase = tuple[str, Callable[[World], list[str]], tuple[str, ...]]
DATA = "--data-dir"
TRAIN_CASES: list[TrainCase] = [
    ("runtime-nan", lambda w: [DATA, str(w.broken("nan", "data.npz", t=_set(3, np.nan)))],
     ("data.npz: key 't', row 3", "runtime must be finite and positive, got nan")),
    ("runtime-infinite", lambda w: [DATA, str(w.broken("inf", "if2.npz", t=_set(4, np.inf)))],
     ("if2.npz: key 't', row 4", "finite and positive, got inf")),
    ("runtime-zero", lambda w: [DATA, str(w.broken("zero", "data.npz", t=_set(5, 0.0)))],
     ("key 't', row 5", "finite and positive, got 0.0")),
    ("runtime-negative", lambda w: [DATA, str(w.broken("neg", "data.npz", t=_set(6, -1.0)))],
     ("key 't', row 6", "finite and positive, got -1.0")),
    ("index-out-of-range",
     lambda w: [DATA, str(w.broken("oor", "data.npz", i_platform=_set(2, 99)))],
     ("key 'i_platform', row 2", "index 99 is not a valid platform (0 <= i < 16)")),
    ("index-not-integer",
     lambda w: [DATA, str(w.broken("float", "data.npz", i_workload=lambda a: a + 0.5))],
     ("key 'i_workload', row 0", "index must be an integer")),
    ("interferer-not-a-workload",
     lambda w: [DATA, str(w.broken("interferer", "if2.npz", i_interference0=_set(1, 24)))],
     ("if2.npz: key 'i_interference0', row 1", "index 24 is not a valid workload")),
    ("feature-rows-not-names",
     lambda w: [DATA, str(w.broken("rows", "data.npz", n_platform=lambda a: a[:-1]))],
     ("key 'n_platform'", "15 names but d_platform has 16 rows")),
    ("feature-nan",
     lambda w: [DATA, str(w.broken("feature", "data.npz", d_workload=_set((2, 0), np.nan)))],
     ("key 'd_workload', row 2", "feature is NaN or infinite")),
    ("missing-key", lambda w: [DATA, str(w.broken("key", "if2.npz", t=None))],
     ("if2.npz: key 't': missing key",)),
    ("missing-data-dir", lambda w: [DATA, str(w.scratch / "nowhere")],
     ("nowhere: data directory not found",)),
    ("missing-data-file", lambda w: [DATA, str(_without(w, "data.npz"))],
     ("data.npz: file not found",)),
    ("truncated-npz", lambda w: [DATA, str(w.damaged("truncated", "if2.npz", 0.5))],
     ("if2.npz: not a readable npz file (truncated or corrupt?)",)),
    ("corrupt-npz", lambda w: [DATA, str(w.damaged("corrupt", "data.npz", 0))],
     ("data.npz: not a readable npz file", "does not start with a zip header")),
    ("split-overlapping-rows",
     lambda w: [DATA, str(w.data), "--splits-dir", str(w.split_dir("overlap", _overlap))],
     ("0.5/0.npz: key 'mf_test'", "is in both train and test")),
    ("split-row-out-of-range",
     lambda w: [DATA, str(w.data), "--splits-dir", str(w.split_dir("range", _out_of_range))],
     ("key 'if2_val'", "row index 1000000 out of range")),
    ("split-unknown-objective",
     lambda w: [DATA, str(w.data), "--splits-dir",
                str(w.split_dir("objective", _unknown_objective))],
     ("names objective 'if3' which the data lacks",)),
    ("split-truncated",
     lambda w: [DATA, str(w.data), "--splits-dir", str(_damaged_split(w))],
     ("0.5/0.npz: not a readable split file (truncated or corrupt?)",)),
    ("split-missing", lambda w: [DATA, str(w.data), "--splits-dir", str(w.scratch / "none")],
     ("none/0.5/0.npz: split file not found",)),
    ("unknown-preset", lambda w: [DATA, str(w.data), "--preset", "no-such"],
     ("unknown preset 'no-such'",)),
    ("unknown-config-key", lambda w: [DATA, str(w.data), "--set", "model.no_such=1"],
     ("unknown config key 'model.no_such'; valid keys:", "model.mf_dim")),
    ("key-the-kind-never-reads",  # FAST sets model.layers, which Monolith never reads
     lambda w: [DATA, str(w.data), "--preset", "baseline/monolith"],
     ("model.layers=[16] would be ignored: model.kind=monolith does not read it",)),
    ("wrong-value-type", lambda w: [DATA, str(w.data), "--set", "model.mf_dim=abc"],
     ("model.mf_dim must be an integer, got 'abc'",)),
    ("negative-learning-rate",
     lambda w: [DATA, str(w.data), "--set", "training.learning_rate=-0.001"],
     ("training.learning_rate must be > 0, got -0.001",)),
    ("mf-dim-zero", lambda w: [DATA, str(w.data), "--set", "model.mf_dim=0"],
     ("model.mf_dim must be >= 1, got 0",)),
    ("slope-above-one", lambda w: [DATA, str(w.data), "--set", "model.if_slope=1.5"],
     ("model.if_slope must be in [0, 1], got 1.5",)),
    ("slope-negative", lambda w: [DATA, str(w.data), "--set", "model.if_slope=-0.1"],
     ("model.if_slope must be in [0, 1], got -0.1",)),
    ("level-one", lambda w: [DATA, str(w.data), "--level", "1"],
     ("level must be in (0, 1), got 1.0",)),
    ("level-zero", lambda w: [DATA, str(w.data), "--level", "0"],
     ("level must be in (0, 1), got 0.0",)),
]


def _without(world: World, file: str) -> Path:
    folder = world.broken(f"without-{file}", file)
    (folder / file).unlink()
    return folder


def experiment_runs() -> list[mlflow.entities.Run]:
    return mlflow.search_runs(experiment_names=[EXPERIMENT], output_format="list",
                              order_by=["attributes.start_time DESC"])


@pytest.mark.parametrize(("arguments", "fragments"), [c[1:] for c in TRAIN_CASES],
                         ids=[c[0] for c in TRAIN_CASES])
def test_train_rejects(world: World, arguments: Callable[[World], list[str]],
                       fragments: tuple[str, ...]) -> None:
    before = {r.info.run_id for r in experiment_runs()}
    outcome = pitot("train", "--experiment", EXPERIMENT, *FAST, *arguments(world))
    assert_one_line_error(outcome, *fragments)
    new = [r for r in experiment_runs() if r.info.run_id not in before]
    assert len(new) == 1, "exactly one run is started"
    assert new[0].info.status == "FAILED"
    assert new[0].data.tags["error"] == outcome.message


# (id, `pitot-tf predict` arguments after the model URI, fragments of the message)
PredictCase = tuple[str, list[str], tuple[str, ...]]
W0, P0 = "polybench/w00", "synth-p00"
PREDICT_CASES: list[PredictCase] = [
    ("alpha-above-one", ["--workload", W0, "--platform", P0, "--alpha", "1.5"],
     ("miscoverage alpha must be in (0, 1), got 1.5",)),
    ("alpha-zero", ["--workload", W0, "--platform", P0, "--alpha", "0"],
     ("miscoverage alpha must be in (0, 1), got 0.0",)),
    ("alpha-too-small-for-calibration", ["--workload", W0, "--platform", P0, "--alpha", "0.001"],
     ("alpha=0.001 is too small for a calibration set of n=", "the smallest alpha it supports")),
    ("unknown-workload", ["--workload", "no/such", "--platform", P0],
     ("unknown workload 'no/such'",)),
    ("unknown-platform", ["--workload", W0, "--platform", "no:such"],
     ("unknown platform 'no:such'",)),
    ("unknown-co-runner", ["--workload", W0, "--platform", P0, "--with", "polybench/nope"],
     ("unknown workload 'polybench/nope'",)),
]


@pytest.mark.parametrize(("arguments", "fragments"), [c[1:] for c in PREDICT_CASES],
                         ids=[c[0] for c in PREDICT_CASES])
def test_predict_rejects(trained: str, arguments: list[str], fragments: tuple[str, ...]) -> None:
    outcome = pitot("predict", "--model-uri", f"runs:/{trained}/pyfunc-model", *arguments)
    assert_one_line_error(outcome, *fragments)


def test_predict_rejects_features_of_another_size(world: World, trained: str) -> None:
    features = world.root / "features.txt"
    features.write_text("1.0 2.0 3.0\n")
    outcome = pitot("predict", "--model-uri", f"runs:/{trained}/pyfunc-model", "--workload",
                    "new/program", "--platform", P0, "--workload-features", str(features))
    assert_one_line_error(outcome, "a new workload needs", "features, got 3")


@pytest.fixture(scope="module")
def other_data(world: World) -> Path:
    """Another dataset: other platforms and workloads, one workload feature fewer."""
    folder = synthesize_dataset(world.root / "other", platforms=20, workloads=30, seed=5)
    arrays = dict(np.load(folder / "data.npz"))
    arrays["d_workload"], arrays["f_workload"] = arrays["d_workload"][:, 1:], arrays[
        "f_workload"][1:]
    np.savez(folder / "data.npz", **arrays)
    return folder


def test_evaluate_rejects_a_model_file_from_another_dataset(
    world: World, trained: str, other_data: Path
) -> None:
    from pitot_tf.training.warm_start import load_keras_model

    model_file = world.root / "model.keras"
    load_keras_model(f"runs:/{trained}/model").save(model_file)
    outcome = pitot("evaluate", "--model-uri", str(model_file), "--data-dir", str(other_data),
                    "--out", str(world.root / "evaluation"))
    ours, theirs = (load_dataset(d).summary() for d in (world.data, other_data))
    assert theirs["workload_features"] == ours["workload_features"] - 1  # type: ignore[operator]
    assert_one_line_error(
        outcome, f"model 'pitot' was built for 16 platforms ({ours['platform_features']} "
        f"features) x 24 workloads ({ours['workload_features']} features) but the data in "
        f"{other_data} has 20 platforms ({theirs['platform_features']} features) x 30 workloads "
        f"({theirs['workload_features']} features): it comes from another dataset")


def test_evaluating_a_run_on_another_dataset_fails_its_run(trained: str, other_data: Path
                                                           ) -> None:
    outcome = pitot("evaluate", "--run-id", trained, "--data-dir", str(other_data))
    assert_one_line_error(outcome, "it comes from another dataset")
    [evaluation] = mlflow.search_runs(
        experiment_names=[EXPERIMENT], output_format="list",
        filter_string=f"tags.`pitot.evaluated_run` = '{trained}'")
    assert evaluation.info.status == "FAILED"
    assert evaluation.data.tags["error"] == outcome.message


# (id, the study's `space`, fragments of the message)
SpaceCase = tuple[str, dict[str, Any], tuple[str, ...]]
SPACE_CASES: list[SpaceCase] = [
    ("low-above-high", {"training.learning_rate": {"type": "float", "low": 0.1, "high": 0.01}},
     ("space.training.learning_rate",)),
    ("unknown-key", {"model.no_such": {"type": "int", "low": 1, "high": 4}},
     ("space.model.no_such",)),
    ("key-the-kind-never-reads", {"model.attention_dim": {"type": "int", "low": 4, "high": 8}},
     ("space.model.attention_dim: the preset's model (model.kind=pitot, model.baseline=True) "
      "never reads it",)),
    ("out-of-range", {"model.mf_dim": {"type": "int", "low": 0, "high": 8}},
     ("space.model.mf_dim",)),
    ("unknown-type", {"model.mf_dim": {"type": "gaussian", "low": 4, "high": 8}},
     ("space.model.mf_dim",)),
    ("empty", {}, ("space must be a non-empty mapping",)),
]


@pytest.mark.parametrize(("space", "fragments"), [c[1:] for c in SPACE_CASES],
                         ids=[c[0] for c in SPACE_CASES])
def test_search_rejects_an_invalid_space(world: World, space: dict[str, Any],
                                         fragments: tuple[str, ...],
                                         request: pytest.FixtureRequest) -> None:
    from search_support import tiny_study

    path = world.scratch / "studies" / f"{request.node.callspec.id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(tiny_study(space=space), sort_keys=False))
    outcome = pitot("search", "--study", str(path), "--n-trials", "1", "--storage",
                    str(world.scratch / "studies" / "bad.journal"), "--data-dir", str(world.data))
    assert_one_line_error(outcome, str(path), *fragments)
    assert not (world.scratch / "studies" / "bad.journal").exists(), "no study was created"


@pytest.mark.end_to_end
def test_the_console_script_prints_one_line_and_exits_1(world: World) -> None:
    corrupt = world.damaged("script-corrupt", "if2.npz", 0.3)
    outcome = script("data", "validate", "--data-dir", str(corrupt), cwd=world.root)
    assert_one_line_error(outcome, "if2.npz: not a readable npz file (truncated or corrupt?)")


@pytest.mark.end_to_end
def test_debug_shows_the_traceback(world: World) -> None:
    done = script("--debug", "train", "--data-dir", str(world.data), "--set", "model.mf_dim=0",
                   "--experiment", EXPERIMENT, cwd=world.root)
    assert done.code != 0
    assert "Traceback (most recent call last)" in done.err
    assert "ConfigError: model.mf_dim must be >= 1, got 0" in done.err
