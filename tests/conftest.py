"""Shared fixtures: the real dataset (skipped only where absent) and small synthetic ones."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pitot_tf.data.packaged import PUBLISHED_DIR

REPO = Path(__file__).resolve().parents[1]
#: ``$PITOT_DATA`` when set, else the published dataset shipped in the package.
REAL_DATA = Path(os.environ.get("PITOT_DATA") or PUBLISHED_DIR).resolve()


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The published dataset ($PITOT_DATA, else the packaged copy): its absence is a broken
    checkout or install, so the test fails rather than skips."""
    if not (REAL_DATA / "data.npz").is_file():
        pytest.fail(f"real data missing at {REAL_DATA}")
    return REAL_DATA


#: The published repository's unfiltered feature tables (``_opcodes.npz``, ``_platforms.npz``)
#: are not packaged: ``$PITOT_DATA`` or a ``shared/pitot-data`` folder beside the checkout.
FULL_DATA = [Path(p) for p in (os.environ.get("PITOT_DATA"), REPO.parent / "shared" / "pitot-data")
             if p]


@pytest.fixture(scope="session")
def raw_tables_dir() -> Path:
    """A folder with the published unfiltered feature tables; skipped where none is at hand
    (they are downloaded by ``pitot-tf data fetch``), a failure in CI, which always has them."""
    for folder in FULL_DATA:
        if (folder / "_opcodes.npz").is_file():
            return folder.resolve()
    if os.environ.get("CI"):
        pytest.fail("the unfiltered tables (_opcodes.npz) are missing: set PITOT_DATA")
    pytest.skip("the unfiltered tables (_opcodes.npz) are not here (pitot-tf data fetch)")


@pytest.fixture(scope="session")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic dataset with matrix and 2-way interference objectives."""
    from pitot_tf.data.synth import synthesize_dataset

    return synthesize_dataset(tmp_path_factory.mktemp("synth"), platforms=16, workloads=24, seed=1)


@pytest.fixture(scope="session")
def synth_dataset(synth_dir: Path):  # type: ignore[no-untyped-def]
    from pitot_tf.data.dataset import load_dataset

    return load_dataset(synth_dir)


@pytest.fixture()
def fast_overrides() -> dict[str, object]:
    """Config overrides that make a Pitot training run take a second or two (for another
    kind, drop the model keys it never reads: ``model_support.resolve_small``). The gradient
    step is not XLA-compiled: compiling costs a few CPU seconds, far more than 60 steps save,
    and gives the same maths (``test_training.py::test_xla_trains_the_same_model``)."""
    return {
        "training.jit_compile": False,
        "training.steps": 60,
        "training.val_every": 20,
        "training.batch": 64,
        "training.progress": False,
        "model.layers": [16],
        "model.mf_dim": 8,
    }


#: What MLflow exports to the process when a run or experiment is made active
#: (``mlflow.set_experiment`` sets ``MLFLOW_EXPERIMENT_ID``), and so leaks to the next test.
MLFLOW_PROCESS_VARIABLES = ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")


@pytest.fixture(autouse=True)
def _no_mlflow_variables_left_behind() -> Iterator[None]:
    """Remove, after each test, the MLflow variables it set in the process (those set by a
    module or session fixture stay): a test never runs in another test's experiment."""
    before = {name for name in MLFLOW_PROCESS_VARIABLES if name in os.environ}
    yield
    for name in MLFLOW_PROCESS_VARIABLES:
        if name not in before:
            os.environ.pop(name, None)
