"""What ``pitot-tf search`` and the ``search`` entry point print when a study has run."""

from __future__ import annotations

from pitot_tf.search.runner import SearchResult


def result_text(result: SearchResult) -> str:
    """Trial counts, the best trial with its metric names and params (or the Pareto front),
    then where the study and the runs are and how to look at them."""
    lines = [f"study {result.study} ({result.storage}): {result.finished}/{result.target} "
             f"finished, {result.failed} failed, {result.wall_s:.0f} s"]
    if result.best_trial is not None and result.best_values is not None:
        values = ", ".join(f"{name} = {value:.4g}" for name, value
                           in zip(result.metric_names, result.best_values, strict=False))
        lines.append(f"best trial {result.best_trial}: {values}")
        lines += [f"  {key} = {_short(value)}" for key, value in result.best_params.items()]
    if result.pareto_trials:
        lines.append(f"Pareto front of {', '.join(result.metric_names)}: trials "
                     f"{result.pareto_trials}")
    if result.parent_run_id:
        from pitot_tf.tracking.experiments import where_text

        lines.append(where_text(result.parent_run_id))
    lines.append(f"dashboard: pitot-tf dashboard --storage {result.storage}")
    return "\n".join(lines)


def _short(value: object) -> str:
    """Floats to 4 significant digits (``0.001252``), everything else as is."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
