"""Every figure of the reproduction, drawn from the logs (and, for two GMVAE figures, data saved from a
checkpoint), and the redraw of all of them without training.

Importing this module does not import TensorFlow; only :func:`save_model_figure_data` needs a checkpoint.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from gmvae import runs
from gmvae.reporting import graphical_models, plots
from gmvae.reporting.drift import DRIFT_RUNS, plot_drift
from gmvae.reporting.findings import write_findings
from gmvae.reporting.original import POST_HORIZON, load_original_logs, post_figure
from gmvae.reporting.tables import update_readme_claims, write_tables
from gmvae.reproduction.parameters import display_path, resolve_path
from gmvae.reproduction.pipeline import best_replicate, has_checkpoint, load_data, load_kept_runs

# Figures drawn from logs alone (redraw_figures): file name -> (kind, run names drawn, run names of
# which at least one must have logs). Kinds: one model's curves, an overlay of several (means and bands, as the
# post's overlay, and the last epochs' loss zoomed in an inset), an overlay with I(x; y) as a fourth panel, clipped
# against unclipped modified M2 with the largest gradient norms, each GMVAE replicate's accuracy against 80 %, and
# the nan profile's drift towards a NaN (gmvae.reporting.drift). The variants figure exists only where the decoder
# variants were trained (the blog profile), the clipping figure where clipped runs were (the post profile), the
# drift figure where the nan profile's were.
LOG_FIGURES = {
    "m2_curves.png": ("curves", ("m2",), ("m2",)),
    "modified_m2_curves.png": ("curves", ("modified_m2",), ("modified_m2",)),
    "modified_m2_variants.png": ("overlay", ("modified_m2", "modified_m2_identity", "modified_m2_relu_layer"),
                                 ("modified_m2_identity", "modified_m2_relu_layer")),
    "gmvae_curves.png": ("curves", ("gmvae",), ("gmvae",)),
    "overlay.png": ("overlay", ("m2", "modified_m2", "gmvae"), ("m2", "modified_m2", "gmvae")),
    "open_questions.png": ("information", ("m2", "m2_iaf", "m2_eta0"), ("m2_iaf", "m2_eta0")),
    "modified_m2_clipping.png": ("clipping", ("modified_m2", "modified_m2_clip"), ("modified_m2_clip",)),
    "gmvae_accuracy_per_replicate.png": ("replicates", ("gmvae",), ("gmvae",)),
    "nan_drift.png": ("drift", DRIFT_RUNS, DRIFT_RUNS),
}
# Runs of a name that no figure above draws (a model of your own: docs/your_own_model.md) are drawn in
# OTHER_RUNS_FIGURE over the post's three models (COMPARED_WITH, those with logs), to the last epoch they reached.
OTHER_RUNS_FIGURE = "models_compared.png"
COMPARED_WITH = ("m2", "modified_m2", "gmvae")
ONE_HORIZON_KINDS = ("replicates", "drift")  # drawn at the epoch the runs reached, not also at the post's horizon
# Figures of a trained GMVAE: notebook 03 computes their data from the best replicate's checkpoint and saves it
# in <profile>/MODEL_FIGURE_DATA (about 100 KB, committed); redraw_figures draws them again from the data of every
# log's best replicate, in MODEL_FIGURE_DATA or a profile's folder.
MODEL_FIGURES = ("gmvae_samples.png", "gmvae_confusion.png")
MODEL_FIGURE_DATA = Path("figures") / "data" / "gmvae_best_run.npz"


def save_model_figure_data(run_dir, results_dir, data_path=None, n_per_cluster: int = 10) -> Path:
    """From a trained GMVAE run's checkpoint: digits generated from each cluster and the confusion
    matrix of the test set (clusters = argmax q(y|x), one binarization), saved to
    results_dir/MODEL_FIGURE_DATA with the run's seed, epoch and that epoch's logged test loss (which tells
    this run from another of the same seed and length); returns the path."""
    from gmvae import evaluate, metrics

    model, config = evaluate.load_trained(run_dir)
    epoch = int((runs.read_record(run_dir).get("status") or {}).get("completed_epochs") or 0)
    log = runs.read_log(run_dir)
    test_loss = float(log.loc[log["epoch"] == epoch, "test_loss"].iloc[0])
    mnist = load_data(data_path)
    matrix = metrics.confusion(mnist.test_y, evaluate.cluster_assignments(model, mnist.test_x), k=config.k)
    samples = evaluate.cluster_samples(model, n_per_cluster=n_per_cluster, seed=0)
    path = resolve_path(results_dir) / MODEL_FIGURE_DATA
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as f:
        # float16 pixel probabilities: indistinguishable in the figure, a quarter of the bytes
        np.savez_compressed(f, samples=samples.astype(np.float16), confusion=matrix, seed=config.seed, epoch=epoch,
                            test_loss=test_loss)
    os.replace(f.name, path)
    return path


def load_model_figure_data(results_dir) -> dict | None:
    """What :func:`save_model_figure_data` saved in results_dir (None if nothing): samples, confusion, seed,
    epoch and test_loss (None in data saved before it was recorded)."""
    path = resolve_path(results_dir) / MODEL_FIGURE_DATA
    if not path.is_file():
        return None
    with np.load(path) as f:
        return {"samples": f["samples"].astype(np.float32), "confusion": f["confusion"],
                "seed": int(f["seed"]), "epoch": int(f["epoch"]),
                "test_loss": float(f["test_loss"]) if "test_loss" in f else None}


def _best_run_last_epoch(df: pd.DataFrame) -> tuple[int, int, float] | None:
    """(seed, epoch, logged test loss) of the best GMVAE replicate's last epoch in ``df`` (highest final test
    accuracy): what model figure data must be of, the test loss telling this run from another of the same seed
    and length; None without GMVAE logs."""
    seed = best_replicate(df, "gmvae")
    if seed is None:
        return None
    rows = df[(df["run_name"] == "gmvae") & (df["seed"] == seed)]
    last = rows.loc[rows["epoch"].idxmax()]
    return seed, int(last["epoch"]), float(last["test_loss"])


def _of(saved: dict | None, run: tuple | None) -> bool:
    return saved is not None and run is not None and (saved["seed"], saved["epoch"], saved["test_loss"]) == run


def model_figure_data(results_dir, df: pd.DataFrame, data_path=None, *, out_dir=None) -> dict | None:
    """The model figures' data for the best GMVAE replicate's last epoch in ``df``, kept in ``out_dir`` (default
    ``results_dir``): the saved data if it is of that epoch (in ``out_dir``, or where `make figures` keeps it:
    :func:`saved_model_figure_data`), else computed from the run's checkpoint in ``results_dir/runs`` if the
    checkpoint is of that epoch, and saved; None if neither exists."""
    run = _best_run_last_epoch(df)
    if run is None:
        return None
    out_dir = results_dir if out_dir is None else out_dir
    saved = load_model_figure_data(out_dir)
    if not _of(saved, run):  # the committed data of the post profile's best run, with no checkpoint in git
        saved = saved_model_figure_data(results_dir, df) or saved
    run_dir = runs.run_dir(resolve_path(results_dir), "gmvae", run[0])
    # a checkpoint past the epoch df stops at (the cpu profile reading a 200-epoch run) cannot draw that epoch
    checkpoint_epoch = int(((runs.read_record(run_dir) or {}).get("status") or {}).get("completed_epochs") or 0)
    if not _of(saved, run) and has_checkpoint(run_dir) and checkpoint_epoch == run[1]:
        save_model_figure_data(run_dir, out_dir, data_path)  # saved data of this epoch is kept: no churn
        saved = load_model_figure_data(out_dir)
    return saved if _of(saved, run) else None


def saved_model_figure_data(results_dir, df: pd.DataFrame) -> dict | None:
    """Saved model figure data of the best GMVAE replicate's last epoch in ``df``: from
    ``results_dir/MODEL_FIGURE_DATA``, else from a profile's folder (``results_dir/<profile>/``, where notebook 03
    saves it); None if none is of that epoch."""
    from gmvae.reproduction.profiles import PROFILES

    run = _best_run_last_epoch(df)
    results_dir = resolve_path(results_dir)
    for folder in (results_dir, *(results_dir / profile for profile in PROFILES)):
        saved = load_model_figure_data(folder)
        if _of(saved, run):
            return saved
    return None


def draw_model_figures(data: dict) -> dict:
    """{file name: figure} for MODEL_FIGURES from :func:`load_model_figure_data` output."""
    matrix, run = data["confusion"], f"GMVAE seed {data['seed']}, epoch {data['epoch']}"
    digit = matrix.argmax(axis=1)
    row_labels = [f"y={i} ({digit[i]})" if matrix[i].sum() else f"y={i} (empty)" for i in range(len(matrix))]
    accuracy = matrix.max(axis=1).sum() / matrix.sum()
    return {
        "gmvae_samples.png": plots.plot_sample_grid(
            data["samples"], row_labels=row_labels, title=f"{run}: digits generated from each cluster (majority digit)"),
        "gmvae_confusion.png": plots.plot_confusion(
            matrix, title=f"{run}: test images by cluster and true digit (accuracy {accuracy:.3f})"),
    }


def figure_file(name: str, *, post_horizon: bool = False) -> str:
    """The file of a LOG_FIGURES figure: at our horizon, or at the post's (its figures show 200 epochs)."""
    return name.replace(".png", "_post_horizon.png") if post_horizon else name


def horizons(name: str) -> tuple[bool, ...]:
    """The post_horizon values a LOG_FIGURES figure is drawn with."""
    return (False,) if LOG_FIGURES[name][0] in ONE_HORIZON_KINDS else (False, True)


def draw_accuracy_per_replicate(df: pd.DataFrame, original: pd.DataFrame | None):
    """Our GMVAE replicates' accuracy at the last epoch all of them reached, against 80 %, beside the original's
    at that epoch, at 500 and at the last epoch of its long logs (gmvae.reporting.claims.long_run_finals)."""
    from gmvae.reporting import claims

    ours = df[df["run_name"] == "gmvae"]
    epoch = claims.common_epoch(ours)
    if epoch is None:
        return None
    col, theirs_col = plots.color("gmvae"), plots.original_color("gmvae")
    groups = {f"ours\nepoch {epoch}": (claims.accuracies_at(ours, epoch), col)}
    theirs = original[original["run_name"] == "gmvae"] if original is not None and len(original) else pd.DataFrame()
    if len(theirs):
        for e in sorted({epoch, *claims.ORIGINAL_CHECK_EPOCHS}):
            values = claims.accuracies_at(theirs, e)
            if len(values):
                groups[f"original\nepoch {e}"] = (values, theirs_col)
        finals = claims.long_run_finals(theirs)
        if len(finals):
            groups[f"original, last epoch\n({int(finals['epoch'].min())}-{int(finals['epoch'].max())})"] = (
                finals["test_accuracy"].to_numpy(), theirs_col)
    return plots.plot_accuracy_per_replicate(
        groups, title=f"GMVAE: each replicate's test accuracy (the post: five of six above 80 % by epoch "
                      f"{claims.STATEMENT_EPOCH})")


def draw_log_figure(name: str, df: pd.DataFrame, original: pd.DataFrame | None = None, *, post_horizon: bool = False):
    """Draw one of LOG_FIGURES from :func:`plots.load_runs` output (the same way notebooks and
    redraw_figures do), with the original's band under ours if ``original`` is given
    (gmvae.reporting.original.load_original_logs output), to our last epoch or, with ``post_horizon``, to the
    post's POST_HORIZON; None if ``df`` holds none of its runs."""
    kind, run_names, required = LOG_FIGURES[name]
    df = df[df["run_name"].isin(run_names)] if len(df) else df
    if df.empty or not df["run_name"].isin(required).any():
        return None
    if kind == "replicates":
        return draw_accuracy_per_replicate(df, original)
    if kind == "drift":
        return plot_drift(df)
    max_epoch = POST_HORIZON if post_horizon else None
    if kind == "curves":
        return plots.plot_curves(df, original=original, max_epoch=max_epoch)
    panels = {"information": (plots.MUTUAL_INFORMATION_PANEL, *plots.PANELS),
              "clipping": (plots.PANELS[1], plots.PANELS[2], plots.GRADIENT_NORM_PANEL)}.get(kind, plots.PANELS)
    return plots.plot_overlay(df, run_names=run_names, original=original, max_epoch=max_epoch, panels=panels,
                              show_replicates=kind != "overlay", zoom_loss=kind == "overlay")


def drawn_run_names() -> set[str]:
    """The run names LOG_FIGURES draws."""
    return {r for _, names, _ in LOG_FIGURES.values() for r in names}


def other_run_names(df: pd.DataFrame) -> list[str]:
    """The run names in ``df`` that no figure of LOG_FIGURES draws, sorted."""
    return sorted(set(df["run_name"]) - drawn_run_names()) if len(df) else []


def draw_other_runs(df: pd.DataFrame):
    """OTHER_RUNS_FIGURE: the runs of :func:`other_run_names` over the post's three models, each labelled with its
    run name, all cut at the last epoch those runs reached; None if ``df`` holds no such runs."""
    others = other_run_names(df)
    if not others:
        return None
    horizon = int(df.loc[df["run_name"].isin(others), "epoch"].max())
    names = [*COMPARED_WITH, *others]  # plot_overlay draws those with logs
    colors = {r: plots.OTHER_COLORS[i % len(plots.OTHER_COLORS)] for i, r in enumerate(others)}
    return plots.plot_overlay(df[df["run_name"].isin(names)], run_names=names, max_epoch=horizon, colors=colors)


def save_log_figures(name: str, df: pd.DataFrame, original: pd.DataFrame | None, figures_dir) -> list:
    """Draw one of LOG_FIGURES at our horizon and at the post's and save both in ``figures_dir``;
    returns [(path, figure)], empty if ``df`` holds none of its runs."""
    saved = []
    for post_horizon in horizons(name):
        fig = draw_log_figure(name, df, original, post_horizon=post_horizon)
        if fig is not None:
            saved.append((plots.save_figure(fig, Path(figures_dir) / figure_file(name, post_horizon=post_horizon)), fig))
    return saved


def show_post_figure(name: str) -> None:
    """Display the post's own figure (gmvae.reporting.original.POST_FIGURES) in a notebook, or say it is missing."""
    from IPython.display import Image, display

    path = post_figure(name)
    display(Image(filename=str(path)) if path else f"the post's figure {name!r} is missing or altered (see above)")


def load_logs(results_dir) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The logs every log figure and table is drawn from: our runs in ``results_dir/runs`` (every run folder
    there, the runs of names no figure draws too), the original's, and the runs kept from earlier protocols
    (pipeline.load_kept_runs)."""
    all_runs = sorted(drawn_run_names())
    runs_dir = Path(results_dir) / "runs"
    found = sorted(d.name for d in runs_dir.iterdir() if d.is_dir()) if runs_dir.is_dir() else []
    return (plots.load_runs(results_dir, all_runs + [r for r in found if r not in all_runs]),
            load_original_logs(all_runs), load_kept_runs(results_dir, all_runs))


def redraw_figures(results_dir, *, verbose=True) -> dict:
    """Redraw every log-based figure from ``results_dir/runs`` into ``results_dir/figures``, each at our
    horizon and at the post's, over the original's logs, and runs of other names over the post's three models
    (OTHER_RUNS_FIGURE); draw the three models' graphical models (gmvae.reporting.graphical_models); rewrite the
    claims, per-run and fidelity tables (:func:`write_tables`) and the findings page
    (gmvae.reporting.findings.write_findings: docs/findings.md for the repository's results/, <results_dir>/findings.md
    for any other folder) from the same logs, and the claims table of the README.md beside ``results_dir`` (the
    repository's) if it has one (:func:`update_readme_claims`).

    No training and no TensorFlow: the CSV logs, the original's logs shipped with the package, and for
    the sample grid and confusion matrix the data notebook 03 saved from a checkpoint (MODEL_FIGURE_DATA).
    Returns {"written": [figure paths], "skipped": {name: reason}, "tables": [table paths]} and, if
    ``verbose``, prints what it wrote and skipped.
    """
    import matplotlib.pyplot as plt  # its backend chosen when gmvae.reporting.plots was imported

    results_dir = Path(results_dir).expanduser().resolve()
    if not (results_dir / "runs").is_dir():
        raise FileNotFoundError(f"no run logs under {results_dir / 'runs'}: a results folder holds them as "
                                "runs/<run>/seed<k>/log.csv (with run.json), as the notebooks and "
                                "`python -m gmvae reproduce` write them")
    written, skipped = [], {}
    df, theirs, kept = load_logs(results_dir)
    for name, (_, _, required) in LOG_FIGURES.items():
        for post_horizon in horizons(name):
            file = figure_file(name, post_horizon=post_horizon)
            fig = draw_log_figure(name, df, theirs, post_horizon=post_horizon)
            if fig is None:
                skipped[file] = f"no logs of {' or '.join(required)}"
                continue
            written.append(plots.save_figure(fig, results_dir / "figures" / file))
            plt.close(fig)
    fig = draw_other_runs(df)  # only where there are such runs: nothing to say otherwise
    if fig is not None:
        written.append(plots.save_figure(fig, results_dir / "figures" / OTHER_RUNS_FIGURE))
        plt.close(fig)
    model_data = saved_model_figure_data(results_dir, df)
    if model_data is None:
        skipped.update({name: f"no {MODEL_FIGURE_DATA.as_posix()} of the best GMVAE replicate's last epoch, here or "
                              f"in a profile's folder (notebook 03 writes it from that run's checkpoint)"
                        for name in MODEL_FIGURES})
    else:
        for name, fig in draw_model_figures(model_data).items():
            written.append(plots.save_figure(fig, results_dir / "figures" / name))
            plt.close(fig)
    written.append(plots.save_figure(graphical_models.draw_graphical_models(), results_dir / "figures" /
                                     graphical_models.FILE_NAME, close=True))
    tables = write_tables(df, results_dir, theirs, kept)
    tables.append(write_findings(results_dir, df, theirs))
    readme = results_dir.parent / "README.md"
    if update_readme_claims(readme, pd.read_csv(results_dir / "claims.csv")):
        tables.append(readme)
    if verbose:
        for path in written + tables:
            print(f"wrote   {display_path(path)}")
        for name, reason in skipped.items():
            print(f"skipped {name}: {reason}")
    return {"written": written, "skipped": skipped, "tables": tables}
