#!/bin/bash
# The docs' screenshots (docs/figures/mlflow_*.png, optuna_dashboard_study.png) from real runs
# on the published data into a private store: a `main` pipeline (2,000 steps), two ablation
# presets and a second seed with `pitot-tf train`, and a 3-trial search; then the MLflow UI
# and optuna-dashboard on 127.0.0.1, photographed by headless Chromium
# (`apt-get install chromium`; benchmarks/screenshot_ui.py drives it).
#
#   benchmarks/screenshots.sh /path/to/pitot-data [work folder, default /tmp/pitot-shots]
set -euo pipefail
DATA=${1:?usage: screenshots.sh DATA_DIR [WORK]}
WORK=${2:-/tmp/pitot-shots}
REPO=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$WORK" && cd "$WORK"
export MLFLOW_TRACKING_URI=sqlite:///$WORK/mlflow.db PITOT_DATA=$DATA PYTHONPATH=$REPO
python -c "import mlflow; mlflow.MlflowClient().create_experiment('pitot', artifact_location='file://$WORK/artifacts/pitot')"
mlflow run "$REPO" -e main --env-manager local -P source="$DATA" -P steps=2000 -P splits_dir="$WORK/splits"
for preset in components/ignore embedding/16; do
  pitot-tf train --preset $preset --steps 2000 --splits-dir "$WORK/splits" --log-model false
done
pitot-tf train --preset pitot --steps 2000 --set seed=1 --log-model false
PITOT_STUDIES=$REPO/studies pitot-tf search --study pitot --n-trials 3 --storage "$WORK/pitot.journal" \
  --set training.steps=600 --set training.val_every=200

mlflow ui --backend-store-uri "$MLFLOW_TRACKING_URI" --host 127.0.0.1 --port 5056 & UI=$!
pitot-tf dashboard --storage "$WORK/pitot.journal" --port 8091 & DASH=$!
trap 'kill $UI $DASH' EXIT
sleep 40
python "$REPO/benchmarks/screenshot_ui.py" --mlflow "$WORK" "$REPO/docs/figures"
python "$REPO/benchmarks/screenshot_ui.py" "$REPO/docs/figures/optuna_dashboard_study.png" \
  http://127.0.0.1:8091/dashboard/studies/0 --size 1400,1000
