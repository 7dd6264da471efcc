"""How close our runs come to the original's: each test metric at fixed epochs against the range of the
original's published replicates.

The original logged three significant digits (``{:10.2e}``), so its 1.03e+02 means 102.5 to 103.5: a
value of ours is *inside* when it lies within the original's min-max over its replicates at that epoch,
each edge widened by half a unit of the digit logged there (:func:`gmvae.original.half_unit`), and no
wider. A single epoch's loss moves 0.1-0.2 nats from one epoch to the next, so each value comes with the
mean of the last five epochs up to it (fewer at the first epochs), judged the same way against the
original's five-epoch means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gmvae.original import half_unit
from gmvae.plots import label, model_order

FIDELITY_EPOCHS = (1, 5, 10, 20, 50)  # besides each model's last epoch
METRICS = {"test_accuracy": "accuracy", "test_entropy": "H(y|x)", "test_loss": "loss"}
WINDOW = 5  # epochs in the running mean beside each value

COLUMNS = ["source", "run_name", "metric", "epoch", "run", "ours", "ours_last5", "original_runs", "original_min",
           "original_mean", "original_max", "low", "high", "inside", "original_last5_min",
           "original_last5_max", "low_last5", "high_last5", "inside_last5"]


def _wide(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """epoch x seed, NaN where a replicate has no finite value."""
    wide = df.pivot_table(index="epoch", columns="seed", values=column, aggfunc="first", dropna=False)
    return wide.where(np.isfinite(wide))


def _running_mean(wide: pd.DataFrame) -> pd.DataFrame:
    """Mean of the last WINDOW epochs up to each epoch (fewer at the start), NaN where the epoch is NaN."""
    full = wide.reindex(range(1, int(wide.index.max()) + 1))
    means = full.rolling(WINDOW, min_periods=1).mean()
    return means.where(full.notna())


def _edges(values: pd.Series) -> tuple[float, float, float, float]:
    """(min, max, low, high): the range of the logged values and its edges widened by half a logged unit."""
    lo, hi = float(values.min()), float(values.max())
    return lo, hi, lo - half_unit(lo), hi + half_unit(hi)


def fidelity_table(ours: pd.DataFrame, original: pd.DataFrame, epochs=FIDELITY_EPOCHS) -> pd.DataFrame:
    """Per source of ours, model that both have, metric, epoch (``epochs`` ours reached and our last) and
    run of ours (each seed, and the mean when there are several): our value and five-epoch mean, the
    original's replicates that reached the epoch (count, min, mean, max, widened edges) and whether ours
    is inside.

    ``ours``: gmvae.plots.load_runs output, possibly of several sources (its ``source`` column, e.g. runs
    kept from an earlier protocol); ``original``: gmvae.original.load_original_logs output.
    """
    rows = []
    sources = list(dict.fromkeys(ours["source"])) if "source" in ours and len(ours) else ["ours"] * bool(len(ours))
    for source in sources:
        mine_all = ours[ours["source"] == source] if "source" in ours else ours
        for run_name in sorted(set(mine_all["run_name"]), key=model_order):
            theirs = original[original["run_name"] == run_name]
            if theirs.empty:
                continue
            rows += _compare(mine_all[mine_all["run_name"] == run_name], theirs, epochs,
                             {"source": source, "run_name": run_name})
    return pd.DataFrame(rows, columns=COLUMNS)


def _compare(mine: pd.DataFrame, theirs: pd.DataFrame, epochs, keys: dict) -> list[dict]:
    rows = []
    for column in METRICS:
        our_wide, their_wide = _wide(mine, column), _wide(theirs, column)
        our_mean5, their_mean5 = _running_mean(our_wide), _running_mean(their_wide)
        last = int(our_wide.dropna(how="all").index.max())
        for epoch in sorted({e for e in epochs if e <= last} | {last}):
            if epoch not in their_wide.index or their_wide.loc[epoch].isna().all():
                continue
            their_values = their_wide.loc[epoch].dropna()
            lo, hi, low, high = _edges(their_values)
            lo5, hi5, low5, high5 = _edges(their_mean5.loc[epoch].dropna())
            reached = [s for s in our_wide.columns if epoch in our_wide.index and np.isfinite(our_wide.loc[epoch, s])]
            runs = {f"seed {int(s)}": (our_wide.loc[epoch, s], our_mean5.loc[epoch, s]) for s in reached}
            if len(runs) > 1:  # the mean over the seeds that reached the epoch
                runs["mean"] = (our_wide.loc[epoch, reached].mean(), our_mean5.loc[epoch, reached].mean())
            for run, (value, value5) in runs.items():
                rows.append({
                    **keys, "metric": METRICS[column], "epoch": epoch, "run": run,
                    "ours": float(value), "ours_last5": float(value5), "original_runs": len(their_values),
                    "original_min": lo, "original_mean": float(their_values.mean()), "original_max": hi,
                    "low": low, "high": high, "inside": bool(low <= value <= high),
                    "original_last5_min": lo5, "original_last5_max": hi5, "low_last5": low5, "high_last5": high5,
                    "inside_last5": bool(low5 <= value5 <= high5),
                })
    return rows


def format_value(metric: str, value: float) -> str:
    """A value of METRICS as the tables print it: loss to 0.01 nats, accuracy and H(y|x) to 0.0001 (a
    widened edge such as 0.1135 needs the fourth digit)."""
    return f"{value:.2f}" if metric == "loss" else f"{value:.4f}"


def fidelity_markdown_table(table: pd.DataFrame) -> pd.DataFrame:
    """The fidelity table with formatted cells, for markdown: one row per (model, metric, epoch, run)."""
    def yes_no(inside):
        return "yes" if inside else "**no**"

    rows = []
    for _, r in table.iterrows():
        m = r["metric"]
        rows.append({
            "model": label(r["run_name"]), "metric": m, "epoch": int(r["epoch"]), "run": r["run"],
            "ours": format_value(m, r["ours"]), "ours, last 5": format_value(m, r["ours_last5"]),
            "original min / mean / max (runs)": f"{format_value(m, r['original_min'])} / {format_value(m, r['original_mean'])} / "
                                                f"{format_value(m, r['original_max'])} ({r['original_runs']})",
            "inside": yes_no(r["inside"]),
            "original last 5, min - max": f"{format_value(m, r['original_last5_min'])} - {format_value(m, r['original_last5_max'])}",
            "inside, last 5": yes_no(r["inside_last5"]),
        })
    return pd.DataFrame(rows)
