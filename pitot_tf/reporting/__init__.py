"""Reading results back out of MLflow: sweep tables and the paper's figures.

Nothing here trains or writes unless asked (``--out`` files, ``--log`` to the sweep's parent
run). :mod:`~pitot_tf.reporting.summary` (mean ± 2 s.e. over replicates),
:mod:`~pitot_tf.reporting.figures` (figures from a summary table),
:mod:`~pitot_tf.reporting.analysis` (inside a trained Pitot model) and
:mod:`~pitot_tf.reporting.report` (``pitot-tf sweep figures``).
"""
