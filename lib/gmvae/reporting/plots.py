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
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.colors import to_hex, to_rgb  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from gmvae import runs  # noqa: E402

# Share of the most frequent digit in the MNIST test set: 1,135 of the 10,000 test images are ones.
# A clustering that puts every image in one cluster (or whose clusters carry no label information)
# scores this "cluster accuracy". Use majority_rate(labels) for another label set (e.g. a subset).
MNIST_TEST_MAJORITY_RATE = 1135 / 10000

# Display names of the runs (run names, see TrainConfig.run_name).
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
    "modified_m2_float32": "modified M2, float32",
    "modified_m2_original_graph": "modified M2, the original's graph (float32)",
}
# One colour per run, in every figure. The three models in the post's colours (seaborn's "deep" palette of its
# figures): M2 blue, modified M2 green, GMVAE red.
MODEL_COLORS = {"m2": "#4C72B0", "modified_m2": "#55A868", "gmvae": "#C44E52"}
# Every other run in a colour no model uses, and never grey (grey marks NaN epochs and reference lines).
VARIANT_COLORS = {
    "m2_iaf": "#DD8452",                  # orange
    "m2_eta0": "#8172B3",                 # purple
    "modified_m2_identity": "#937860",    # brown
    "modified_m2_relu_layer": "#64B5CD",  # cyan
    "modified_m2_clip": "#DA8BC3",        # pink
    "modified_m2_float32": "#CCB974",     # khaki
    "modified_m2_original_graph": "#1B7F79",  # teal
    "gmvae_k16": "#8C1C6B",               # plum
}
COLORS = {**MODEL_COLORS, **VARIANT_COLORS}
# The original's runs (RuiShu/vae-clustering's logs): its model's colour this much closer to white, dashed.
ORIGINAL_LIGHTEN = 0.45
OURS_LINE_STYLE, ORIGINAL_LINE_STYLE = "-", "--"
# A variant drawn over the run it varies, where their curves may coincide (the clipped run is the unclipped one
# when no step reaches the threshold): its mean thinner and on top, its band hatched, without replicate lines, so
# that both show (two filled bands over each other would mix into a third colour).
DRAWN_OVER = ("modified_m2_clip",)
# What the bands are. Ours, as in the post's figures (seaborn's tsplot, ci=68): the mean over replicates and a 68 %
# percentile bootstrap interval of that mean, the replicates resampled whole with a fixed seed (figures are
# deterministic). The original's: the min-max of its runs at each epoch, the range the fidelity table tests ours
# against.
BAND_LEVEL = 68
N_BOOT = 2000
BOOT_SEED = 0
OURS_BAND = f"{BAND_LEVEL} % CI"  # in the legend entries; the caption says what it is
ORIGINAL_BAND = "min-max"
ORIGINAL_SOURCE = "RuiShu/vae-clustering"
# A run that turned NaN: a dotted vertical line and an X at its NaN epoch, dark grey for ours, light grey (a thin x)
# for the original's.
NAN_COLOR = "#404040"
ORIGINAL_NAN_COLOR = "#a0a0a0"
# Colours of models of your own on the figure that compares them with the post's (gmvae.reporting.figures
# .draw_other_runs): none of COLORS' nor the NaN markers'.
OTHER_COLORS = ("#000000", "#6a3d9a", "#b15928", "#01665e", "#8e0152")

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

_STYLE = {
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "figure.titlesize": 15,
}

# How each drawn element looks (matplotlib keyword arguments), in one place: the functions below decide what is drawn
# and in which colour, these only the widths, transparencies, sizes and offsets. Layers from the bottom: the original's
# band, mean and NaN marks, then our bands, replicates, means and NaN marks; a run in DRAWN_OVER one layer higher.
DRAWN_OVER_RAISE = 1.0
REPLICATE_LOOK = dict(lw=0.8, alpha=0.45, ls=OURS_LINE_STYLE, zorder=2)
BAND_LOOK = dict(alpha=0.3, lw=0, zorder=1.5)
BAND_DRAWN_OVER_LOOK = dict(facecolor="none", hatch="////", lw=0, zorder=1.5)  # hatched: both bands show
MEAN_LOOK = dict(ls=OURS_LINE_STYLE, zorder=3)
# our mean's line width: {several runs: {drawn over another run: width}}
MEAN_WIDTH = {True: {False: 2.6, True: 1.3}, False: {False: 1.8, True: 1.0}}
ORIGINAL_BAND_LOOK = dict(alpha=0.35, lw=0, zorder=0)
ORIGINAL_MEAN_LOOK = dict(lw=1.8, ls=ORIGINAL_LINE_STYLE, zorder=0.5)
NAN_LINE_LOOK = dict(color=NAN_COLOR, ls=":", lw=1.4, zorder=4)
NAN_MARKER_LOOK = dict(marker="X", ms=10, mew=1.0, color=NAN_COLOR, ls="none", clip_on=False, zorder=5)
ORIGINAL_NAN_LINE_LOOK = dict(color=ORIGINAL_NAN_COLOR, ls=":", lw=1.2, zorder=0.5)
ORIGINAL_NAN_MARKER_LOOK = dict(marker="x", ms=8, mew=2.0, color=ORIGINAL_NAN_COLOR, ls="none", clip_on=False, zorder=0.5)
REFERENCE_LOOK = dict(color="0.3", ls="--", lw=1.3)
# a reference line's note, in points from its anchor
REFERENCE_NOTE_LOOK = dict(textcoords="offset points", fontsize=11, color="0.25")
NOTE_ABOVE, NOTE_BELOW = dict(xytext=(0, 4), va="bottom"), dict(xytext=(0, -4), va="top", ha="right")
NOTE_RIGHT = dict(xytext=(4, 0), va="center")  # past the line's right end
GRID_LOOK = dict(alpha=0.3)
PANEL_TITLE_PAD = 10
X_MARGIN = 1.02  # the x axis runs 2 % past the horizon, so that the last epoch's marks show
ENTROPY_Y_HEADROOM = 1.15  # the entropy panel reaches 15 % above ln K, where its note goes
ENTROPY_Y_BOTTOM = -0.05
ACCURACY_Y_TOP = 1.02
LEGEND_COLUMNS_WIDE, LEGEND_COLUMNS_NARROW, LEGEND_WIDE_ENTRY = 3, 2, 52  # entries longer than 52 characters: 2 columns
LEGEND_CAPTION_FONTSIZE = 10.5
# the loss panel's inset: where (axes fraction: x, y, width, height), its curves' width, its y margin and text sizes
INSET_BOUNDS = (0.40, 0.40, 0.57, 0.47)
INSET_LINE_SCALE = 0.8
INSET_MIN_SPAN, INSET_Y_MARGIN = 0.1, 0.08
INSET_TITLE_LOOK = dict(fontsize=10, pad=3)
INSET_TICK_SIZE, INSET_X_TICKS = 9, 4
INSET_FRAME_COLOR = "0.35"
# rows of panels beyond the first take 90 % of a row's height
EXTRA_ROW_HEIGHT = 0.9
# the accuracy-per-replicate figure: inches per group and around them, the dots, their spread and the count's offset
GROUP_WIDTH, GROUPS_MARGIN, DOTS_HEIGHT = 2.3, 2.5, 4.8
DOT_LOOK = dict(marker="o", ms=9, mec="white", mew=0.8, ls="none")
DOT_SPREAD = 0.12  # sideways, so that equal values stay visible
COUNT_NOTE_LOOK = dict(xytext=(0, -16), textcoords="offset points", ha="center", fontsize=11, color="0.2")
GROUPS_X_MARGIN = 0.6  # around the outer columns, in columns
DOTS_Y_MARGIN, THRESHOLD_Y_MARGIN = 0.05, 0.1  # below the lowest dot and below the threshold
# the sample grid: gutters (pixels, grey), inches per image, at most 15 inches wide
GUTTER, GUTTER_GREY = 2, 0.45
IMAGE_INCHES, GRID_MAX_WIDTH, GRID_WIDTH_MARGIN, GRID_HEIGHT_MARGIN = 0.62, 15.0, 1.0, 0.9
# the confusion matrix: inches per digit column and cluster row, plus margins; the counts' font size
CELL_WIDTH, CELL_HEIGHT, CONFUSION_WIDTH_MARGIN, CONFUSION_HEIGHT_MARGIN, COUNT_FONTSIZE = 0.75, 0.55, 3.0, 1.8, 10


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


def color(run_name: str, index: int = 0) -> str:
    """The run's colour (COLORS); a run name without one takes a variant colour by ``index``."""
    fallback = tuple(VARIANT_COLORS.values())
    return COLORS.get(run_name, fallback[index % len(fallback)])


def lighter(col, amount: float = ORIGINAL_LIGHTEN) -> str:
    """``col`` moved ``amount`` of the way to white."""
    return to_hex(tuple(c + (1.0 - c) * amount for c in to_rgb(col)))


def original_color(run_name: str, index: int = 0) -> str:
    """The colour of the original's runs of a model: the model's, lighter."""
    return lighter(color(run_name, index))


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
            log = runs.read_log(d).copy()
            record = runs.read_record(d) or {}
            config = record.get("config") or {}
            machine = (record.get("provenance") or {}).get("machine")
            processor = machine.get("processor") if isinstance(machine, dict) else None  # older records: a string
            nan_epoch = (record.get("status") or {}).get("nan_epoch")
            if max_epoch is not None:
                log = log[log["epoch"] <= max_epoch]
                if nan_epoch is not None and nan_epoch > max_epoch:
                    nan_epoch = None
            if log.empty:
                if nan_epoch is None:  # its NaN came after max_epoch: nothing to draw
                    continue
                # stopped at NaN before logging any epoch: one row, so that the NaN mark shows
                log = pd.DataFrame([{**{c: np.nan for c in runs.LOG_COLUMNS}, "epoch": 0}])
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
            frames.append(log)
    columns = list(runs.LOG_COLUMNS) + ["run_name", "seed", "source", "nan_epoch", "k", "iters_per_epoch", "batch_size",
                                        "clip_norm", "precision", "processor"]
    if not frames:
        text = ("run_name", "source", "precision", "processor")
        return pd.DataFrame({c: pd.Series(dtype="object" if c in text else "float64") for c in columns})
    return pd.concat(frames, ignore_index=True)  # in the order of columns: runs.read_log gives LOG_COLUMNS


def final_values(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per (run_name, seed): the last epoch at which ``column`` is finite, and its value."""
    rows = []
    for (run_name, seed), g in df.groupby(["run_name", "seed"]):
        g = g[np.isfinite(g[column].astype(float))].sort_values("epoch")
        if g.empty:
            continue
        rows.append({"run_name": run_name, "seed": int(seed), "epoch": int(g["epoch"].iloc[-1]), column: float(g[column].iloc[-1])})
    return pd.DataFrame(rows, columns=["run_name", "seed", "epoch", column])


# ------------------------------------------------------------------------------------------- curves


def _wide(g: pd.DataFrame, column: str) -> pd.DataFrame:
    """One column per replicate (seed), one row per epoch: NaN where a replicate has no finite value."""
    wide = g.pivot(index="epoch", columns="seed", values=column)  # an epoch logged twice is an error
    return wide.where(np.isfinite(wide))


def bootstrap_interval(values, level: float = BAND_LEVEL, n_boot: int = N_BOOT, seed: int = BOOT_SEED):
    """Per row of ``values`` [epochs, replicates] (NaN: no value there), the ``level`` % percentile bootstrap
    interval of the mean of the row's finite values: the band of the post's figures (seaborn's tsplot, ci=68).

    The replicates are resampled with replacement ``n_boot`` times; each resample's mean is taken, and the
    (100 - level) / 2 and (100 + level) / 2 percentiles of those means are the interval. Rows with the same
    finite replicates share the resamples (a replicate's curve is resampled whole, as tsplot did), drawn from a
    generator seeded with ``seed``: the interval is the same in every drawing. A row with one value has that value
    as interval, a row without any NaN. Returns (lo, hi), one value per row.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"bootstrap_interval expects [epochs, replicates], got shape {values.shape}")
    lo, hi = np.full(len(values), np.nan), np.full(len(values), np.nan)
    patterns, which = np.unique(np.isfinite(values), axis=0, return_inverse=True)
    which = np.asarray(which).reshape(-1)  # numpy 2.0.0 returned it 2-D
    for p, pattern in enumerate(patterns):
        rows, columns = np.flatnonzero(which == p), np.flatnonzero(pattern)
        if len(columns) == 0:
            continue
        v = values[np.ix_(rows, columns)]
        if len(columns) == 1:
            lo[rows] = hi[rows] = v[:, 0]
            continue
        m = len(columns)
        draws = np.random.default_rng(seed).integers(0, m, size=(n_boot, m))
        weights = np.zeros((n_boot, m))
        np.add.at(weights, (np.arange(n_boot)[:, None], draws), 1.0 / m)  # each resample's mean as weights
        lo[rows], hi[rows] = np.percentile(v @ weights.T, [(100 - level) / 2, (100 + level) / 2], axis=1)
    return lo, hi


def _count(counts: pd.Series) -> str:
    """'3' or, where logs end early, '3-4': the replicates drawn at an epoch."""
    counts = counts[counts > 0]
    return f"{counts.min()}" if counts.min() == counts.max() else f"{counts.min()}-{counts.max()}"


def _mark_nan(ax, epochs, *, original: bool = False) -> None:
    """A dotted vertical line and a cross at the top of the panel at each NaN epoch: ours a dark grey X, the
    original's a light grey x."""
    line, marker, prefix = ((ORIGINAL_NAN_LINE_LOOK, ORIGINAL_NAN_MARKER_LOOK, "original_") if original
                            else (NAN_LINE_LOOK, NAN_MARKER_LOOK, ""))
    for epoch in epochs:
        ax.axvline(epoch, gid=f"{prefix}nan_epoch", **line)
        ax.plot([epoch], [1.0], transform=ax.get_xaxis_transform(), gid=f"{prefix}nan_marker", **marker)


def _nan_epochs(g: pd.DataFrame) -> list:
    return sorted(g.groupby("seed")["nan_epoch"].first().dropna())


def _draw_ours(axes, g: pd.DataFrame, run_name: str, col, name: str, panels, show_replicates: bool):
    """Our replicates of one run name, solid: the mean over replicates (thick) with its 68 % bootstrap interval as
    band and, if ``show_replicates``, each replicate (thin); a single run as one line. Returns the legend entry
    (handle, label)."""
    seeds = sorted(g["seed"].unique())
    several = len(seeds) > 1
    over = run_name in DRAWN_OVER  # thinner and on top of the run it varies
    z = DRAWN_OVER_RAISE if over else 0.0
    entry_label = f"{name} (ours): {len(seeds)} runs, mean and {OURS_BAND}" if several else f"{name} (ours): 1 run"
    entry = None
    for ax, (column, _, _) in zip(axes, panels):
        wide = _wide(g, column)
        x = wide.index.to_numpy()
        band = None
        if several:
            if show_replicates and not over:
                for seed in seeds:
                    ax.plot(x, wide[seed], color=col, gid="replicate", label=f"_{name} (ours): seed {seed}",
                            **REPLICATE_LOOK)
            lo, hi = bootstrap_interval(wide.to_numpy())
            look, fill = (BAND_DRAWN_OVER_LOOK, dict(edgecolor=col)) if over else (BAND_LOOK, dict(color=col))
            band = ax.fill_between(x, lo, hi, gid="band", **fill, **{**look, "zorder": look["zorder"] + z},
                                   label=f"{name} (ours): {BAND_LEVEL} % bootstrap CI of the mean of {len(seeds)} runs")
        line, = ax.plot(x, wide.mean(axis=1), color=col, lw=MEAN_WIDTH[several][over], gid="mean", label=entry_label,
                        **{**MEAN_LOOK, "zorder": MEAN_LOOK["zorder"] + z})
        _mark_nan(ax, _nan_epochs(g))
        if entry is None:
            entry = ((band, line) if band is not None else line, entry_label)
    return entry


def _draw_original(axes, original: pd.DataFrame, col, name: str, panels):
    """The original's replicates of one model, under ours, dashed in the model's lighter colour: their mean and
    their min-max band; its runs that turned NaN marked in light grey. Returns the legend entry (handle, label)."""
    entry = None
    for ax, (column, _, _) in zip(axes, panels):
        if column not in original:  # the original logged no I(x; y)
            continue
        wide = _wide(original, column)
        x, counts = wide.index.to_numpy(), wide.count(axis=1)
        several = counts.max() > 1
        n = _count(counts)
        entry_label = f"{name} (original): {n} runs, mean and {ORIGINAL_BAND}" if several else f"{name} (original): 1 run"
        band = None
        if several:
            band = ax.fill_between(x, wide.min(axis=1), wide.max(axis=1), color=col, gid="original_band",
                                   label=f"{name} (original): min-max of {n} runs", **ORIGINAL_BAND_LOOK)
        line, = ax.plot(x, wide.mean(axis=1), color=col, gid="original_mean", label=entry_label, **ORIGINAL_MEAN_LOOK)
        _mark_nan(ax, _nan_epochs(original), original=True)
        if entry is None:
            entry = ((band, line) if band is not None else line, entry_label)
    return entry


def _draw_runs(axes, df, run_names, original, horizon, panels, show_replicates, colors: dict | None = None):
    """Ours and the original's of each run name; returns (legend entries, caption of the figure)."""
    entries, drawn_original = [], []
    for i, run_name in enumerate(run_names):
        g = df[df["run_name"] == run_name]  # every run name given has rows
        entries.append(_draw_ours(axes, g, run_name, (colors or {}).get(run_name) or color(run_name, i),
                                  label(run_name), panels, show_replicates))
        theirs = _original_of(original, run_name, horizon)
        if len(theirs):
            entries.append(_draw_original(axes, theirs, original_color(run_name, i), label(run_name), panels))
            drawn_original.append(theirs)
    ours_several = (df[df["run_name"].isin(run_names)].groupby("run_name")["seed"].nunique() > 1).any()
    caption = _caption(ours_band=ours_several, replicates=show_replicates and ours_several,
                       original=bool(drawn_original), original_band=any(t["seed"].nunique() > 1 for t in drawn_original),
                       nan_ours=df["nan_epoch"].notna().any(),
                       nan_original=any(t["nan_epoch"].notna().any() for t in drawn_original))
    return entries, caption


def _caption(*, ours_band: bool, replicates: bool, original: bool, original_band: bool, nan_ours: bool,
             nan_original: bool) -> str:
    """What the lines, bands and marks are, above the legend's entries: one line per sentence."""
    sentences = ["Solid: ours" + ("; thin: each of our runs." if replicates else ".")
                 + (f" Dashed, lighter: the original's runs ({ORIGINAL_SOURCE}'s logs)." if original else "")]
    bands = []
    if ours_band:
        bands.append(f"ours, the {BAND_LEVEL} % bootstrap confidence interval (CI) of the mean, as in the post's figures")
    if original_band:
        bands.append("the original's, the min-max of its runs")
    if bands:
        sentences.append(f"Bands: {'; '.join(bands)}.")
    marks = []
    if nan_ours:
        marks.append("dark grey X: a run of ours turned NaN at that epoch")
    if nan_original:
        marks.append("light grey x: a run of the original's turned NaN")
    if marks:
        sentences.append(f"Dotted line and {'; '.join(marks)}.")
    return "\n".join(sentences)


def _epoch_label(df) -> str:
    iters = df["iters_per_epoch"].dropna().unique() if "iters_per_epoch" in df else []
    batch = df["batch_size"].dropna().unique() if "batch_size" in df else []
    if len(iters) == 1 and len(batch) == 1:
        return f"epoch ({int(iters[0])} iterations of batch {int(batch[0])})"
    return "epoch"


# Reference lines at ln K (one per K of the runs drawn) on the panels of these columns: (gid, annotation).
_LN_K_LINES = {"test_entropy": ("ref_entropy", "q(y|x) uniform"),
               "test_mutual_information": ("ref_mutual_information", "the most y can tell about x")}


def _reference_line(ax, y, gid: str, note: str, *, x: float = 0.02, side=NOTE_ABOVE) -> None:
    """A dashed grey line across ``ax`` at ``y`` and its note beside it, at ``x`` in axes fractions."""
    ax.axhline(y, gid=gid, **REFERENCE_LOOK)
    ax.annotate(note, xy=(x, y), xycoords=("axes fraction", "data"), **side, **REFERENCE_NOTE_LOOK)


def _finish_axes(fig, axes, df, majority, horizon, panels, entries, caption):
    k_values = sorted(df["k"].dropna().astype(int).unique()) or [10]  # logs without K: the post's 10
    xlabel = _epoch_label(df)
    for ax, (column, title, ylabel) in zip(axes, panels):
        if column in _LN_K_LINES:
            gid, meaning = _LN_K_LINES[column]
            for k in k_values:
                _reference_line(ax, math.log(k), gid, f"ln {k} = {math.log(k):.3f}: {meaning}")
            ax.set_ylim(bottom=ENTROPY_Y_BOTTOM, top=max(math.log(k_values[-1]) * ENTROPY_Y_HEADROOM, ax.get_ylim()[1]))
        if column == GRADIENT_NORM_PANEL[0]:
            ax.set_yscale("log")
            for threshold in sorted(df["clip_norm"].dropna().unique()):
                _reference_line(ax, threshold, "ref_clip_norm", f"clipping threshold {threshold:g}")
        if column == "test_accuracy":
            if majority is not None:
                # its note below the line, at the right: M2's curve lies on it, and little else goes under it
                _reference_line(ax, majority, "ref_majority", f"majority-class rate {majority:.4f}", x=0.98,
                                side=NOTE_BELOW)
            ax.set_ylim(0, ACCURACY_Y_TOP)
        ax.set_title(title, pad=PANEL_TITLE_PAD)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, **GRID_LOOK)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0, max(horizon, 1) * X_MARGIN)
    # One legend for the whole figure, below the panels: one entry per run name and source (its mean and band),
    # the caption above them saying what the line styles and marks are.
    if entries:
        handles, labels = zip(*entries)
        wide = max(len(text) for text in labels) > LEGEND_WIDE_ENTRY
        columns = LEGEND_COLUMNS_NARROW if wide else LEGEND_COLUMNS_WIDE  # within the figure's width
        # a (band, mean) handle is drawn as the mean over its band (matplotlib's HandlerTuple)
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), columns), frameon=False,
                   title=caption, title_fontsize=LEGEND_CAPTION_FONTSIZE)


def _zoom_last_epochs(ax, horizon: int, share: float = 0.5):
    """An inset in the upper right of ``ax`` (a loss panel) with its means and bands over the last ``share`` of the
    epochs all our runs drawn there reached (of ``horizon`` if none), the y axis fitted to them: gaps of a nat or two
    between models, flat on the full axis, show there."""
    means = [line for line in ax.lines if line.get_gid() in ("mean", "original_mean")]
    bands = [band for band in ax.collections if band.get_gid() in ("band", "original_band")]
    ours = [line.get_xydata() for line in means if line.get_gid() == "mean"]
    end = min([int(xy[np.isfinite(xy[:, 1]), 0].max()) for xy in ours if np.isfinite(xy[:, 1]).any()] + [horizon])
    start = max(1, int(round(end * (1 - share))))
    inset = ax.inset_axes(list(INSET_BOUNDS))
    for line in means:
        inset.plot(*line.get_xydata().T, color=line.get_color(), ls=line.get_linestyle(),
                   lw=line.get_linewidth() * INSET_LINE_SCALE, zorder=line.get_zorder(), gid=line.get_gid(),
                   label=line.get_label())
    for band in bands:
        inset.add_collection(PolyCollection([path.vertices for path in band.get_paths()], facecolors=band.get_facecolor(),
                                            edgecolors=band.get_edgecolor(), hatch=band.get_hatch(), linewidths=0,
                                            zorder=band.get_zorder(), gid=band.get_gid(), label=band.get_label()))
    # every point of a mean or a band's outline (a run's curve is always drawn, so there is one)
    points = np.concatenate([line.get_xydata() for line in means] + [path.vertices for band in bands
                                                                      for path in band.get_paths()])
    values = points[(points[:, 0] >= start) & (points[:, 0] <= end) & np.isfinite(points[:, 1]), 1]
    if values.size:
        low, high = values.min(), values.max()
        pad = max(high - low, INSET_MIN_SPAN) * INSET_Y_MARGIN
        inset.set_ylim(low - pad, high + pad)
    inset.set_xlim(start, end)
    inset.set_title(f"epochs {start}-{end}, zoomed", **INSET_TITLE_LOOK)
    inset.tick_params(labelsize=INSET_TICK_SIZE)
    inset.grid(True, **GRID_LOOK)
    inset.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=INSET_X_TICKS))
    ax.indicate_inset_zoom(inset, edgecolor=INSET_FRAME_COLOR)
    return inset


def _original_of(original: pd.DataFrame | None, run_name: str, max_epoch: int) -> pd.DataFrame:
    if original is None or original.empty:
        return pd.DataFrame()
    return _cut(original[original["run_name"] == run_name], max_epoch)


def _horizon(df: pd.DataFrame, max_epoch: int | None) -> int:
    """The last epoch drawn: ``max_epoch`` if given, else our last epoch."""
    if max_epoch is not None:
        return int(max_epoch)
    return int(df["epoch"].max())


def _cut(df: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Epochs up to ``horizon``; a NaN epoch after it is not drawn either."""
    df = df[df["epoch"] <= horizon].copy()
    df.loc[df["nan_epoch"] > horizon, "nan_epoch"] = np.nan
    return df


def plot_curves(df: pd.DataFrame, title: str | None = None, *, original: pd.DataFrame | None = None,
                max_epoch: int | None = None, majority: float | None = MNIST_TEST_MAJORITY_RATE):
    """The post's figure for one model: test H(y|x), test loss and test cluster accuracy against epoch.

    Ours solid in the model's colour (COLORS): as the post drew its runs, the mean over replicates (thick) with a
    68 % bootstrap interval of that mean as band (:func:`bootstrap_interval`), and one thin line per replicate
    (seed); a single run is one line. ``original``: gmvae.reporting.original.load_original_logs output; the
    original's replicates of the same model are drawn under ours, dashed in the model's lighter colour, their mean
    and their min-max band (the range the fidelity table tests ours against). ``max_epoch``: the horizon (default:
    our last epoch; the post's figures show 200). Reference lines: ln K on the entropy panel (q(y|x) uniform; one per
    K drawn), the majority-class rate on the accuracy panel (``majority``: default the MNIST test set's,
    :data:`MNIST_TEST_MAJORITY_RATE`; None to omit). A run that turned NaN gets a dotted vertical line and a dark
    grey X at its NaN epoch (the original's: a light grey x). The legend names each band; its caption the line
    styles and marks. ``df`` is :func:`load_runs` output; if it holds several run names, each is drawn in its colour.
    """
    if df.empty:
        raise ValueError("plot_curves: no logs to draw (empty DataFrame)")
    horizon = _horizon(df, max_epoch)
    df = _cut(df, horizon)
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(1, 3, figsize=FIGSIZE_WIDE, layout="constrained")
        run_names = list(dict.fromkeys(df["run_name"]))
        entries, caption = _draw_runs(axes, df, run_names, original, horizon, PANELS, show_replicates=True)
        _finish_axes(fig, axes, df, majority, horizon, PANELS, entries, caption)
        if title is None:
            n = df.groupby("run_name")["seed"].nunique()
            what = ", ".join(f"{label(r)} ({n[r]} replicate{'s' if n[r] > 1 else ''})" for r in run_names)
            drawn_original = any(len(_original_of(original, r, horizon)) for r in run_names)
            title = f"{what}: test-set curves to epoch {horizon}" + (", over the original's" if drawn_original else "")
        fig.suptitle(title)
    return fig


def plot_overlay(df: pd.DataFrame, title: str | None = None, *, run_names=None, original: pd.DataFrame | None = None,
                 max_epoch: int | None = None, majority: float | None = MNIST_TEST_MAJORITY_RATE,
                 show_replicates=True, panels=PANELS, zoom_loss: bool = False,
                 colors: dict | None = None):
    """Several models on the same panels (default the post's three), one colour each (COLORS), with a legend (the
    post's overlay).

    Drawn as in :func:`plot_curves`: per model, ours solid (mean and 68 % bootstrap band of the mean; each
    replicate thin if ``show_replicates``), the original's dashed in the lighter colour (mean and min-max band). One
    legend entry per model and source (at most two per model); the caption above them says what thin lines and NaN
    marks are. ``panels``: (log column, title, y label) per panel, e.g. PANELS plus MUTUAL_INFORMATION_PANEL.
    ``zoom_loss``: an inset on the loss panel with the last half of the epochs all our runs reached, its y axis fitted
    to the curves there, where the loss gaps of a nat or two between the models show. ``colors``: {run name:
    colour} over COLORS' (models of your own).
    """
    if df.empty:
        raise ValueError("plot_overlay: no logs to draw (empty DataFrame)")
    run_names = list(run_names) if run_names is not None else list(dict.fromkeys(df["run_name"]))
    horizon = _horizon(df, max_epoch)
    df = _cut(df, horizon)
    with plt.rc_context(_STYLE):
        rows = 1 if len(panels) <= 3 else math.ceil(len(panels) / 2)  # more than three panels: two per row
        columns = len(panels) if rows == 1 else 2
        height = FIGSIZE_WIDE[1] * rows * EXTRA_ROW_HEIGHT if rows > 1 else FIGSIZE_WIDE[1]
        fig, axes = plt.subplots(rows, columns, figsize=(FIGSIZE_WIDE[0], height), layout="constrained", squeeze=False)
        axes = list(axes.ravel())
        for spare in axes[len(panels):]:  # an odd number of panels in two columns: no empty cell after the last
            spare.remove()
        drawn = [r for r in run_names if (df["run_name"] == r).any()]
        entries, caption = _draw_runs(axes, df, drawn, original, horizon, panels, show_replicates,
                                      colors)
        _finish_axes(fig, axes, df, majority, horizon, panels, entries, caption)
        if zoom_loss:
            for ax, (column, _, _) in zip(axes, panels):
                if column == "test_loss":
                    _zoom_last_epochs(ax, horizon)
        if title is None:
            drawn_original = any(len(_original_of(original, r, horizon)) for r in drawn)
            title = (f"{' vs '.join(label(r) for r in drawn)}: test-set curves to "
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
        fig, ax = plt.subplots(figsize=(GROUP_WIDTH * len(groups) + GROUPS_MARGIN, DOTS_HEIGHT), layout="constrained")
        for i, (name, (values, col)) in enumerate(groups.items()):
            values = np.sort(np.asarray(values, float))
            offsets = np.linspace(-DOT_SPREAD, DOT_SPREAD, len(values)) if len(values) > 1 else np.zeros(1)
            ax.plot(i + offsets, values, color=col, gid="replicate", **DOT_LOOK)
            above = int((values > threshold).sum())
            ax.annotate(f"{above} of {len(values)} above", xy=(i, 1.0), xycoords=("data", "axes fraction"),
                        **COUNT_NOTE_LOOK)
        _reference_line(ax, threshold, "ref_high_accuracy", f"{threshold:.0%}", x=1.0, side=NOTE_RIGHT)
        ax.set_xticks(range(len(groups)), list(groups))
        ax.set_xlim(-GROUPS_X_MARGIN, len(groups) - 1 + GROUPS_X_MARGIN)
        low = min(float(np.min(v)) for v, _ in groups.values())
        ax.set_ylim(min(low - DOTS_Y_MARGIN, threshold - THRESHOLD_Y_MARGIN), 1.0)
        ax.set_ylabel("test cluster accuracy")
        ax.grid(True, axis="y", **GRID_LOOK)
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
    pad = GUTTER
    canvas = np.full((k * (h + pad) - pad, n * (w + pad) - pad), GUTTER_GREY)
    for i in range(k):
        for j in range(n):
            canvas[i * (h + pad): i * (h + pad) + h, j * (w + pad): j * (w + pad) + w] = samples[i, j]
    if row_labels is None:
        row_labels = [f"y = {i}" for i in range(k)]
    with plt.rc_context(_STYLE):
        figsize = (min(GRID_WIDTH_MARGIN + IMAGE_INCHES * n, GRID_MAX_WIDTH), IMAGE_INCHES * k + GRID_HEIGHT_MARGIN)
        fig, ax = plt.subplots(figsize=figsize, layout="constrained")
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
        fig, ax = plt.subplots(figsize=(CELL_WIDTH * n_labels + CONFUSION_WIDTH_MARGIN,
                                        CELL_HEIGHT * k + CONFUSION_HEIGHT_MARGIN), layout="constrained")
        sns.heatmap(matrix[order], annot=True, fmt=".0f",  # whole counts, whether int or float
                    cmap="Blues", cbar_kws={"label": "test images"}, ax=ax, yticklabels=rows,
                    xticklabels=list(range(n_labels)), annot_kws={"fontsize": COUNT_FONTSIZE})
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
    from IPython import get_ipython  # installed with ipykernel, which runs the notebooks
    from IPython.display import display

    if get_ipython() is not None:
        display(fig)
    plt.close(fig)
