"""Training: a compiled multi-objective loop that keeps the best validation weights."""

from pitot_tf.training.trainer import Trainer, TrainingDiverged, TrainResult, train

__all__ = ["TrainResult", "Trainer", "TrainingDiverged", "train"]
