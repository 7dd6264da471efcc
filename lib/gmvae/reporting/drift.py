"""The drift towards a NaN: per epoch, the smallest variance of q(z|x,y), the smallest decoder variance v(y) and the
smallest log q(y|x) over the test images (log columns q_z_var_min, decoder_var_min, log_q_y_min), for the runs of
the `nan` profile, our modified M2 in float32 beside the original's graph, against the values float32 cannot hold.

Float32's smallest normal number is 1.2e-38 (log: -87.3); TensorFlow's CPU kernels flush smaller (subnormal)
results to 0, so a variance below it is 0 there, and a log q(y|x) below -87.3 a probability of 0 (on hardware that
keeps subnormals, down to 1.4e-45, log -103.3): where the original's loss can meet 0 * inf (= NaN) and 1/0. The
variances are logged in float64 from their softplus inputs (gmvae.evaluate), so the figure shows how far below a run
goes, not only that it went.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gmvae.reporting import plots
from gmvae.reporting.claims import NAN_TESTABLE_EPOCHS

DRIFT_RUNS = ("modified_m2_float32", "modified_m2_original_graph")
FLOAT32_TINY = float(np.finfo(np.float32).tiny)              # smallest normal, 1.2e-38
FLOAT32_SMALLEST = float(np.finfo(np.float32).smallest_subnormal)  # 1.4e-45: below it, 0
# column -> (panel title, drawn on a log scale, float32's limits in that column's units)
PANELS = {
    "q_z_var_min": ("smallest variance of q(z|x,y)", True, (FLOAT32_TINY, FLOAT32_SMALLEST)),
    "decoder_var_min": ("smallest decoder variance v(y)", True, (FLOAT32_TINY, FLOAT32_SMALLEST)),
    "log_q_y_min": ("smallest log q(y|x)", False, (np.log(FLOAT32_TINY), np.log(FLOAT32_SMALLEST))),
}


def plot_drift(df: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """One panel per PANELS column, one line per run (a model's hue, one line style per seed), a cross where a run
    turned NaN, and float32's smallest normal (dashed) and smallest subnormal (dotted) values.

    ``df``: gmvae.reporting.plots.load_runs output of DRIFT_RUNS (or any runs with the columns)."""
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 4), constrained_layout=True)
    for ax, (column, (name, log_scale, (normal, smallest))) in zip(axes, PANELS.items()):
        if log_scale:
            ax.set_yscale("log")
        for i, (run_name, runs_of_model) in enumerate(df.groupby("run_name", sort=False)):
            for j, (seed, run) in enumerate(runs_of_model.groupby("seed")):
                run = run.sort_values("epoch")
                label = f"{plots.label(run_name)} seed {seed}"
                ax.plot(run["epoch"], run[column], color=plots.color(run_name, i), linestyle=("-", "--", ":")[j % 3],
                        label=label)
                nan_epoch = run["nan_epoch"].iloc[0]
                if np.isfinite(nan_epoch):
                    last = run[run["epoch"] < nan_epoch][column].dropna()
                    if len(last):
                        ax.plot(nan_epoch, last.iloc[-1], "x", color="grey", markersize=9)
        ax.axhline(normal, color="black", linestyle="--", linewidth=1,
                   label="float32's smallest normal (below: 0 in TensorFlow on a CPU)")
        ax.axhline(smallest, color="black", linestyle=":", linewidth=1, label="float32's smallest subnormal")
        # autoscaling may leave the limits out of view: they are the point of the panel, however far the runs stay
        low, high = ax.get_ylim()
        ax.set_ylim(min(low, smallest / 10 if log_scale else smallest - 10), high)
        ax.set(title=name, xlabel="epoch")
    axes[0].legend(fontsize=7, loc="center")  # between the runs and the limits
    fig.suptitle(title or "The drift towards a NaN: the smallest values of the modified M2 (x: NaN)")
    return fig


def closest_approach(df: pd.DataFrame) -> pd.DataFrame:
    """Per run name of ``df`` (plot_drift's input): its runs, the last epoch any of them logged a value, the epochs at
    which runs turned NaN, each PANELS column's smallest value over every run and epoch, and how far the smaller of
    the two smallest variances stays above float32's smallest normal number, in orders of magnitude."""
    rows = []
    for run_name, g in df.groupby("run_name", sort=False):
        logged = g.dropna(subset=list(PANELS), how="all")
        row = {"run_name": run_name, "runs": g["seed"].nunique(), "last_epoch": int(logged["epoch"].max()),
               "nan_epochs": sorted(int(e) for e in g.groupby("seed")["nan_epoch"].first().dropna()),
               **{column: float(g[column].min()) for column in PANELS}}
        row["orders_above_normal"] = math.log10(min(row["q_z_var_min"], row["decoder_var_min"]) / FLOAT32_TINY)
        rows.append(row)
    return pd.DataFrame(rows).set_index("run_name")


def what_is_left(closest: pd.DataFrame) -> str:
    """Where every DRIFT_RUNS name of ``closest`` (closest_approach output) ran NAN_TESTABLE_EPOCHS epochs without NaN:
    the sentence that names the differences from the original these runs leave; else ""."""
    if set(closest.index) != set(DRIFT_RUNS) or any(
            r.nan_epochs or r.last_epoch < NAN_TESTABLE_EPOCHS for _, r in closest.iterrows()):
        return ""
    return ("So float32 alone does not bring the NaN, in our implementation or in the original's graph written again; "
            "what is left between these runs and the original's is what they do not reproduce: TensorFlow 0.12's "
            "kernels, most likely on a GPU, whose sums and products round in another order; the original's stateful "
            f"random draws and its `next_batch`; and chance, with {closest['runs'].min()} or more runs of each "
            "implementation.")

