"""Per-row losses on ``(batch, heads)`` predictions of log runtime.

* squared: the paper's default, squared error of log runtime (one head);
* pinball: one quantile per head (for conformalized quantile regression);
* percent: ``|t̂/t − 1|`` of the runtimes, computed from the log prediction (``model.loss=percent``).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


def row_loss(
    log_true: tf.Tensor, log_pred: tf.Tensor, kind: str, quantiles: Sequence[float]
) -> tf.Tensor:
    """Loss of each row, averaged over heads: shape ``(batch,)``."""
    residual = tf.expand_dims(log_true, -1) - log_pred
    if kind == "percent":
        loss = tf.abs(tf.exp(-residual) - 1.0)
    elif quantiles:
        q = tf.constant(list(quantiles), dtype=log_pred.dtype)
        loss = tf.maximum(q * residual, (q - 1.0) * residual)
    else:
        loss = tf.square(residual)
    return tf.reduce_mean(loss, axis=-1)
