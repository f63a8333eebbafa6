"""Split-conformal upper bounds on runtime (log domain, one-sided) and their metrics.

Figures live in :mod:`pitot_tf.conformal.plots` (imported on demand, it pulls in matplotlib).
See ``docs/conformal.md``.
"""

from pitot_tf.conformal.calibration import (
    DEFAULT_ALPHAS,
    ConformalUpperBound,
    check_alpha,
    conformal_margins,
    conformal_rank,
    min_supported_alpha,
)
from pitot_tf.conformal.metrics import (
    bound_width,
    coverage,
    coverage_by_group,
    mape,
    mape_textbook,
    overprovision,
)

__all__ = [
    "DEFAULT_ALPHAS",
    "ConformalUpperBound",
    "bound_width",
    "check_alpha",
    "conformal_margins",
    "conformal_rank",
    "coverage",
    "coverage_by_group",
    "mape",
    "mape_textbook",
    "min_supported_alpha",
    "overprovision",
]
