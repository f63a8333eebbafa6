"""``pitot-tf train``, ``evaluate`` and ``predict`` on synthetic data with a private store."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow_helpers import experiment, private_tracking
from typer.testing import CliRunner

from pitot_tf.cli.app import app, register_commands
from pitot_tf.data.synth import synthesize_dataset
from pitot_tf.errors import ConfigError

FAST = ["--set", "training.val_every=50", "--set", "training.progress=false",
        "--set", "training.batch=64", "--set", "model.layers=[16]", "--set", "model.mf_dim=8",
        "--steps", "100"]
runner = CliRunner()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    register_commands()
    root = tmp_path_factory.mktemp("cli")
    with private_tracking(root, tmp_path_factory.getbasetemp()):
        experiment("cli", root)
        synthesize_dataset(root / "data", platforms=30, workloads=50, density=0.7)
        yield root


@pytest.fixture(scope="module")
def trained(workspace: Path) -> tuple[str, str]:
    """Train with registration; return the run id and the command's output."""
    result = runner.invoke(app, ["train", "--data-dir", str(workspace / "data"), *FAST,
                                 "--experiment", "cli", "--register", "pitot-cli",
                                 "--alias", "champion"])
    assert result.exit_code == 0, result.output
    match = re.search(r"^MLflow: run ([0-9a-f]{32}) ", result.output, re.MULTILINE)
    assert match, result.output
    return match.group(1), result.output


def test_train_prints_the_summary_and_registers_the_model(trained: tuple[str, str]) -> None:
    run_id, output = trained
    assert re.search(r"^\s+mf\s+0\.0500\s+0\.\d{4}", output, re.MULTILINE)
    assert re.search(r"^\s+if2\s+0\.0100", output, re.MULTILINE)
    assert "worst-group test coverage" in output
    assert "load it as models:/pitot-cli@champion" in output
    run = mlflow.MlflowClient().get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params["training.steps"] == "100"
    version = mlflow.MlflowClient().get_model_version_by_alias("pitot-cli", "champion")
    assert version.run_id == run_id


def test_predict_answers_through_the_alias(workspace: Path, trained: tuple[str, str]) -> None:
    from pitot_tf.data.dataset import load_dataset

    dataset = load_dataset(workspace / "data")
    w, p = dataset.workloads.names, dataset.platforms.names
    result = runner.invoke(app, ["predict", "--model-uri", "models:/pitot-cli@champion",
                                 "--workload", w[0], "--platform", p[1], "--with", w[2],
                                 "--alpha", "0.1", "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output.strip().splitlines()[-1])
    model = mlflow.pyfunc.load_model(f"runs:/{trained[0]}/pyfunc-model")
    direct = model.predict(pd.DataFrame({"workload": [w[0]], "platform": [p[1]],
                                         "co_runners": [w[2]], "alpha": [0.1]})).iloc[0]
    assert answer["upper_bound_s"] == pytest.approx(direct["upper_bound_s"])
    assert answer["calibration"] == "if2" and answer["alpha"] == 0.1
    text = runner.invoke(app, ["predict", "--model-uri", "models:/pitot-cli@champion",
                               "--workload", w[0], "--platform", p[1]])
    assert f"{w[0]} on {p[1]}: predicted" in text.output and "(calibration mf)" in text.output
    shown = re.search(r"predicted ([\d.]+) (ns|µs|ms|s), upper bound", text.output)
    assert shown, text.output
    scale = {"ns": 1e-9, "µs": 1e-6, "ms": 1e-3, "s": 1.0}[shown.group(2)]
    bare = model.predict(pd.DataFrame({"workload": [w[0]], "platform": [p[1]]})).iloc[0]
    assert float(shown.group(1)) * scale == pytest.approx(bare["predicted_runtime_s"], rel=5e-3)


def test_predict_a_new_workload_from_its_opcode_counts(
    workspace: Path, trained: tuple[str, str]
) -> None:
    """``--opcode-counts FILE``: the logged model encodes the raw counts (the synthetic
    features are named like opcodes) and answers as for the encoded features."""
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.errors import PredictionError

    dataset = load_dataset(workspace / "data")
    labels, platform = dataset.workloads.feature_names, dataset.platforms.names[1]
    counts = workspace / "counts.json"
    counts.write_text(json.dumps({str(labels[1]): 250, str(labels[4]): 9}))
    ask = ["predict", "--model-uri", "models:/pitot-cli@champion", "--workload", "brand/new",
           "--platform", platform]
    result = runner.invoke(app, [*ask, "--opcode-counts", str(counts), "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output.strip().splitlines()[-1])
    features = np.zeros(len(labels))
    features[[1, 4]] = np.log1p([250, 9])
    model = mlflow.pyfunc.load_model(f"runs:/{trained[0]}/pyfunc-model")
    direct = model.predict(pd.DataFrame({"workload": ["brand/new"], "platform": [platform],
                                         "workload_features": [";".join(map(str, features))]}))
    assert answer["predicted_runtime_s"] == pytest.approx(direct["predicted_runtime_s"][0],
                                                          rel=1e-6)
    assert "(cold start)" in answer["note"]
    counts.write_text(json.dumps({str(labels[1]): -250}))
    result = runner.invoke(app, [*ask, "--opcode-counts", str(counts)])
    assert isinstance(result.exception, PredictionError)
    assert str(result.exception) == (f"row 0: opcode_counts: count of '{labels[1]}' must be a "
                                     f"whole number >= 0, got -250")
    result = runner.invoke(app, [*ask, "--opcode-counts", str(counts),
                                 "--workload-features", str(counts)])
    assert str(result.exception) == "give --workload-features or --opcode-counts, not both"


def test_predict_a_new_platform_from_its_features(
    workspace: Path, trained: tuple[str, str]
) -> None:
    """``--platform NEW --platform-features FILE``: the logged model answers for a device it
    has never seen as for the same features sent in the request, and says so; a vector of
    the wrong length is one line naming the row and field."""
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.errors import PredictionError

    dataset = load_dataset(workspace / "data")
    features = dataset.platforms.features[3] + 0.1
    vector = workspace / "platform.txt"
    vector.write_text(" ".join(map(str, features.tolist())))
    ask = ["predict", "--model-uri", "models:/pitot-cli@champion",
           "--workload", str(dataset.workloads.names[2]), "--platform", "new/device"]
    result = runner.invoke(app, [*ask, "--platform-features", str(vector), "--json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output.strip().splitlines()[-1])
    model = mlflow.pyfunc.load_model(f"runs:/{trained[0]}/pyfunc-model")
    direct = model.predict(pd.DataFrame({
        "workload": [dataset.workloads.names[2]], "platform": ["new/device"],
        "platform_features": [";".join(map(str, features.tolist()))]}))
    assert answer["predicted_runtime_s"] == pytest.approx(direct["predicted_runtime_s"][0],
                                                          rel=1e-6)
    assert answer["platform"] == "new/device"
    assert "new platform predicted from its features" in answer["note"]
    vector.write_text("1 2 3")
    result = runner.invoke(app, [*ask, "--platform-features", str(vector)])
    assert isinstance(result.exception, PredictionError)
    assert str(result.exception) == (f"row 0: platform_features: a new platform needs "
                                     f"{len(features)} features, got 3")


def test_evaluate_a_model_file_matches_the_training_run(
    workspace: Path, trained: tuple[str, str]
) -> None:
    run_id = trained[0]
    out = workspace / "evaluation"
    result = runner.invoke(app, ["evaluate", "--model-uri", f"runs:/{run_id}/model", "--data-dir",
                                 str(workspace / "data"), "--level", "0.5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "conformal.csv")
    row = table.query("objective == 'if2' and split == 'test' and alpha == 0.05 and chosen")
    logged = mlflow.MlflowClient().get_run(run_id).data.metrics
    assert float(row["width"].iloc[0]) == pytest.approx(logged["test_if2_width_0.05"], rel=1e-6)
    assert (out / "conformal_groups.csv").is_file()


def test_evaluate_a_run_logs_a_child_run(trained: tuple[str, str]) -> None:
    result = runner.invoke(app, ["evaluate", "--run-id", trained[0], "--groupings", "uarch"])
    assert result.exit_code == 0, result.output
    child_id = re.search(r"^MLflow: run ([0-9a-f]{32}) ", result.output, re.MULTILINE)
    assert child_id, result.output
    child = mlflow.MlflowClient().get_run(child_id.group(1))
    assert child.data.tags["mlflow.parentRunId"] == trained[0]
    groups = pd.read_csv(mlflow.artifacts.download_artifacts(
        run_id=child.info.run_id, artifact_path="conformal_groups.csv"))
    assert set(groups["grouping"]) == {"uarch"}


def test_option_mistakes_are_config_errors(workspace: Path) -> None:
    result = runner.invoke(app, ["train", "--alias", "champion"])
    assert isinstance(result.exception, ConfigError)
    result = runner.invoke(app, ["evaluate"])
    assert isinstance(result.exception, ConfigError)


def test_a_failing_train_prints_one_line_exits_1_and_marks_the_run(workspace: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(
        [sys.executable, "-c", "from pitot_tf.cli import main; main()", "train", "--preset",
         "no-such", "--data-dir", str(workspace / "data"), "--experiment", "cli"],
        capture_output=True, text=True, env=env, cwd=workspace, timeout=300)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: unknown preset 'no-such'; `pitot-tf presets` lists them"]
    failed = mlflow.search_runs(experiment_names=["cli"], output_format="list",
                                filter_string="attributes.status = 'FAILED'")
    assert [r.data.tags["error"] for r in failed] == [errors[0][len("error: "):]]


def test_train_on_a_cold_both_split_gives_cold_bounds(workspace: Path) -> None:
    """``split --mode cold-both`` then ``train --splits-dir``: the split file is the library's,
    and the served model bounds a new workload on a measured platform with the margins of its
    cold-workload calibration rows (after runs of it folded in, with those calibrated with as
    many) (a new platform cannot be asked for: see docs/mlflow.md); the
    logged groups table has the bounds calibrated per cold kind."""
    from pitot_tf.data.cold import make_cold_split
    from pitot_tf.data.dataset import load_dataset
    from pitot_tf.data.splits import load_split
    from pitot_tf.serving.pyfunc import COLD_BOUND_NOTE

    data, splits = workspace / "data", workspace / "splits-both"
    result = runner.invoke(app, ["split", "--data-dir", str(data), "--out", str(splits),
                                 "--levels", "0.8", "--replicates", "0", "--mode", "cold-both"])
    assert result.exit_code == 0, result.output
    dataset = load_dataset(data)
    written = load_split(splits / "0.8" / "0.npz", dataset)
    expected = make_cold_split(dataset, 0.8, 0, mode="cold-both")
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(written.rows("if2", part), expected.rows("if2", part))
    result = runner.invoke(app, ["train", "--data-dir", str(data), *FAST, "--experiment", "cli",
                                 "--splits-dir", str(splits), "--level", "0.8"])
    assert result.exit_code == 0, result.output
    run_id = re.search(r"^MLflow: run ([0-9a-f]{32}) ", result.output, re.MULTILINE)
    assert run_id, result.output
    model = mlflow.pyfunc.load_model(f"runs:/{run_id.group(1)}/pyfunc-model")
    features = ";".join(map(str, dataset.workloads.features[3]))
    answer = model.predict(pd.DataFrame({"workload": ["brand/new"],
                                         "platform": [dataset.platforms.names[0]],
                                         "workload_features": [features]}))
    assert COLD_BOUND_NOTE in answer["note"][0]
    runs = [{"platform": str(name), "runtime_s": 0.01} for name in dataset.platforms.names[1:4]]
    folded = model.predict(pd.DataFrame({"workload": ["brand/new"],
                                         "platform": [dataset.platforms.names[0]],
                                         "workload_features": [features],
                                         "measured": [json.dumps(runs)]}))
    assert ("3 measured run(s) folded in; bound calibrated on held-out workloads with 2-3 "
            "run(s) folded in") in folded["note"][0]
    groups = pd.read_csv(mlflow.artifacts.download_artifacts(
        run_id=run_id.group(1), artifact_path="conformal_groups.csv"))
    kinds = set(groups.query("grouping == 'cold' and bound == 'mondrian'")["group"])
    assert {"cold-workload", "cold-platform", "cold-both"} <= kinds
    logged = mlflow.get_run(run_id.group(1)).data.metrics
    mondrian = groups.query("grouping == 'cold' and bound == 'mondrian' and alpha == 0.05")
    for kind, row in mondrian.set_index("group").iterrows():
        if kind in ("cold-workload", "cold-platform", "cold-both"):
            name = f"test_{row['objective']}_{str(kind).replace('-', '_')}_coverage_0.05"
            assert logged[name] == pytest.approx(row["coverage"])
