"""Figures drawn from run logs: the post's three-panel curves, the overlay, sample grids, confusion matrices.

Only pandas, numpy, matplotlib and seaborn here (logs are read through :mod:`gmvae.runs`): this module
never imports TensorFlow, the models or the training loop, so figures can be redrawn from the CSV logs
alone. Every plotting function returns a :class:`matplotlib.figure.Figure`; :func:`save_figure` writes it.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import matplotlib

# Headless (no display, no notebook kernel, no explicit MPLBACKEND): draw with the non-interactive Agg
# backend. Inside a notebook ipykernel has already chosen the inline backend, which we leave alone.
if (
    "MPLBACKEND" not in os.environ
    and "matplotlib.pyplot" not in sys.modules
    and "ipykernel" not in sys.modules
    and sys.platform.startswith("linux")
    and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
):
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from gmvae import runs  # noqa: E402

# Share of the most frequent digit in the MNIST test set: 1,135 of the 10,000 test images are ones.
# A clustering that puts every image in one cluster (or whose clusters carry no label information)
# scores this "cluster accuracy". Use majority_rate(labels) for another label set (e.g. a subset).
MNIST_TEST_MAJORITY_RATE = 1135 / 10000

# Display names and colours of the model variants (run names, see TrainConfig.run_name).
LABELS = {
    "m2": "M2",
    "modified_m2": "modified M2",
    "modified_m2_identity": "modified M2 (identity first layer)",
    "modified_m2_relu_layer": "modified M2 (512 ReLU layer first)",
    "gmvae": "GMVAE",
    "gmvae_k16": "GMVAE (K = 16)",
    "m2_iaf": "M2, IAF posterior",
    "m2_eta0": "M2, eta = 0",
    "modified_m2_clip": "modified M2, gradients clipped",
}
COLORS = {
    "m2": "#1f77b4",
    "modified_m2": "#ff7f0e",
    "modified_m2_identity": "#9467bd",
    "modified_m2_relu_layer": "#8c564b",
    "gmvae": "#2ca02c",
    "gmvae_k16": "#17becf",
    "m2_iaf": "#e377c2",
    "m2_eta0": "#7f7f7f",
    "modified_m2_clip": "#bcbd22",
}
# Colours of models of your own on the figure that compares them with the post's (gmvae.reporting.figures
# .draw_other_runs): none of COLORS' nor the NaN marker's.
OTHER_COLORS = ("#000000", "#6a3d9a", "#b15928", "#01665e", "#8e0152")
# A variant drawn over the run it varies, where their curves may coincide: dash-dot, so that both show.
LINE_STYLES = {"modified_m2_clip": "-."}
ORIGINAL_COLOR = "0.45"  # the original's band on a one-model figure; on overlays, a faint tint of the model's colour

# The post's three panels: (log column, panel title, y-axis label).
PANELS = (
    ("test_entropy", "Conditional entropy H(y|x), test set", "H(y|x) [nats]"),
    ("test_loss", "Variational loss (negative ELBO), test set", "loss [nats]"),
    ("test_accuracy", "Cluster accuracy, test set", "accuracy [fraction of test images]"),
)
# What y tells about x (notebook 05): 0 when q(y|x) is uniform or one category takes every x.
MUTUAL_INFORMATION_PANEL = ("test_mutual_information", "Mutual information I(x; y), test set", "I(x; y) [nats]")
# The spikes the post suspects before a NaN, and the clipping threshold (log scale).
GRADIENT_NORM_PANEL = ("grad_norm_max", "Largest gradient norm of each epoch", "global gradient norm, before clipping")
HIGH_ACCURACY = 0.80  # the post: "five out of six replicates achieved accuracy performances above 80%"

FIGSIZE_WIDE = (14.0, 4.6)
SAVE_DPI = 130
NAN_COLOR = "#d62728"

_STYLE = {
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "figure.titlesize": 15,
}


def majority_rate(labels) -> float:
    """Share of the most frequent label: the accuracy of a clustering that carries no information."""
    labels = np.asarray(labels)
    if labels.size == 0:
        raise ValueError("majority_rate needs at least one label")
    return float(np.bincount(labels.astype(np.int64)).max() / labels.size)


def label(run_name: str) -> str:
    return LABELS.get(run_name, run_name)


def model_order(run_name: str) -> tuple:
    """Sort key: the post's order of the models (LABELS), then other run names alphabetically."""
    order = list(LABELS)
    return (order.index(run_name) if run_name in order else len(order), run_name)


def color(run_name: str, index: int = 0):
    return COLORS.get(run_name, sns.color_palette("tab10")[index % 10])


# ----------------------------------------------------------------------------------------------- logs


def _seed_dirs(results_dir, run_name: str):
    folder = Path(results_dir) / "runs" / run_name
    if not folder.is_dir():
        return []
    found = []
    for d in folder.iterdir():
        if d.is_dir() and d.name.startswith("seed") and d.name[4:].isdigit():
            found.append((int(d.name[4:]), d))
    return sorted(found)


def load_runs(results_dir, run_names, *, seeds=None, max_epoch=None) -> pd.DataFrame:
    """Every log of the given model variants in long form: one row per (run, seed, epoch).

    Reads ``results_dir/runs/<run_name>/seed<k>/log.csv`` and ``run.json``. Columns: ``runs.LOG_COLUMNS``
    plus ``run_name``, ``seed``, ``source`` ("ours"; gmvae.reporting.original's logs say "original"),
    ``nan_epoch`` (the epoch at which training turned NaN, from ``run.json`` status; NaN if it never did),
    from the run's config ``k`` (categories of y), ``iters_per_epoch``, ``batch_size``, ``clip_norm``
    (NaN: not clipped) and ``precision``, and from its provenance the ``processor`` it last trained on.

    ``seeds``: only these seeds (default: every seed folder found). ``max_epoch``: drop later epochs
    (to draw a shorter horizon from longer logs); a NaN epoch after it is dropped too.
    Folders without a log are skipped; no logs at all gives an empty frame with the same columns.
    """
    if isinstance(run_names, str):
        run_names = [run_names]
    frames = []
    for run_name in run_names:
        for seed, d in _seed_dirs(results_dir, run_name):
            if seeds is not None and seed not in set(seeds):
                continue
            log = runs.read_log(d)
            record = runs.read_record(d) or {}
            if log.empty and not (record.get("status") or {}).get("nan_epoch"):
                continue
            status = record.get("status") or {}
            config = record.get("config") or {}
            machine = (record.get("provenance") or {}).get("machine")
            processor = machine.get("processor") if isinstance(machine, dict) else None  # older records: a string
            nan_epoch = status.get("nan_epoch")
            log = log.copy()
            if max_epoch is not None:
                log = log[log["epoch"] <= max_epoch]
                if nan_epoch is not None and nan_epoch > max_epoch:
                    nan_epoch = None
            log["run_name"] = run_name
            log["seed"] = seed
            log["source"] = "ours"
            log["nan_epoch"] = float(nan_epoch) if nan_epoch is not None else np.nan
            log["k"] = int(config.get("k", 10))
            log["iters_per_epoch"] = config.get("iters_per_epoch", np.nan)
            log["batch_size"] = config.get("batch_size", np.nan)
            log["clip_norm"] = config.get("clip_norm") or np.nan
            log["precision"] = config.get("precision")
            log["processor"] = processor
            if log.empty:  # stopped at NaN before logging any epoch: keep one row so the marker shows
                row = {c: np.nan for c in runs.LOG_COLUMNS}
                row.update(epoch=0, run_name=run_name, seed=seed, source="ours", nan_epoch=float(nan_epoch), k=int(config.get("k", 10)),
                           iters_per_epoch=config.get("iters_per_epoch", np.nan), batch_size=config.get("batch_size", np.nan),
                           clip_norm=config.get("clip_norm") or np.nan, precision=config.get("precision"),
                           processor=processor)
                log = pd.DataFrame([row])
            frames.append(log)
    columns = list(runs.LOG_COLUMNS) + ["run_name", "seed", "source", "nan_epoch", "k", "iters_per_epoch", "batch_size",
                                        "clip_norm", "precision", "processor"]
    if not frames:
        text = ("run_name", "source", "precision", "processor")
        return pd.DataFrame({c: pd.Series(dtype="object" if c in text else "float64") for c in columns})
    df = pd.concat(frames, ignore_index=True)
    return df[columns + [c for c in df.columns if c not in columns]]


def final_values(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per (run_name, seed): the last epoch at which ``column`` is finite, and its value."""
    rows = []
    for (run_name, seed), g in df.groupby(["run_name", "seed"], sort=True):
        g = g[np.isfinite(g[column].astype(float))].sort_values("epoch")
        if g.empty:
            continue
        rows.append({"run_name": run_name, "seed": int(seed), "epoch": int(g["epoch"].iloc[-1]), column: float(g[column].iloc[-1])})
    return pd.DataFrame(rows, columns=["run_name", "seed", "epoch", column])


# ------------------------------------------------------------------------------------------- curves


def _replicate_summary(g: pd.DataFrame, column: str) -> pd.DataFrame:
    """Mean, min and max over replicates per epoch, over the replicates with a finite value there."""
    wide = g.pivot_table(index="epoch", columns="seed", values=column, aggfunc="first", dropna=False)
    wide = wide.where(np.isfinite(wide))
    return pd.DataFrame({"mean": wide.mean(axis=1), "lo": wide.min(axis=1), "hi": wide.max(axis=1), "n": wide.count(axis=1)})


def _draw_model(axes, g: pd.DataFrame, run_name: str, col, *, show_replicates=True, name=None, panels=PANELS):
    seeds = sorted(g["seed"].unique())
    several = len(seeds) > 1
    ls = LINE_STYLES.get(run_name, "-")
    for ax, (column, _, _) in zip(axes, panels):
        if show_replicates:
            for i, seed in enumerate(seeds):
                r = g[g["seed"] == seed].sort_values("epoch")
                line_label = (f"{name}: each of {len(seeds)} replicates" if i == 0 else None) if several else name
                ax.plot(r["epoch"], r[column], color=col, lw=0.9 if several else 1.8, ls=ls,
                        alpha=0.5 if several else 1.0, label=line_label, zorder=2)
        if several:
            s = _replicate_summary(g, column)
            ax.fill_between(s.index, s["lo"], s["hi"], color=col, alpha=0.15, lw=0, zorder=1,
                            label=f"{name}: min-max range")
            ax.plot(s.index, s["mean"], color=col, lw=2.6, ls=ls, label=f"{name}: mean of {len(seeds)}", zorder=3)
        # NaN marker: a dotted vertical line and an x at the top of the panel for each run that turned NaN.
        for seed in seeds:
            nan_epoch = g.loc[g["seed"] == seed, "nan_epoch"].iloc[0]
            if np.isfinite(nan_epoch):
                ax.axvline(nan_epoch, color=NAN_COLOR, ls=":", lw=1.4, zorder=4, gid="nan_epoch")
                ax.plot([nan_epoch], [1.0], marker="X", ms=10, color=NAN_COLOR, transform=ax.get_xaxis_transform(),
                        clip_on=False, zorder=5, gid="nan_marker", ls="none")


def _epoch_label(df) -> str:
    iters = df["iters_per_epoch"].dropna().unique() if "iters_per_epoch" in df else []
    batch = df["batch_size"].dropna().unique() if "batch_size" in df else []
    if len(iters) == 1 and len(batch) == 1:
        return f"epoch ({int(iters[0])} iterations of batch {int(batch[0])})"
    return "epoch"


# Reference line at ln K on the panels of these columns: (gid, annotation).
_LN_K_LINES = {"test_entropy": ("ref_entropy", "q(y|x) uniform"),
               "test_mutual_information": ("ref_mutual_information", "the most y can tell about x")}


def _finish_axes(fig, axes, df, majority, horizon, panels=PANELS):
    k_values = sorted(df["k"].dropna().astype(int).unique()) or [10]
    k = k_values[0] if len(k_values) == 1 else 10
    ln_k = math.log(k)
    xlabel = _epoch_label(df)
    for ax, (column, title, ylabel) in zip(axes, panels):
        if column in _LN_K_LINES:
            gid, meaning = _LN_K_LINES[column]
            ax.axhline(ln_k, color="0.3", ls="--", lw=1.3, gid=gid)
            ax.annotate(f"ln {k} = {ln_k:.3f}: {meaning}", xy=(0.02, ln_k), xycoords=("axes fraction", "data"),
                        xytext=(0, 4), textcoords="offset points", va="bottom", fontsize=11, color="0.25")
            ax.set_ylim(bottom=-0.05, top=max(ln_k * 1.15, ax.get_ylim()[1]))
        if column == GRADIENT_NORM_PANEL[0]:
            ax.set_yscale("log")
            for threshold in sorted(df["clip_norm"].dropna().unique()) if "clip_norm" in df else []:
                ax.axhline(threshold, color="0.3", ls="--", lw=1.3, gid="ref_clip_norm")
                ax.annotate(f"clipping threshold {threshold:g}", xy=(0.02, threshold), xycoords=("axes fraction", "data"),
                            xytext=(0, 4), textcoords="offset points", va="bottom", fontsize=11, color="0.25")
        if column == "test_accuracy":
            if majority is not None:
                ax.axhline(majority, color="0.3", ls="--", lw=1.3, gid="ref_majority")
                # below the line: M2's curve lies on it, and little else goes under it
                ax.annotate(f"majority-class rate {majority:.4f}", xy=(0.98, majority), xycoords=("axes fraction", "data"),
                            xytext=(0, -4), textcoords="offset points", va="top", ha="right", fontsize=11, color="0.25")
            ax.set_ylim(0, 1.02)
        ax.set_title(title, pad=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0, max(horizon, 1) * 1.02)
    # One legend for the whole figure, below the panels: models, replicates, NaN marker.
    if df["nan_epoch"].notna().any():
        axes[0].plot([], [], color=NAN_COLOR, ls=":", marker="X", ms=9, label="training turned NaN (epoch marked)")
    handles, labels = [], []
    for ax in axes:
        for h, l in zip(*ax.get_legend_handles_labels()):
            if l not in labels:
                handles.append(h)
                labels.append(l)
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 3), frameon=False)


def _draw_original(axes, original: pd.DataFrame, col, name: str, panels=PANELS):
    """The original's replicates of one model: min-max band and dashed mean, under our curves."""
    for ax, (column, _, _) in zip(axes, panels):
        if column not in original:  # the original logged no I(x; y)
            continue
        s = _replicate_summary(original, column)
        counts = s.loc[s["n"] > 0, "n"]
        n = f"{counts.min()}" if counts.min() == counts.max() else f"{counts.min()}-{counts.max()}"  # logs end early
        ax.fill_between(s.index, s["lo"], s["hi"], color=col, alpha=0.18, lw=0, zorder=0, gid="original_band",
                        label=f"{name}: min-max of {n} runs")
        ax.plot(s.index, s["mean"], color=col, lw=1.6, ls="--", alpha=0.9, zorder=0.5, gid="original_mean",
                label=f"{name}: mean of {n} runs")
        # its runs that turned NaN (modified M2): a dotted line and an x at the top, in the original's colour
        for i, nan_epoch in enumerate(sorted(original.groupby("seed")["nan_epoch"].first().dropna())):
            ax.axvline(nan_epoch, color=col, ls=":", lw=1.2, zorder=0.5, gid="original_nan_epoch")
            ax.plot([nan_epoch], [1.0], marker="X", ms=8, color=col, transform=ax.get_xaxis_transform(), clip_on=False,
                    ls="none", zorder=0.5, gid="original_nan_marker",
                    label=f"{name}: a run turned NaN (epoch marked)" if i == 0 else None)


def _original_of(original: pd.DataFrame | None, run_name: str, max_epoch: int) -> pd.DataFrame:
    if original is None or original.empty:
        return pd.DataFrame()
    return _cut(original[original["run_name"] == run_name], max_epoch)


def _horizon(df: pd.DataFrame, max_epoch: int | None) -> int:
    """The last epoch drawn: ``max_epoch`` if given, else our last epoch."""
    if max_epoch is not None:
        return int(max_epoch)
    return int(df["epoch"].max()) if df["epoch"].notna().any() else 0


def _cut(df: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Epochs up to ``horizon``; a NaN epoch after it is not drawn either."""
    df = df[df["epoch"] <= horizon].copy()
    df.loc[df["nan_epoch"] > horizon, "nan_epoch"] = np.nan
    return df


def _original_name(run_name: str, several: bool) -> str:
    return f"original {label(run_name)}" if several else "original (RuiShu/vae-clustering)"


def plot_curves(df: pd.DataFrame, title: str | None = None, *, original: pd.DataFrame | None = None,
                max_epoch: int | None = None, majority: float | None = MNIST_TEST_MAJORITY_RATE):
    """The post's figure for one model: test H(y|x), test loss and test cluster accuracy against epoch.

    One thin line per replicate (seed); with several replicates also their mean (thick) and min-max
    band. ``original``: gmvae.reporting.original.load_original_logs output; the original's replicates of the
    same model are drawn under ours as a grey min-max band with a dashed mean. ``max_epoch``: the horizon
    (default: our last epoch; the post's figures show 200). Reference lines: ln K on the entropy panel
    (q(y|x) uniform), the majority-class rate on the accuracy panel (``majority``: default the MNIST
    test set's, :data:`MNIST_TEST_MAJORITY_RATE`; None to omit). A run that turned NaN gets a dotted red
    vertical line and an X at its NaN epoch. ``df`` is :func:`load_runs` output; if it holds several run
    names, each is drawn in its colour.
    """
    if df.empty:
        raise ValueError("plot_curves: no logs to draw (empty DataFrame)")
    horizon = _horizon(df, max_epoch)
    df = _cut(df, horizon)
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(1, 3, figsize=FIGSIZE_WIDE, layout="constrained")
        run_names = list(dict.fromkeys(df["run_name"]))
        drawn_original = []
        for i, run_name in enumerate(run_names):
            theirs = _original_of(original, run_name, horizon)
            if len(theirs):
                col = ORIGINAL_COLOR if len(run_names) == 1 else color(run_name, i)
                _draw_original(axes, theirs, col, _original_name(run_name, len(run_names) > 1))
                drawn_original.append(theirs)
            _draw_model(axes, df[df["run_name"] == run_name], run_name, color(run_name, i), name=label(run_name))
        _finish_axes(fig, axes, df, majority, horizon)
        if title is None:
            n = df.groupby("run_name")["seed"].nunique()
            what = ", ".join(f"{label(r)} ({n[r]} replicate{'s' if n[r] > 1 else ''})" for r in run_names)
            title = f"{what}: test-set curves to epoch {horizon}" + (", over the original's" if drawn_original else "")
        fig.suptitle(title)
    return fig


def plot_overlay(df: pd.DataFrame, title: str | None = None, *, run_names=None, original: pd.DataFrame | None = None,
                 max_epoch: int | None = None, majority: float | None = MNIST_TEST_MAJORITY_RATE,
                 show_replicates=True, panels=PANELS, colors: dict | None = None):
    """Several models on the same panels (default the post's three), one colour each, with a legend (the
    post's overlay).

    Per model: its replicate mean (thick; the single run if only one) with a min-max band, and, if
    ``show_replicates``, each replicate as a faint thin line; with ``original``, the original's band and
    dashed mean in a faint tint of the same colour. NaN epochs are marked as in plot_curves. ``panels``:
    (log column, title, y label) per panel, e.g. PANELS plus MUTUAL_INFORMATION_PANEL. ``colors``: {run name:
    colour} over :func:`color`'s.
    """
    if df.empty:
        raise ValueError("plot_overlay: no logs to draw (empty DataFrame)")
    run_names = list(run_names) if run_names is not None else list(dict.fromkeys(df["run_name"]))
    horizon = _horizon(df, max_epoch)
    df = _cut(df, horizon)
    with plt.rc_context(_STYLE):
        rows = 1 if len(panels) <= 3 else math.ceil(len(panels) / 2)  # more than three panels: two per row
        columns = len(panels) if rows == 1 else 2
        fig, axes = plt.subplots(rows, columns, figsize=(FIGSIZE_WIDE[0], FIGSIZE_WIDE[1] * rows * 0.9 if rows > 1
                                                         else FIGSIZE_WIDE[1]), layout="constrained", squeeze=False)
        axes = list(axes.ravel())
        drawn_original = []
        for i, run_name in enumerate(run_names):
            g = df[df["run_name"] == run_name]
            if g.empty:
                continue
            col = (colors or {}).get(run_name) or color(run_name, i)
            theirs = _original_of(original, run_name, horizon)
            if len(theirs):
                _draw_original(axes, theirs, col, _original_name(run_name, True), panels)
                drawn_original.append(theirs)
            seeds = sorted(g["seed"].unique())
            if len(seeds) > 1:
                _draw_model(axes, g, run_name, col, show_replicates=show_replicates, name=label(run_name), panels=panels)
            else:
                _draw_model(axes, g, run_name, col, name=f"{label(run_name)}: 1 run", panels=panels)
        _finish_axes(fig, axes, df, majority, horizon, panels)
        if title is None:
            title = (f"{' vs '.join(label(r) for r in run_names if (df['run_name'] == r).any())}: test-set curves to "
                     f"epoch {horizon}" + (", over the original's" if drawn_original else ""))
        fig.suptitle(title)
    return fig


def plot_accuracy_per_replicate(groups: dict, title: str | None = None, threshold: float = HIGH_ACCURACY):
    """Each replicate's test accuracy as a dot, one column per group, against the ``threshold`` line.

    ``groups``: {column label: (values, colour)} in the order drawn, e.g. our GMVAE replicates at epoch 200
    beside the original's at 200, at 500 and at their last logged epoch. Each column is labelled with how many
    of its replicates are above the threshold.
    """
    if not groups:
        raise ValueError("plot_accuracy_per_replicate: nothing to draw")
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(2.3 * len(groups) + 2.5, 4.8), layout="constrained")
        for i, (name, (values, col)) in enumerate(groups.items()):
            values = np.sort(np.asarray(values, float))
            # spread the dots sideways so that equal values stay visible
            offsets = np.linspace(-0.12, 0.12, len(values)) if len(values) > 1 else np.zeros(1)
            ax.plot(i + offsets, values, "o", color=col, ms=9, mec="white", mew=0.8, ls="none", gid="replicate")
            above = int((values > threshold).sum())
            ax.annotate(f"{above} of {len(values)} above", xy=(i, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(0, -16), textcoords="offset points", ha="center", fontsize=11, color="0.2")
        ax.axhline(threshold, color="0.3", ls="--", lw=1.3, gid="ref_high_accuracy")
        ax.annotate(f"{threshold:.0%}", xy=(1.0, threshold), xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=11, color="0.25")
        ax.set_xticks(range(len(groups)), list(groups))
        ax.set_xlim(-0.6, len(groups) - 0.4)
        low = min(float(np.min(v)) for v, _ in groups.values())
        ax.set_ylim(min(low - 0.05, threshold - 0.1), 1.0)
        ax.set_ylabel("test cluster accuracy")
        ax.grid(True, axis="y", alpha=0.3)
        ax.set_title(title or f"Accuracy of each replicate against {threshold:.0%}")
    return fig


# ------------------------------------------------------------------------------------ model figures


def plot_sample_grid(samples, *, row_labels=None, title: str | None = None, xlabel: str | None = None):
    """Images generated from each cluster: ``samples`` [K, n, 28, 28] pixel probabilities, one row per y.

    ``row_labels``: optional text per row (default "y = k"), e.g. the digit the cluster stands for.
    """
    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 4:
        raise ValueError(f"plot_sample_grid expects [K, n, height, width], got shape {samples.shape}")
    k, n, h, w = samples.shape
    pad = 2
    canvas = np.full((k * (h + pad) - pad, n * (w + pad) - pad), 0.45)  # grey gutters between images
    for i in range(k):
        for j in range(n):
            canvas[i * (h + pad): i * (h + pad) + h, j * (w + pad): j * (w + pad) + w] = samples[i, j]
    if row_labels is None:
        row_labels = [f"y = {i}" for i in range(k)]
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(min(1.0 + 0.62 * n, 15.0), 0.3 + 0.62 * k + 0.6), layout="constrained")
        ax.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_yticks([i * (h + pad) + h / 2 for i in range(k)], list(row_labels))
        ax.set_xticks([])
        ax.set_xlabel(xlabel or f"{n} samples per row: mean of p(x|z) for z ~ p(z|y) (pixel probability, white = 1)")
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(title or "Digits generated from each value of the discrete latent y")
    return fig


def plot_confusion(matrix, *, title: str | None = None, sort_clusters: bool = True):
    """Counts of test images per (cluster, true digit): ``matrix`` [K, n_labels] from metrics.confusion.

    ``sort_clusters``: order rows by each cluster's most frequent digit, so a good clustering shows as
    a diagonal; row labels keep the original cluster index and name the digit each cluster is labelled.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2:
        raise ValueError(f"plot_confusion expects a [K, n_labels] matrix, got shape {matrix.shape}")
    k, n_labels = matrix.shape
    majority = matrix.argmax(axis=1)
    empty = matrix.sum(axis=1) == 0
    # sorted by majority digit, empty clusters last
    order = np.lexsort((np.arange(k), majority, empty)) if sort_clusters else np.arange(k)
    rows = [f"y={i} -> {majority[i]}" if matrix[i].sum() > 0 else f"y={i} (empty)" for i in order]
    total = matrix.sum()
    acc = matrix.max(axis=1).sum() / total if total else float("nan")
    with plt.rc_context(_STYLE):
        fig, ax = plt.subplots(figsize=(0.75 * n_labels + 3.0, 0.55 * k + 1.8), layout="constrained")
        sns.heatmap(matrix[order], annot=True, fmt="d" if np.issubdtype(matrix.dtype, np.integer) else ".0f",
                    cmap="Blues", cbar_kws={"label": "test images"}, ax=ax, yticklabels=rows,
                    xticklabels=list(range(n_labels)), annot_kws={"fontsize": 10})
        ax.set_xlabel("true digit")
        ax.set_ylabel("cluster (argmax q(y|x)) -> its majority digit")
        ax.tick_params(axis="y", rotation=0)
        ax.set_title(title or f"Test images by cluster and true digit (cluster accuracy {acc:.3f})")
    return fig


def save_figure(fig, path, *, dpi: int = SAVE_DPI, close: bool = False) -> Path:
    """Write ``fig`` as PNG (creating the folder); returns the path. ``close`` frees the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    if close:
        plt.close(fig)
    return path


def show(fig) -> None:
    """Display ``fig`` once in a notebook (then close it, so the inline backend does not show it again);
    outside IPython just close it. Notebooks call this explicitly rather than rely on the backend."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is installed with ipykernel
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display(fig)
    plt.close(fig)
