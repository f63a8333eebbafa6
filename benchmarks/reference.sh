#!/usr/bin/env bash
# The reference implementation of Pitot (WiseLabCMU/pitot, JAX) on the same split files as
# pitot-tf, so that anyone can reproduce the comparison in docs/results.md.
#
#   bash benchmarks/reference.sh [--work DIR] [--preset pitot] [--level 0.5 ...]
#       [--replicates 5] [--splits ours|reference] [--data-dir DIR] [--ours]
#       [--repo URL_OR_PATH] [--commit SHA] [--steps N]
#
# What it does, in WORK (default ./reference-run; each call's files in WORK/run-<date-time>):
#   1. clones the reference at a pinned commit (b94541c, the commit whose data/ folder is the
#      published dataset) into WORK/pitot;
#   2. makes its own virtual environment WORK/venv with the versions of the reference's
#      poetry.lock (jax 0.5.0, dm-haiku 0.0.13, optax 0.2.4, ...; CPU jaxlib; set JAX_PIP to
#      install another jax, e.g. JAX_PIP='jax[cuda12]==0.5.0');
#   3. writes the split files both implementations read, RUN/splits/<level>/<replicate>.npz:
#      `--splits ours` (the default) with `pitot-tf split --seed 42`; `--splits reference` with
#      the reference's own `manage.py split --seed 42` (as its `make splits` does), keeping the
#      matrix (mf) and 2-way (if2) parts;
#   4. trains the preset with the reference's `manage.py train` on those files and scores it
#      with its `manage.py evaluate`, then prints per replicate the test MAPE, the width and
#      coverage of its conformal bound at alpha = 0.05 and the training time, the mean ± sd over
#      replicates, and a last line of JSON {"<level>": {"mf": MAPE, "if2": MAPE, ...}};
#   5. with `--ours`, also runs `benchmarks/accuracy.py --splits RUN/splits --bounds` (pitot-tf,
#      the same preset name, the same files), whose last line is the same kind of JSON.
#
# The reference run is the one its README describes, restricted to the published data's
# matrix and 2-way objectives (the data has no 3- and 4-way files for pitot-tf): if3 and if4 are
# dropped from its objectives and if2 gets the whole interference weight, 3 × the per-objective
# w/3 of its presets (0.5 for `pitot`; see "Objective weights" in docs/benchmarks.md). Its
# training seed for replicate r of level L is derived, as in its `train` script, from L, r,
# the number of replicate files and seed 42: keep --replicates 5 to get the seeds of its
# `make splits`. Both implementations read byte-identical data files: the reference's
# data/data.npz and data/if2.npz (the published dataset), copied to RUN/data unless
# --data-dir names a folder, whose files must then have the same sha256.
#
# `--steps N` trains N steps instead of the preset's 20,000, in both implementations: a quick check
# that everything runs, not a comparison.
#
# Needs git, network access to GitHub and the package index (or --repo pointing at a local
# clone and a reachable package index), Python 3.10 or later for the reference's environment
# (PYTHON; default: the first of python3.12, python3.13, python3 that runs; its own pyproject asks
# for 3.12 or later), and pitot-tf installed for steps 3 and 5 (PITOT_TF, default
# pitot-tf; PITOT_PYTHON, default python). On two CPU cores one 20,000-step `pitot` replicate of
# the reference takes about 71-75 s (docs/benchmarks.md), plus its JIT compilation and the
# one-off install.
set -euo pipefail

REPO=https://github.com/WiseLabCMU/pitot.git
COMMIT=b94541c2bee815be183b4bb3dda9685afb41e2e7
WORK=reference-run
PRESET=pitot
LEVELS=()
REPLICATES=5
SPLITS=ours
DATA_DIR=
OURS=0
STEPS=
JAX_PIP=${JAX_PIP:-"jax==0.5.0 jaxlib==0.5.0"}
PITOT_TF=${PITOT_TF:-pitot-tf}
PITOT_PYTHON=${PITOT_PYTHON:-python}
if [[ -z "${PYTHON:-}" ]]; then
    for candidate in python3.12 python3.13 python3; do
        if "$candidate" -c 'import sys; assert sys.version_info >= (3, 10)' 2> /dev/null; then
            PYTHON=$candidate
            break
        fi
    done
    [[ -n "${PYTHON:-}" ]] || { echo "reference.sh: no Python >= 3.10 found; set PYTHON" >&2; exit 1; }
fi

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit "${1:-0}"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --work) WORK=$2; shift 2 ;;
        --preset) PRESET=$2; shift 2 ;;
        --level) LEVELS+=("$2"); shift 2 ;;
        --replicates) REPLICATES=$2; shift 2 ;;
        --splits) SPLITS=$2; shift 2 ;;
        --data-dir) DATA_DIR=$2; shift 2 ;;
        --ours) OURS=1; shift ;;
        --repo) REPO=$2; shift 2 ;;
        --commit) COMMIT=$2; shift 2 ;;
        --steps) STEPS=$2; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "reference.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ ${#LEVELS[@]} -gt 0 ]] || LEVELS=(0.5)
[[ "$SPLITS" == ours || "$SPLITS" == reference ]] \
    || { echo "reference.sh: --splits must be 'ours' or 'reference', got '$SPLITS'" >&2; exit 2; }
[[ -z "$STEPS" || "$STEPS" =~ ^[1-9][0-9]*$ ]] \
    || { echo "reference.sh: --steps must be a positive integer, got '$STEPS'" >&2; exit 2; }
[[ "$REPLICATES" =~ ^[1-9][0-9]*$ ]] \
    || { echo "reference.sh: --replicates must be a positive integer, got '$REPLICATES'" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
REF="$WORK/pitot"
VENV="$WORK/venv"
RUN="$WORK/run-$(date +%Y%m%d-%H%M%S)"

# 1. The reference at the pinned commit.
if [[ ! -d "$REF/.git" ]]; then
    echo "== cloning $REPO into $REF"
    git clone --quiet "$REPO" "$REF"
fi
git -C "$REF" checkout --quiet "$COMMIT"
HEAD=$(git -C "$REF" rev-parse HEAD)
[[ "$HEAD" == "$COMMIT"* ]] || { echo "reference.sh: $REF is at $HEAD, not $COMMIT" >&2; exit 1; }
[[ -z "$(git -C "$REF" status --porcelain --untracked-files=no)" ]] \
    || { echo "reference.sh: $REF has local changes; use a fresh --work" >&2; exit 1; }
echo "== reference at $HEAD"

# 2. Its virtual environment (pins from its poetry.lock, CPU jax unless JAX_PIP says otherwise).
if [[ ! -f "$VENV/.installed" ]]; then
    echo "== installing the reference's dependencies into $VENV ($("$PYTHON" --version))"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    # shellcheck disable=SC2086  # JAX_PIP is a list of requirements
    "$VENV/bin/python" -m pip install --quiet $JAX_PIP dm-haiku==0.0.13 optax==0.2.4 \
        chex==0.1.88 numpy==2.2.2 jaxtyping==0.2.37 beartype==0.19.0 tqdm==4.67.1
    touch "$VENV/.installed"
fi
RPY="$VENV/bin/python"

# The data both read: the reference's own published files.
mkdir -p "$RUN"
if [[ -z "$DATA_DIR" ]]; then
    DATA_DIR="$RUN/data"
    mkdir -p "$DATA_DIR"
    cp "$REF/data/data.npz" "$REF/data/if2.npz" "$DATA_DIR/"
else
    for f in data.npz if2.npz; do
        a=$(sha256sum < "$REF/data/$f" | cut -d' ' -f1)
        b=$(sha256sum < "$DATA_DIR/$f" | cut -d' ' -f1)
        [[ "$a" == "$b" ]] || { echo "reference.sh: $DATA_DIR/$f differs from the reference's" \
            "data/$f (sha256 $b, not $a): both must read the same data" >&2; exit 1; }
    done
fi
echo "== data: $(cd "$DATA_DIR" && sha256sum data.npz if2.npz | tr '\n' ' ')"

# 3. The split files.
SPLIT_DIR="$RUN/splits"
if [[ "$SPLITS" == ours ]]; then
    echo "== split files: $PITOT_TF split --seed 42"
    level_args=()
    for level in "${LEVELS[@]}"; do level_args+=(--levels "$level"); done
    "$PITOT_TF" split --data-dir "$DATA_DIR" --out "$SPLIT_DIR" "${level_args[@]}" \
        --replicates "0-$((REPLICATES - 1))" --seed 42
else
    echo "== split files: the reference's manage.py split --seed 42 (mf and if2 kept)"
    (cd "$REF" && JAX_PLATFORM_NAME=cpu "$RPY" manage.py split --out "$RUN/splits-reference" \
        --seed 42 --replicates "$REPLICATES" --splits "${LEVELS[@]}")
    "$RPY" - "$RUN/splits-reference" "$SPLIT_DIR" <<'EOF'
import pathlib, sys
import numpy as np
source, target = map(pathlib.Path, sys.argv[1:])
for path in sorted(source.glob("*/*.npz")):
    with np.load(path) as archive:
        kept = {k: archive[k] for k in archive.files if k.split("_")[0] in ("mf", "if2")}
    out = target / path.parent.name / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **kept)
EOF
fi
ls "$SPLIT_DIR"/*/*.npz > /dev/null

# 4. The reference: train and evaluate on those files, matrix and 2-way objectives only.
cat > "$RUN/driver.py" <<'EOF'
"""manage.py with the objectives restricted to the data present (mf, if2) and exact presets."""
import os
import resource
import sys

sys.path.insert(0, ".")
from manage import dispatch  # noqa: E402
from pitot import presets  # noqa: E402

_get_config = presets.get_config


def get_config(name):
    cfg = _get_config(name)
    objectives = cfg["objectives"]
    objectives["if2"]["weight"] = 3 * objectives["if2"]["weight"]  # w/3 each -> w on if2
    for dropped in ("if3", "if4"):
        objectives.pop(dropped, None)
    if os.environ.get("REFERENCE_STEPS"):  # --steps: a quick check, not a comparison
        cfg["training_args"]["steps"] = int(os.environ["REFERENCE_STEPS"])
    return cfg


presets.get_config = get_config
presets.match = lambda name: [name] if name in presets.PRESETS else []
try:
    dispatch("scripts")
finally:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MiB", file=sys.stderr)
EOF
echo "== training $PRESET with the reference (JAX on the CPU unless JAX_PIP installed a GPU jax)"
start=$(date +%s.%N)
(cd "$REF" && REFERENCE_STEPS=$STEPS JAX_PLATFORM_NAME=${JAX_PLATFORM_NAME:-cpu} "$RPY" "$RUN/driver.py" train \
    -p "$PRESET" -s "$SPLIT_DIR" -o "$RUN/results")
end=$(date +%s.%N)
echo "== training wall, whole process: $(awk "BEGIN { printf \"%.1f\", $end - $start }") s"
(cd "$REF" && REFERENCE_STEPS=$STEPS JAX_PLATFORM_NAME=cpu "$RPY" "$RUN/driver.py" evaluate \
    -p "$RUN/results/$PRESET" -s "$SPLIT_DIR" -o "$RUN/summary.npz")

"$RPY" - "$RUN/summary.npz" "$RUN/results/$PRESET" "$PRESET" <<'EOF'
import json, pathlib, sys
import numpy as np
summary, results, preset = np.load(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
alphas = (100 - summary["quantiles"]) / 100
at = int(np.argmin(np.abs(alphas - 0.05)))
objectives = [o for o in ("mf", "if2") if f"{o}_mape" in summary.files]
out = {}
# manage.py train and evaluate walk the level folders and replicate files in sorted name order.
levels = sorted(p.name for p in results.iterdir() if p.is_dir())
for i, (level, folder) in enumerate(zip(summary["splits"], levels)):
    name = f"{level:g}"
    runs = sorted(p for p in (results / folder).iterdir() if p.suffix == ".npz")
    rows = []
    for r, log in enumerate(runs):
        row = {}
        for o in objectives:
            row[o] = float(summary[f"{o}_mape"][i, r])
            row[f"{o}_width_0.05"] = float(summary[f"{o}_width"][i, r, at])
            row[f"{o}_coverage_0.05"] = float(summary[f"{o}_coverage"][i, r, at])
        with np.load(log) as archive:
            row["train_s"] = float(archive["time"])
        rows.append(row)
        print(f"reference {preset} level {name} replicate {log.stem}: " + ", ".join(
            f"{k} {v:.1f}" if k == "train_s" else f"{k} {v:.2%}" for k, v in row.items()))
    mean = {k: float(np.mean([row[k] for row in rows])) for k in rows[0]}
    sd = {k: float(np.std([row[k] for row in rows], ddof=1)) if len(rows) > 1 else 0.0
          for k in rows[0]}
    print(f"reference {preset} level {name}, mean ± sd over {len(rows)} replicates: " + ", ".join(
        f"{k} {mean[k]:.1f} ± {sd[k]:.1f}" if k == "train_s" else f"{k} {mean[k]:.2%} ± {sd[k]:.2%}"
        for k in rows[0]))
    out[name] = mean
print(json.dumps(out))
EOF

# 5. pitot-tf on the same files.
if [[ "$OURS" == 1 ]]; then
    echo "== pitot-tf, $PRESET, on the same split files"
    replicate_args=()
    for ((r = 0; r < REPLICATES; r++)); do replicate_args+=("$r"); done
    (cd "$ROOT" && "$PITOT_PYTHON" benchmarks/accuracy.py --preset "$PRESET" \
        --splits "$SPLIT_DIR" --data-dir "$DATA_DIR" --levels "${LEVELS[@]}" \
        --replicates "${replicate_args[@]}" --bounds ${STEPS:+--steps "$STEPS"})
fi
echo "== everything is in $RUN"
