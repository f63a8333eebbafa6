"""Tables built from columns and read back by column, at the cost of the columns alone.

A served request is a table of a few rows: pandas' public constructor and column access cost
tens of microseconds per column (checks, type inference, a ``Series`` per column), more than
the model's own work for one row. These helpers use pandas' column-array methods
(``DataFrame._from_arrays``, ``DataFrame._iter_column_arrays``, both present from pandas 1.x
to 3.x) and fall back to the public API where a pandas lacks them; both give the same tables
and the same Python values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def table_of(frame_type: type[pd.DataFrame], arrays: Sequence[np.ndarray],
             columns: Sequence[str]) -> pd.DataFrame:
    """A ``frame_type`` with one column per array (kept as given: no copy, no inference;
    object arrays stay object columns)."""
    build = getattr(frame_type, "_from_arrays", None)
    index = pd.RangeIndex(len(arrays[0]) if arrays else 0)
    if build is not None:
        return build(list(arrays), columns=pd.Index(list(columns)), index=index,
                     verify_integrity=False)
    data = {name: pd.Series(values, dtype=values.dtype, copy=False)
            for name, values in zip(columns, arrays, strict=True)}
    return frame_type(data, columns=list(columns), copy=False)


def column_lists(frame: pd.DataFrame) -> list[list[Any]]:
    """Each column's values as a list of Python values, in column order."""
    arrays = getattr(frame, "_iter_column_arrays", None)
    if arrays is None:
        return [frame.iloc[:, i].tolist() for i in range(frame.shape[1])]
    return [array.tolist() for array in arrays()]
