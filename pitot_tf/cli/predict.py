"""``pitot-tf predict``: ask a logged ``pyfunc-model`` for a runtime and its upper bound."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from pitot_tf.cli.app import app
from pitot_tf.cli.common import ModelUri, items
from pitot_tf.errors import PredictionError

Workload = Annotated[str, typer.Option(help="Workload name.")]
Platform = Annotated[str, typer.Option(help="Platform name.")]
With = Annotated[
    Optional[list[str]],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option("--with", show_default=False,
                 help="Co-running workloads, repeatable or comma-separated (default: none, it "
                      "runs alone)."),
]
Alpha = Annotated[float, typer.Option(help="Miscoverage: the bound holds w.p. 1 - alpha.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the answer as JSON (seconds).")]
Features = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(show_default=False,
                 help="File with the workload's encoded features, cold start (default: none)."),
]
PlatformFeatures = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(show_default=False,
                 help="File with the platform's encoded features, a new platform (default: "
                      "none)."),
]

Counts = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(show_default=False,
                 help="JSON file with the workload's raw opcode counts, e.g. "
                      '{"x20": 1523, "x41": 87}, cold start (default: none).'),
]

Measured = Annotated[
    Optional[Path],  # noqa: UP045 - typer needs Optional on Python 3.10
    typer.Option(show_default=False,
                 help="CSV or JSON file of measured runs of WORKLOAD, columns platform and "
                      "runtime_s (or of runs on PLATFORM: workload and runtime_s), folded into "
                      "the model before it predicts (default: none)."),
]


def _read_measured(path: Path | None) -> str:
    """The runs in ``path`` (a JSON list of objects, or a CSV with a header row) as one JSON
    string ('' without a file); PredictionError naming the file, row and field."""
    if path is None:
        return ""
    from pitot_tf.serving.measured import measured_runs  # loads Keras: only when asked

    if not path.is_file():
        raise PredictionError(f"{path}: measured runs file not found")
    text = path.read_text()
    if text.lstrip().startswith("["):
        try:
            entries = json.loads(text)
        except ValueError as error:
            raise PredictionError(f"{path}: not JSON: {error}") from None
        measured_runs(entries, str(path), item="entry", start=0)
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "runtime_s" not in reader.fieldnames:
            raise PredictionError(f"{path}: a CSV needs a header row with runtime_s and "
                                  "platform (or workload)")
        entries = [{key: value for key, value in row.items() if key and value not in (None, "")}
                   for row in reader]
        measured_runs(entries, str(path), item="row", start=2)  # row 1 is the header
    return json.dumps(entries)


def _read_counts(path: Path | None) -> str:
    """The JSON object in ``path`` as one JSON string ('' without a file)."""
    if path is None:
        return ""
    if not path.is_file():
        raise PredictionError(f"{path}: opcode counts file not found")
    try:
        counts = json.loads(path.read_text())
    except ValueError as error:
        raise PredictionError(f"{path}: not JSON: {error}") from None
    if not isinstance(counts, dict):
        raise PredictionError(f"{path}: expected a JSON object of opcode label -> count, "
                              f"got {type(counts).__name__}")
    return json.dumps(counts)


def _read_features(path: Path | None) -> str:
    """The numbers in ``path`` as one ``;``-separated string ('' without a file)."""
    if path is None:
        return ""
    if not path.is_file():
        raise PredictionError(f"{path}: features file not found")
    return ";".join(path.read_text().replace(",", " ").replace(";", " ").split())


@app.command("predict")
def predict(
    model_uri: ModelUri, workload: Workload, platform: Platform, with_: With = None,
    alpha: Alpha = 0.05, as_json: AsJson = False, workload_features: Features = None,
    opcode_counts: Counts = None, measured: Measured = None,
    platform_features: PlatformFeatures = None,
) -> None:
    """Predicted runtime and conformal upper bound of WORKLOAD on PLATFORM (--json: seconds).

    With --workload-features FILE, WORKLOAD may be a program the model has never seen: it is
    predicted from its encoded feature vector (numbers separated by commas, semicolons or
    white space, in the dataset's workload-feature order); with --opcode-counts FILE, from its
    raw opcode counts (a JSON object of label -> count; missing opcodes count 0), which the
    model encodes as its training dataset did. Likewise, with --platform-features FILE,
    PLATFORM may be a device the model has never seen (its encoded feature vector, in the
    dataset's platform-feature order). With --measured FILE, the runs in FILE are
    folded into WORKLOAD's row (PLATFORM's, for runs of other workloads on it) first, so a few
    measurements sharpen the prediction and its bound."""
    if workload_features is not None and opcode_counts is not None:
        raise PredictionError("give --workload-features or --opcode-counts, not both")
    runs = _read_measured(measured)  # a bad file fails before the model loads
    # One answer per call: the artifact download bars would drown it.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow.pyfunc
    import pandas as pd

    from pitot_tf.data.units import format_seconds

    model = mlflow.pyfunc.load_model(model_uri)
    request = pd.DataFrame({"workload": [workload], "platform": [platform],
                            "co_runners": [";".join(items(with_))], "alpha": [alpha],
                            "workload_features": [_read_features(workload_features)],
                            "opcode_counts": [_read_counts(opcode_counts)]})
    if measured is not None:  # a model logged before the field existed refuses the column
        request["measured"] = [runs]
    if platform_features is not None:  # as measured
        request["platform_features"] = [_read_features(platform_features)]
    answer = model.predict(request).iloc[0].to_dict()
    if as_json:
        typer.echo(json.dumps(answer))
        return
    co = f" with {answer['co_runners'].replace(';', ', ')}" if answer["co_runners"] else ""
    typer.echo(f"{workload} on {platform}{co}: predicted "
               f"{format_seconds(answer['predicted_runtime_s'])}, upper bound "
               f"{format_seconds(answer['upper_bound_s'])} at alpha={answer['alpha']:g} "
               f"(calibration {answer['calibration']})")
    if answer["note"]:
        typer.echo(f"note: {answer['note']}")
