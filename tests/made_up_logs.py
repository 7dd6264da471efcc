"""Made-up run logs in the long form `plots.load_runs` returns, for the tests of claims, fidelity and figures.

Each metric is a number (the same at every epoch) or a function of the epoch array: values that differ at every
epoch make a value read at the wrong epoch another number."""

from __future__ import annotations

import numpy as np
import pandas as pd

METRICS = ["test_accuracy", "test_entropy", "test_loss"]


def run_log(run_name, seed=0, epochs=3, *, accuracy=0.5, entropy=1.0, loss=100.0, source="ours",
            nan_epoch=None) -> pd.DataFrame:
    """One run's test columns for epochs 1 to ``epochs``; a run that turned NaN at ``nan_epoch`` has NaN metrics
    in that row, as a real log has."""
    e = np.arange(1, epochs + 1)
    frame = pd.DataFrame({"run_name": run_name, "seed": seed, "epoch": e, "source": source, "k": 10,
                          "nan_epoch": np.nan if nan_epoch is None else float(nan_epoch)})
    for column, value in zip(METRICS, (accuracy, entropy, loss)):
        frame[column] = value(e) if callable(value) else float(value)
    if nan_epoch is not None:
        frame.loc[frame["epoch"] == nan_epoch, METRICS] = np.nan
    return frame


def linear(base, slope):
    """A metric ``base + slope * epoch``."""
    return lambda e: base + slope * e
