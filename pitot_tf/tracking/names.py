"""Names shared by every run: tags, artifact paths and logged-model names.

Kept in one place so that runs, searches, the pipeline's reuse check and the docs agree.
"""

from __future__ import annotations

# tags
TAG_PRESET = "preset"
TAG_FAMILY = "family"
TAG_LEVEL = "level"
TAG_REPLICATE = "replicate"
TAG_ERROR = "error"
TAG_STOPPED = "stopped"
TAG_KIND = "pitot.kind"
TAG_CODE_VERSION = "pitot.code_version"
TAG_SOURCE_VERSION = "pitot.source_version"
TAG_PACKAGE_VERSION = "pitot.version"
TAG_GIT_COMMIT = "pitot.git_commit"
TAG_EVALUATED_RUN = "pitot.evaluated_run"
TAG_NOTES = "pitot.notes"
TAG_PARENT = "mlflow.parentRunId"
TAG_RUN_NAME = "mlflow.runName"
TAG_ENTRY_POINT = "mlflow.project.entryPoint"
#: ``pitot.resolved.<param>``: what ran, when ``mlflow run`` logged the param as typed
#: (e.g. ``data_dir`` given as ``''``: the resolved folder is in ``pitot.resolved.data_dir``)
TAG_RESOLVED = "pitot.resolved."

# params that are not config keys (config keys are logged flat: model.mf_dim, seed, ...);
# the first four share their names with the MLproject parameters, so a run has each once
PARAM_PRESET = "preset"
PARAM_LEVEL = "level"
PARAM_REPLICATE = "replicate"
PARAM_DATA_DIR = "data_dir"
PARAM_DATA_FINGERPRINT = "data.fingerprint"
PARAM_DATA_SHAPE = "data.shape"
PARAM_SPLIT_FILE = "split.file"
PARAM_SPLIT_SEED = "split.seed"
PARAM_EVALUATED_RUN = "evaluated_run"

# artifacts
CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
FINGERPRINT_FILE = "data_fingerprint.json"
SPLIT_DIR = "split"
PLOTS_DIR = "plots"
MODEL_NAME = "model"
PYFUNC_NAME = "pyfunc-model"

# run kinds (TAG_KIND)
KIND_TRAIN = "train"
KIND_EVALUATE = "evaluate"
KIND_DATA = "data"
KIND_SPLIT = "split"
KIND_PIPELINE = "pipeline"
