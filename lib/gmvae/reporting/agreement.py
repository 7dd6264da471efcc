"""Whether runs in another precision tell the same story: their distance from the float32 runs, epoch by
epoch, against the distance between two float32 seeds of the GMVAE.

Two runs of the same configuration in float32 and bfloat16 start from the same weights and see the same
batches and noise, but their last bits differ from the first step and chaotic training carries that far. So
"the same" cannot mean equal curves; it means a difference no larger than what changing the seed does, which
the two float32 GMVAE seeds measure. The verdict compares means over all epochs both reached (one epoch's
gap can be near zero where two curves cross); epochs 10, 20 and 50 are shown as well.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gmvae.reporting.fidelity import METRICS, format_value
from gmvae.reporting.plots import label, model_order

SHOWN_EPOCHS = (10, 20, 50)
MEAN_ROW = "mean, all epochs"
COLUMNS = ["run_name", "seed", "metric", "epoch", "reference", "other", "difference", "seed_gap", "within"]


def _curve(df: pd.DataFrame, run_name: str, seed: int, column: str) -> pd.Series:
    curve = df[(df["run_name"] == run_name) & (df["seed"] == seed)].set_index("epoch")[column]
    return curve.where(np.isfinite(curve))


def seed_gap(reference: pd.DataFrame, column: str, run_name: str = "gmvae", seeds=(0, 1)) -> pd.Series:
    """|seed a - seed b| of run_name in the reference runs, per epoch both reached."""
    a, b = (_curve(reference, run_name, s, column) for s in seeds)
    return (a - b).abs().dropna()


def agreement_table(reference: pd.DataFrame, other: pd.DataFrame, epochs=SHOWN_EPOCHS) -> pd.DataFrame:
    """Per run in both (model, seed), metric and epoch of ``epochs`` both reached, plus a row of means over
    all epochs: the reference's and the other's value, their absolute difference, the GMVAE seed gap and
    whether the difference is within it. Empty if the reference lacks two GMVAE seeds."""
    gaps = {column: seed_gap(reference, column) for column in METRICS}
    if any(gap.empty for gap in gaps.values()):
        return pd.DataFrame(columns=COLUMNS)
    pairs = sorted({(r, int(s)) for r, s in zip(other["run_name"], other["seed"])}
                   & {(r, int(s)) for r, s in zip(reference["run_name"], reference["seed"])},
                   key=lambda pair: (model_order(pair[0]), pair[1]))
    rows = []
    for run_name, seed in pairs:
        for column, metric in METRICS.items():
            gap = gaps[column]
            ref, oth = _curve(reference, run_name, seed, column), _curve(other, run_name, seed, column)
            difference = (ref - oth).abs().dropna()
            common = difference.index.intersection(gap.index)
            for epoch in [e for e in epochs if e in common]:
                rows.append({"run_name": run_name, "seed": seed, "metric": metric, "epoch": str(epoch),
                             "reference": ref[epoch], "other": oth[epoch], "difference": difference[epoch],
                             "seed_gap": gap[epoch], "within": bool(difference[epoch] <= gap[epoch])})
            if len(common):
                rows.append({"run_name": run_name, "seed": seed, "metric": metric,
                             "epoch": f"{MEAN_ROW} ({common.min()}-{common.max()})",
                             "reference": ref[common].mean(), "other": oth[common].mean(),
                             "difference": difference[common].mean(), "seed_gap": gap[common].mean(),
                             "within": bool(difference[common].mean() <= gap[common].mean())})
    return pd.DataFrame(rows, columns=COLUMNS)


def agreement_markdown_table(table: pd.DataFrame, reference: str, other: str) -> pd.DataFrame:
    """The agreement table with formatted cells; ``reference`` and ``other`` name the two value columns."""
    fmt = format_value
    return pd.DataFrame([{
        "model": label(r["run_name"]), "seed": r["seed"], "metric": r["metric"], "epoch": r["epoch"],
        reference: fmt(r["metric"], r["reference"]), other: fmt(r["metric"], r["other"]),
        "difference": fmt(r["metric"], r["difference"]), "GMVAE seed 0 vs 1": fmt(r["metric"], r["seed_gap"]),
        "within": "yes" if r["within"] else "**no**",
    } for _, r in table.iterrows()])
