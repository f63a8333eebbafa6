"""Trained models for ``few_shot.py``, one ``.keras`` file per preset, mode, draw and step
count in a cache folder, so that a rerun (or a second process) only loads them.

    python benchmarks/few_shot_models.py [--data-dir DIR] [--mode cold-workload]
        [--draws 5] [--from-draw 0] [--preset pitot/cold] [--cache DIR]

trains the zero-shot model of each draw (what ``few_shot.py`` would train first).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from common import QUIET, add_data_options

DEFAULT_CACHE = Path("/tmp/pitot-few-shot")


def model_path(cache: Path, preset: str, mode: str, draw: int, steps: int | None,
               tag: str = "") -> Path:
    """Where the model of ``preset`` on draw ``draw`` of ``mode`` is kept."""
    return cache / f"{mode}-{preset.replace('/', '_')}-d{draw}-s{steps}{tag}.keras"


def trained_model(path: Path, preset: str, dataset: Any, split: Any,
                  steps: int | None) -> Any:
    """The model in ``path``; trained on ``split`` (and saved there) when it is missing."""
    import keras

    import pitot_tf.models  # noqa: F401  (registers the custom layers)
    from pitot_tf.presets import resolve
    from pitot_tf.training import train

    if path.exists():
        return keras.saving.load_model(path, compile=False)
    overrides: dict[str, object] = dict(QUIET)
    if steps:
        overrides["training.steps"] = steps
    model = train(resolve(preset, overrides), dataset, split).model
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.keras")
    model.save(partial)
    partial.rename(path)
    return model


def main() -> None:
    from pitot_tf.data.cold import COLD_MODES, make_cold_split
    from pitot_tf.data.dataset import load_dataset

    parser = argparse.ArgumentParser(description=__doc__)
    add_data_options(parser, overrides=False)
    parser.add_argument("--mode", choices=COLD_MODES[:2], default="cold-workload")
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--from-draw", type=int, default=0)
    parser.add_argument("--preset", default="pitot/cold")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    dataset = load_dataset(args.data_dir)
    for draw in range(args.from_draw, args.draws):
        split = make_cold_split(dataset, 1.0, draw, mode=args.mode, holdout=args.holdout)
        path = model_path(args.cache, args.preset, args.mode, draw, args.steps)
        trained_model(path, args.preset, dataset, split, args.steps)
        print(f"draw {draw}: {path}", flush=True)


if __name__ == "__main__":
    main()
