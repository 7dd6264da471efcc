"""Orchestration shared by the notebooks and the command line: which runs a notebook needs, training
what is missing, the claims table, running every notebook through papermill, redrawing figures.

    notebooks, command line -> pipeline -> train (only when something must be trained)
                                        -> plots (figures from logs, no TensorFlow)

Importing this module does not import TensorFlow; :func:`ensure_runs` imports :mod:`gmvae.train` and
:mod:`gmvae.data` only when a run actually has to be trained, and :func:`redraw_figures` never does.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gmvae import runs
from gmvae.config import TrainConfig
from gmvae.profiles import PROFILES, get_profile

# The project's folders, for a source checkout (pip install -e .): lib/gmvae/pipeline.py -> repo root.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"

# Every notebook, in the order they must run (04 draws from the logs 01-03 write).
NOTEBOOKS = [
    "00_index.ipynb",
    "01_m2_failure.ipynb",
    "02_modified_m2.ipynb",
    "03_real_gmvae.ipynb",
    "04_overlay_comparison.ipynb",
]

# The model variants each notebook trains or reads (run names, see TrainConfig.run_name).
NOTEBOOK_RUNS = {
    "00_index.ipynb": (),
    "01_m2_failure.ipynb": ("m2",),
    "02_modified_m2.ipynb": ("modified_m2", "modified_m2_identity", "modified_m2_extra_layer"),
    "03_real_gmvae.ipynb": ("gmvae",),
    "04_overlay_comparison.ipynb": ("m2", "modified_m2", "gmvae"),
}

# Figures drawn from logs alone (redraw_figures): file name -> (kind, run names drawn, run names of
# which at least one must have logs). The variants figure exists only where the decoder variants were
# trained (the blog profile).
LOG_FIGURES = {
    "m2_curves.png": ("curves", ("m2",), ("m2",)),
    "modified_m2_curves.png": ("curves", ("modified_m2",), ("modified_m2",)),
    "modified_m2_variants.png": ("overlay", ("modified_m2", "modified_m2_identity", "modified_m2_extra_layer"),
                                 ("modified_m2_identity", "modified_m2_extra_layer")),
    "gmvae_curves.png": ("curves", ("gmvae",), ("gmvae",)),
    "overlay.png": ("overlay", ("m2", "modified_m2", "gmvae"), ("m2", "modified_m2", "gmvae")),
}
# Figures of a trained GMVAE: notebook 03 computes their data from the best replicate's checkpoint and
# saves it in MODEL_FIGURE_DATA (about 100 KB, committed), from which redraw_figures draws them again.
MODEL_FIGURES = ("gmvae_samples.png", "gmvae_confusion.png")
MODEL_FIGURE_DATA = Path("figures") / "data" / "gmvae_best_run.npz"

DEFAULT_KERNEL = "python3"


class PipelineError(RuntimeError):
    """A notebook of the reproduction failed; the message is one line and names the notebook and cell."""


# ------------------------------------------------------------------------------------ parameters


def resolve_path(path) -> Path:
    """A notebook parameter path: absolute as given; relative to the notebooks/ folder of the source
    checkout (where the notebooks' default ``results_dir = "../results"`` points at the repo's results/),
    whatever the current directory; relative to the current directory outside a source checkout."""
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    base = NOTEBOOK_DIR if NOTEBOOK_DIR.is_dir() else Path.cwd()
    return (base / p).resolve()


def validate_parameters(profile, seeds=None, epochs=None, results_dir="../results", *, run_names=(),
                        retrain=False, data_path=None) -> Path:
    """Check a notebook's (or the command line's) parameters; return the resolved results folder.

    Raises ValueError naming what is allowed: a known profile; run names that profile has; seeds None
    or a list of integers >= 0; epochs None or an integer >= 0; retrain True/False; data_path None or
    an existing file; a results folder that can be created and written (checked by writing a file).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: allowed profiles are {', '.join(repr(p) for p in PROFILES)}")
    prof = PROFILES[profile]
    for run_name in run_names:
        if run_name not in _all_run_names():
            raise ValueError(f"unknown model {run_name!r}: allowed models are {', '.join(_all_run_names())}")
    if seeds is not None:
        if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
            seeds = [seeds]
        if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
            raise ValueError(f"seeds must be None (the profile's seeds) or a list of integers >= 0, not {seeds!r}")
        seeds = list(seeds)
        if not seeds or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in seeds):
            raise ValueError(f"seeds must be None (the profile's seeds) or a non-empty list of integers >= 0, not {seeds!r}")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0):
        raise ValueError(f"epochs must be None (the profile's: {prof.base.epochs}) or an integer >= 0, not {epochs!r}")
    if not isinstance(retrain, bool):
        raise ValueError(f"retrain must be True or False, not {retrain!r}")
    if data_path is not None and not resolve_path(data_path).is_file():
        raise ValueError(f"data_path must be None (use GMVAE_MNIST, the cache or the download) or an existing "
                         f"mnist.npz; {resolve_path(data_path)} is not a file")
    if results_dir is None or str(results_dir) == "":
        raise ValueError("results_dir must be a folder path (relative paths are relative to notebooks/)")
    out = resolve_path(results_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as e:
        raise ValueError(f"results_dir {out} cannot be written ({e.strerror or e}); choose a writable folder") from None
    return out


def _all_run_names():
    names = []
    for p in PROFILES.values():
        names += [n for n in p.seeds if n not in names]
    return names


def profile_run_names(profile: str, run_names) -> list[str]:
    """The given run names that the profile trains (e.g. the modified-M2 decoder variants only in blog)."""
    prof = get_profile(profile)
    return [r for r in run_names if r in prof.seeds]


def profile_seeds(profile: str, run_name: str, seeds=None) -> list[int]:
    return list(seeds) if seeds is not None else list(get_profile(profile).seeds[run_name])


def profile_epochs(profile: str, epochs=None) -> int:
    return int(epochs) if epochs is not None else get_profile(profile).base.epochs


# ------------------------------------------------------------------------------------------ runs


def run_state(run_dir, config: TrainConfig) -> str:
    """'absent', 'complete' (at least config.epochs logged, or stopped at NaN), 'partial', or
    'mismatch' (the folder holds a run with another configuration)."""
    record = runs.read_record(run_dir)
    if record is None:
        return "absent"
    if config.differences(record.get("config") or {}):
        return "mismatch"
    status = record.get("status") or {}
    if status.get("nan_epoch") is not None:
        return "complete"
    log = runs.read_log(run_dir)
    done = max(int(status.get("completed_epochs") or 0), int(log["epoch"].max()) if len(log) else 0)
    return "complete" if done >= config.epochs else "partial"


def _default_progress() -> bool:
    """Progress bars unless GMVAE_PROGRESS=0 (set by run_notebook, so executed copies stay small)."""
    return os.environ.get("GMVAE_PROGRESS", "1") != "0"


def ensure_runs(profile_name, run_name, *, results_dir, seeds=None, epochs=None, retrain=False,
                data_path=None, progress=None, data=None) -> list[Path]:
    """Make sure every run of ``run_name`` in the profile is trained; return their folders.

    Each configuration (one per seed) lives in ``runs.run_dir(results_dir, run_name, seed)``. A run whose
    log already reaches the requested epochs (or that stopped at NaN) is left alone unless ``retrain``;
    a shorter one is extended (train resumes from its checkpoints); ``retrain=True`` deletes the folder
    first. MNIST is loaded once for all runs that need training (``data``: an already loaded
    gmvae.data.MNIST). ``progress``: training progress bars (default: on, unless the environment
    variable GMVAE_PROGRESS=0, which papermill runs set); one line per run is printed either way.
    Raises ValueError if a folder holds a run with another configuration.
    """
    progress_bars = _default_progress() if progress is None else bool(progress)
    results_dir = resolve_path(results_dir)
    configs = get_profile(profile_name).configs(run_name, seeds=seeds, epochs=epochs)
    dirs, todo = [], []
    for config in configs:
        d = runs.run_dir(results_dir, run_name, config.seed)
        dirs.append(d)
        if retrain and d.exists():
            shutil.rmtree(d)
        state = run_state(d, config)
        if state == "mismatch":
            diffs = config.differences(runs.read_record(d)["config"])
            raise ValueError(
                f"{d} holds a run with another configuration ({'; '.join(diffs)}), probably from another profile. "
                f"Use another results_dir, or retrain=True to replace it.")
        if state != "complete":
            todo.append((config, d))
        else:
            print(f"{run_name} seed {config.seed}: log complete for {config.epochs} epochs in {d}, not retraining")
    if todo:
        from gmvae import train as train_module  # TensorFlow is imported only when something is trained

        if data is None:
            data = load_data(data_path)
        for config, d in todo:
            print(f"{run_name} seed {config.seed}: training {config.epochs} epochs into {d}", flush=True)
            started = time.perf_counter()
            log = train_module.train(config, d, data=data, progress=progress_bars)
            last = log.iloc[-1] if len(log) else None
            summary = "" if last is None else (f": epoch {int(last['epoch'])}, test loss {last['test_loss']:.2f} nats, "
                                               f"H(y|x) {last['test_entropy']:.3f} nats, accuracy {last['test_accuracy']:.3f}")
            print(f"{run_name} seed {config.seed}: done in {time.perf_counter() - started:.1f} s{summary}", flush=True)
    return dirs


def load_profile_runs(profile, run_names, results_dir, *, seeds=None, epochs=None) -> pd.DataFrame:
    """:func:`plots.load_runs` restricted to what the profile trains: each run name with the profile's
    seeds (or ``seeds``), cut at the profile's epochs (or ``epochs``), so longer logs (e.g. from the
    blog profile) in the same results folder draw at the requested horizon."""
    from gmvae import plots

    max_epoch = profile_epochs(profile, epochs)
    results_dir = resolve_path(results_dir)
    frames = [plots.load_runs(results_dir, [r],
                              seeds=profile_seeds(profile, r, seeds), max_epoch=max_epoch)
              for r in profile_run_names(profile, run_names)]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else plots.load_runs(results_dir, [])


def summarize_runs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: last finite epoch and its test entropy, loss and accuracy; NaN epoch if any."""
    from gmvae.plots import final_values

    if df.empty:
        return pd.DataFrame(columns=["run_name", "seed", "epoch", "test_entropy", "test_loss", "test_accuracy", "nan_epoch"])
    out = final_values(df, "test_loss")
    for column in ("test_entropy", "test_accuracy"):
        f = final_values(df, column).drop(columns="epoch")
        out = out.merge(f, on=["run_name", "seed"], how="left")
    nan = df.groupby(["run_name", "seed"], as_index=False)["nan_epoch"].first()
    out = out.merge(nan, on=["run_name", "seed"], how="outer")
    return out[["run_name", "seed", "epoch", "test_entropy", "test_loss", "test_accuracy", "nan_epoch"]]


def load_data(data_path=None):
    """gmvae.data.load_mnist with a notebook's data_path (relative paths as in resolve_path)."""
    from gmvae.data import load_mnist

    return load_mnist(None if data_path is None else resolve_path(data_path))


# What each notebook writes under results_dir (besides run logs in runs/<run_name>/seed<k>/).
NOTEBOOK_OUTPUTS = {
    "01_m2_failure.ipynb": ("figures/m2_curves.png",),
    "02_modified_m2.ipynb": ("figures/modified_m2_curves.png", "figures/modified_m2_variants.png (blog profile only)"),
    "03_real_gmvae.ipynb": ("figures/gmvae_curves.png", f"{MODEL_FIGURE_DATA.as_posix()} (needs a checkpoint)",
                            "figures/gmvae_samples.png", "figures/gmvae_confusion.png"),
    "04_overlay_comparison.ipynb": ("figures/overlay.png", "claims.csv", "claims.md", "run_table.csv", "run_table.md"),
}


def outputs_status(results_dir) -> pd.DataFrame:
    """Which of the notebooks' outputs exist in results_dir (for the index notebook)."""
    results_dir = resolve_path(results_dir)
    rows = []
    for nb, outputs in NOTEBOOK_OUTPUTS.items():
        for output in outputs:
            rel = output.split(" (")[0]
            path = results_dir / rel
            rows.append({"notebook": nb, "output": output, "exists": path.exists(),
                         "modified": time.strftime("%Y-%m-%d %H:%M", time.localtime(path.stat().st_mtime)) if path.exists() else ""})
    return pd.DataFrame(rows)


def has_checkpoint(run_dir) -> bool:
    """Whether the run's TensorFlow checkpoint is on disk (it is not committed to git)."""
    ckpt = Path(run_dir) / "checkpoints"
    return ckpt.is_dir() and any(p.is_file() for p in ckpt.rglob("*"))


def best_replicate(df: pd.DataFrame, run_name: str, column: str = "test_accuracy"):
    """The seed of ``run_name`` with the highest final finite ``column``, or None."""
    from gmvae.plots import final_values

    f = final_values(df[df["run_name"] == run_name], column)
    return None if f.empty else int(f.sort_values([column, "seed"], ascending=[False, True])["seed"].iloc[0])


def save_model_figure_data(run_dir, results_dir, data_path=None, n_per_cluster: int = 10) -> Path:
    """From a trained GMVAE run's checkpoint: digits generated from each cluster and the confusion
    matrix of the test set (clusters = argmax q(y|x), one binarization), saved to
    results_dir/MODEL_FIGURE_DATA with the run's seed and epoch; returns the path."""
    from gmvae import evaluate, metrics

    model, config = evaluate.load_trained(run_dir)
    epoch = int((runs.read_record(run_dir).get("status") or {}).get("completed_epochs") or 0)
    mnist = load_data(data_path)
    matrix = metrics.confusion(mnist.test_y, evaluate.cluster_assignments(model, mnist.test_x), k=config.k)
    samples = evaluate.cluster_samples(model, n_per_cluster=n_per_cluster, seed=0)
    path = resolve_path(results_dir) / MODEL_FIGURE_DATA
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as f:
        # float16 pixel probabilities: indistinguishable in the figure, a quarter of the bytes
        np.savez_compressed(f, samples=samples.astype(np.float16), confusion=matrix, seed=config.seed, epoch=epoch)
    os.replace(f.name, path)
    return path


def load_model_figure_data(results_dir) -> dict | None:
    """What :func:`save_model_figure_data` saved in results_dir (None if nothing): samples, confusion, seed, epoch."""
    path = resolve_path(results_dir) / MODEL_FIGURE_DATA
    if not path.is_file():
        return None
    with np.load(path) as f:
        return {"samples": f["samples"].astype(np.float32), "confusion": f["confusion"],
                "seed": int(f["seed"]), "epoch": int(f["epoch"])}


def model_figure_data(results_dir, df: pd.DataFrame, data_path=None) -> dict | None:
    """The model figures' data for the best GMVAE replicate in ``df`` (highest final test accuracy):
    computed from its checkpoint and saved; without a checkpoint, the saved data if it is of that
    seed and last epoch; else None."""
    seed = best_replicate(df, "gmvae")
    if seed is None:
        return None
    run_dir = runs.run_dir(resolve_path(results_dir), "gmvae", seed)
    if has_checkpoint(run_dir):
        save_model_figure_data(run_dir, results_dir, data_path)
    saved = load_model_figure_data(results_dir)
    last_epoch = int(df.loc[(df["run_name"] == "gmvae") & (df["seed"] == seed), "epoch"].max())
    return saved if saved is not None and (saved["seed"], saved["epoch"]) == (seed, last_epoch) else None


def draw_model_figures(data: dict) -> dict:
    """{file name: figure} for MODEL_FIGURES from :func:`load_model_figure_data` output."""
    from gmvae import plots

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


# -------------------------------------------------------------------------------------- claims

ENTROPY_UNIFORM_MIN = 2.2     # nats; ln 10 = 2.303 means q(y|x) is uniform
ACCURACY_COLLAPSED_MAX = 0.2  # the majority-class rate of the MNIST test set is 0.1135
ACCURACY_GAP_MIN = 0.2        # "far better": at least 20 points of accuracy
NAN_TESTABLE_EPOCHS = 300     # the post saw modified M2 turn NaN after a few hundred epochs
NAN_EARLIEST = 100            # NaN before this epoch is not "after a few hundred epochs"

CLAIM_COLUMNS = ["section", "claim", "rule", "measured", "verdict"]


def _final_mean(df, run_name, column):
    """(mean over replicates of the last finite value, list of final epochs, replicate count)."""
    from gmvae.plots import final_values

    f = final_values(df[df["run_name"] == run_name], column) if len(df) else pd.DataFrame()
    if f.empty:
        return None, [], 0
    return float(f[column].mean()), sorted(set(f["epoch"])), len(f)


def _epochs_text(epochs):
    if not epochs:
        return ""
    return f"epoch {epochs[0]}" if len(epochs) == 1 else f"epochs {epochs[0]}-{epochs[-1]}"


def _describe(name, value, epochs, n, unit=""):
    return f"{name} {value:.3f}{unit} ({_epochs_text(epochs)}, {n} run{'s' if n != 1 else ''})"


def claims_table(df: pd.DataFrame) -> pd.DataFrame:
    """The post's claims, each with the measured value and a verdict, from :func:`plots.load_runs` logs.

    "Final" value of a run = its value at the last epoch where it is finite (a run that turned NaN is
    judged at its last finite epoch); a model's final value = the mean over its replicates.
    Verdicts: "supported", "not supported", or "not reached" (the logs cannot decide it: the model's
    logs are missing, or the runs are too short).

    1. M2's q(y|x) becomes uniform: final M2 test entropy > 2.2 nats (ln 10 = 2.303).
    2. M2's accuracy falls to the majority-class rate: final M2 test accuracy < 0.2 (rate 0.1135).
    3. Modified M2 clusters far better than M2: final accuracy of modified M2 minus M2's > 0.2.
    4. GMVAE clusters best: its final mean accuracy is higher than both M2's and modified M2's.
    5. M2 reaches the lowest variational loss: its final mean test loss is below both others'.
    6. Modified M2 has the highest variational loss: its final mean test loss is above both others'.
    7. Modified M2 turns NaN after a few hundred epochs: supported if a modified-M2 run turned NaN at
       epoch >= 100; not supported if one turned NaN earlier, or if all ran >= 300 epochs without NaN;
       not reached if they ran fewer than 300 epochs without NaN.
    """
    rows = []

    def add(section, claim, rule, measured, verdict):
        rows.append(dict(section=section, claim=claim, rule=rule, measured=measured, verdict=verdict))

    def verdict(ok):
        return "supported" if ok else "not supported"

    missing = "not reached"
    ent_m2, ep_m2, n_m2 = _final_mean(df, "m2", "test_entropy")
    acc = {r: _final_mean(df, r, "test_accuracy") for r in ("m2", "modified_m2", "gmvae")}
    loss = {r: _final_mean(df, r, "test_loss") for r in ("m2", "modified_m2", "gmvae")}

    def no_log(*names):
        return "no log of " + ", ".join(names)

    # 1
    rule = f"final M2 test H(y|x) > {ENTROPY_UNIFORM_MIN} nats (ln 10 = {math.log(10):.3f})"
    if ent_m2 is None:
        add("1 M2", "M2's q(y|x) becomes uniform", rule, no_log("M2"), missing)
    else:
        add("1 M2", "M2's q(y|x) becomes uniform", rule, _describe("M2 H(y|x)", ent_m2, ep_m2, n_m2, " nats"),
            verdict(ent_m2 > ENTROPY_UNIFORM_MIN))
    # 2
    rule = f"final M2 test accuracy < {ACCURACY_COLLAPSED_MAX} (majority-class rate 0.1135)"
    a, ep, n = acc["m2"]
    if a is None:
        add("1 M2", "M2's cluster accuracy falls to the majority-class rate", rule, no_log("M2"), missing)
    else:
        add("1 M2", "M2's cluster accuracy falls to the majority-class rate", rule,
            _describe("M2 accuracy", a, ep, n), verdict(a < ACCURACY_COLLAPSED_MAX))
    # 3
    rule = f"final accuracy of modified M2 minus M2's > {ACCURACY_GAP_MIN}"
    (a_mod, ep_mod, n_mod), (a_m2, _, _) = acc["modified_m2"], acc["m2"]
    if a_mod is None or a_m2 is None:
        add("2 modified M2", "Modified M2 clusters far better than M2", rule,
            no_log(*[l for l, v in (("M2", a_m2), ("modified M2", a_mod)) if v is None]), missing)
    else:
        add("2 modified M2", "Modified M2 clusters far better than M2", rule,
            f"{a_mod:.3f} - {a_m2:.3f} = {a_mod - a_m2:+.3f}", verdict(a_mod - a_m2 > ACCURACY_GAP_MIN))
    # 4, 5, 6: orderings among the three models
    names = {"m2": "M2", "modified_m2": "modified M2", "gmvae": "GMVAE"}

    def ordering(section, claim, rule, values, best, pick):
        absent = [names[r] for r, v in values.items() if v[0] is None]
        if absent:
            add(section, claim, rule, no_log(*absent), missing)
            return
        measured = ", ".join(f"{names[r]} {v[0]:.3f}" for r, v in values.items())
        others = [v[0] for r, v in values.items() if r != best]
        add(section, claim, rule, measured, verdict(pick(values[best][0], others)))

    ordering("3 GMVAE", "GMVAE clusters best", "final mean test accuracy of GMVAE above both other models'",
             acc, "gmvae", lambda v, others: all(v > o for o in others))
    ordering("4 overlay", "M2 reaches the lowest variational loss", "final mean test loss of M2 below both other models'",
             loss, "m2", lambda v, others: all(v < o for o in others))
    ordering("4 overlay", "Modified M2 has the highest variational loss",
             "final mean test loss of modified M2 above both other models'",
             loss, "modified_m2", lambda v, others: all(v > o for o in others))
    # 7
    rule = (f"a modified-M2 run turns NaN at epoch >= {NAN_EARLIEST}; testable only with >= {NAN_TESTABLE_EPOCHS} "
            f"epochs without NaN")
    claim = "Modified M2 turns NaN after a few hundred epochs"
    g = df[df["run_name"] == "modified_m2"] if len(df) else df
    if g.empty:
        add("2 modified M2", claim, rule, no_log("modified M2"), missing)
    else:
        nan_epochs = sorted(int(e) for e in g.groupby("seed")["nan_epoch"].first().dropna())
        last = int(g["epoch"].max())
        n = g["seed"].nunique()
        if nan_epochs:
            measured = f"NaN at epoch {', '.join(map(str, nan_epochs))} ({len(nan_epochs)} of {n} runs)"
            add("2 modified M2", claim, rule, measured, verdict(min(nan_epochs) >= NAN_EARLIEST))
        else:
            measured = f"no NaN in {n} run{'s' if n != 1 else ''} up to epoch {last}"
            add("2 modified M2", claim, rule, measured, "not supported" if last >= NAN_TESTABLE_EPOCHS else missing)
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def claims_markdown(table: pd.DataFrame) -> str:
    """The claims table as a GitHub markdown table."""
    return markdown_table(table)


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table (no index; "|" escaped)."""
    cols = list(table.columns)

    def cell(v):
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    lines += ["| " + " | ".join(cell(row[c]) for c in cols) + " |" for _, row in table.iterrows()]
    return "\n".join(lines) + "\n"


RUN_TABLE_EPOCHS = (10, 20, 50)  # the epochs of the per-run table, besides each run's last


def run_table(df: pd.DataFrame, epochs=RUN_TABLE_EPOCHS) -> pd.DataFrame:
    """Per model and seed, the test metrics at ``epochs`` (those the run reached) and at its last
    epoch, from :func:`plots.load_runs` logs. Rows of a run that turned NaN stop at its last finite
    epoch; its last row says so."""
    from gmvae.plots import LABELS, label

    order = {name: i for i, name in enumerate(LABELS)}  # the post's order of the models
    rows = []
    groups = df.groupby(["run_name", "seed"], sort=False) if len(df) else []
    for (run_name, seed), g in sorted(groups, key=lambda item: (order.get(item[0][0], len(order)), item[0])):
        g = g[np.isfinite(g["test_loss"])].sort_values("epoch")
        if g.empty:
            continue
        last = int(g["epoch"].iloc[-1])
        nan_epoch = g["nan_epoch"].iloc[0]
        for epoch in sorted({e for e in epochs if e < last} | {last}):
            row = g[g["epoch"] == epoch]
            if row.empty:
                continue
            row = row.iloc[0]
            note = "" if epoch != last else (" (last)" if pd.isna(nan_epoch) else f" (last; NaN at {int(nan_epoch)})")
            rows.append({"model": label(run_name), "seed": int(seed), "epoch": f"{epoch}{note}",
                         "accuracy": f"{row['test_accuracy']:.3f}", "H(y|x) [nats]": f"{row['test_entropy']:.3f}",
                         "loss [nats]": f"{row['test_loss']:.2f}", "NMI": f"{row['test_nmi']:.3f}",
                         "ARI": f"{row['test_ari']:.3f}"})
    return pd.DataFrame(rows, columns=["model", "seed", "epoch", "accuracy", "H(y|x) [nats]", "loss [nats]",
                                       "NMI", "ARI"])


def write_tables(df: pd.DataFrame, results_dir) -> list[Path]:
    """Write the claims table (claims.csv, claims.md) and the per-run table (run_table.csv,
    run_table.md) of ``df`` into results_dir; return the paths."""
    results_dir = resolve_path(results_dir)
    claims = claims_table(df)
    table = run_table(df)
    paths = [results_dir / name for name in ("claims.csv", "claims.md", "run_table.csv", "run_table.md")]
    runs.atomic_write_text(paths[0], claims.to_csv(index=False))
    runs.atomic_write_text(paths[1], "# The post's claims, checked against the logs\n\n" + markdown_table(claims))
    runs.atomic_write_text(paths[2], table.to_csv(index=False))
    runs.atomic_write_text(paths[3], "# Test metrics per run, from the logs\n\n" + markdown_table(table))
    return paths


# ------------------------------------------------------------------------------------ figures


def draw_log_figure(name: str, df: pd.DataFrame):
    """Draw one of LOG_FIGURES from :func:`plots.load_runs` output (the same way notebooks and
    redraw_figures do), or return None if ``df`` holds none of its runs."""
    from gmvae import plots

    kind, run_names, required = LOG_FIGURES[name]
    df = df[df["run_name"].isin(run_names)] if len(df) else df
    if df.empty or not df["run_name"].isin(required).any():
        return None
    if kind == "curves":
        return plots.plot_curves(df)
    return plots.plot_overlay(df, run_names=[r for r in run_names if (df["run_name"] == r).any()])


def redraw_figures(results_dir="results", *, verbose=True) -> dict:
    """Redraw every log-based figure from ``results_dir/runs`` into ``results_dir/figures``, and
    rewrite the claims and per-run tables (:func:`write_tables`) from the same logs.

    No training and no TensorFlow: the CSV logs, and for the sample grid and confusion matrix the data
    notebook 03 saved from a checkpoint (MODEL_FIGURE_DATA). Returns {"written": [figure paths], "skipped":
    {name: reason}, "tables": [table paths]} and, if ``verbose``, prints what it wrote and skipped.
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gmvae import plots

    results_dir = Path(results_dir).expanduser().resolve()
    if not (results_dir / "runs").is_dir():
        raise FileNotFoundError(f"no run logs under {results_dir / 'runs'}: run the notebooks or "
                                f"`python -m gmvae reproduce` first, or pass --results DIR")
    written, skipped = [], {}
    all_runs = sorted({r for _, names, _ in LOG_FIGURES.values() for r in names})
    df = plots.load_runs(results_dir, all_runs)
    for name, (_, _, required) in LOG_FIGURES.items():
        fig = draw_log_figure(name, df)
        if fig is None:
            skipped[name] = f"no logs of {' or '.join(required)}"
            continue
        written.append(plots.save_figure(fig, results_dir / "figures" / name))
        plt.close(fig)
    model_data = load_model_figure_data(results_dir)
    if model_data is None:
        skipped.update({name: f"no {MODEL_FIGURE_DATA.as_posix()} (notebook 03 writes it from a GMVAE checkpoint)"
                        for name in MODEL_FIGURES})
    else:
        for name, fig in draw_model_figures(model_data).items():
            written.append(plots.save_figure(fig, results_dir / "figures" / name))
            plt.close(fig)
    tables = write_tables(df, results_dir)
    if verbose:
        for path in written + tables:
            print(f"wrote   {path}")
        for name, reason in skipped.items():
            print(f"skipped {name}: {reason}")
    return {"written": written, "skipped": skipped, "tables": tables}


# ---------------------------------------------------------------------------------- reproduce


def _check_kernel(kernel_name: str) -> None:
    """Fail early, in one line, if the Jupyter kernel cannot be found."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise PipelineError(f"no Jupyter kernel named {kernel_name!r}: install ipykernel into this environment "
                            f"({sys.executable} -m pip install ipykernel)") from None
    exe = spec.argv[0] if spec.argv else ""
    if exe not in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}") and \
            Path(exe).resolve() != Path(sys.executable).resolve():
        print(f"warning: kernel {kernel_name!r} runs {exe}, not this interpreter ({sys.executable}); "
              f"gmvae must be installed there too", file=sys.stderr)


@contextlib.contextmanager
def _kernel_environment(progress: bool, notebook: str):
    """Environment the notebook kernels inherit: no progress bars (unless asked: they would fill the
    executed copies with thousands of lines), TensorFlow's C++ INFO messages off (unless already set),
    this process's command and the notebook's name for the provenance of the runs it trains, and
    GMVAE_MNIST made absolute (the kernels run in notebooks/, where a path relative to here would miss)."""
    saved = {k: os.environ.get(k) for k in ("GMVAE_PROGRESS", "TF_CPP_MIN_LOG_LEVEL", runs.COMMAND_VARIABLE,
                                            "GMVAE_MNIST")}
    if os.environ.get("GMVAE_MNIST"):
        os.environ["GMVAE_MNIST"] = str(Path(os.environ["GMVAE_MNIST"]).expanduser().absolute())
    os.environ["GMVAE_PROGRESS"] = "1" if progress else "0"
    os.environ[runs.COMMAND_VARIABLE] = f"{runs.command_line()} [notebook {notebook}]"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_notebook(name: str, out, parameters: dict, *, kernel_name=DEFAULT_KERNEL, log_output=False,
                 notebook_dir=None, progress=False) -> Path:
    """Execute one notebook with papermill into ``<out>/executed/<name>`` (never over the source).

    The kernel's working directory is the notebooks folder. ``progress``: training progress bars in
    the executed copy (off: one line per trained run instead). ``log_output``: echo the notebook's
    output to this process's log as it runs. Raises PipelineError (one line: notebook, cell, error,
    and where the executed copy with the full traceback is) if a cell fails.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    notebook_dir = Path(notebook_dir) if notebook_dir is not None else NOTEBOOK_DIR
    source = notebook_dir / name
    if not source.is_file():
        raise PipelineError(f"notebook {source} not found")
    executed = Path(out) / "executed" / name
    executed.parent.mkdir(parents=True, exist_ok=True)
    if executed.resolve() == source.resolve():
        raise PipelineError(f"refusing to write the executed copy over the source notebook {source}")
    try:
        with _kernel_environment(progress, name):
            pm.execute_notebook(str(source), str(executed), parameters=parameters, kernel_name=kernel_name,
                                cwd=str(notebook_dir), progress_bar=False, log_output=log_output)
    except PapermillExecutionError as e:
        first_line = next((l for l in (e.source or "").splitlines() if l.strip()), "").strip()
        # "In [n]" is how the executed copy labels the cell (papermill adds a banner cell pointing to it)
        where = f"cell In [{e.exec_count}]" + (f" ({first_line[:60]})" if first_line else "")
        evalue = " ".join(str(e.evalue).split())
        raise PipelineError(f"notebook {name} failed in {where}: {e.ename}: {evalue[:400]} "
                            f"-- full traceback in {executed}") from None
    return executed


def reproduce(profile, out="results", data_path=None, *, seeds=None, epochs=None, retrain=False,
              notebooks=None, kernel_name=DEFAULT_KERNEL, log_output=False, progress=False) -> list[Path]:
    """Run the notebooks in order with papermill, for one profile; return the executed copies.

    Parameters are passed to every notebook: ``profile``, ``seeds``, ``epochs``, ``retrain``,
    ``results_dir`` (= ``out``, made absolute) and ``data_path``. Executed copies go to
    ``<out>/executed/<name>.ipynb``, figures to ``<out>/figures/``, run logs to
    ``<out>/runs/<run_name>/seed<k>/``. ``notebooks``: a subset of NOTEBOOKS (default all, in order).
    ``log_output``: echo each notebook's output here as it runs; ``progress``: keep training progress
    bars in the executed copies (both off by default: follow a long run in ``<out>/runs/*/seed*/log.csv``).
    Raises ValueError for bad parameters and PipelineError (one line) when a notebook fails.
    """
    out = Path(out).expanduser().resolve()  # relative to the caller's directory, not notebooks/
    data_abs = None if data_path is None else str(Path(data_path).expanduser().resolve())
    validate_parameters(profile, seeds, epochs, out, retrain=retrain, data_path=data_abs)
    selected = list(NOTEBOOKS) if notebooks is None else list(notebooks)
    unknown = [n for n in selected if n not in NOTEBOOKS]
    if unknown:
        raise ValueError(f"unknown notebooks {unknown}: choose from {', '.join(NOTEBOOKS)}")
    _check_kernel(kernel_name)
    parameters = dict(profile=profile, seeds=None if seeds is None else list(seeds), epochs=epochs,
                      retrain=retrain, results_dir=str(out), data_path=data_abs)
    executed = []
    total = time.perf_counter()
    print(f"reproduce: profile {profile!r} into {out}; training progress is in {out / 'runs'}/<model>/seed<k>/log.csv "
          f"(one row per epoch)", flush=True)
    for i, name in enumerate(selected, 1):
        print(f"[{i}/{len(selected)}] {name} (profile {profile}) ...", flush=True)
        started = time.perf_counter()
        executed.append(run_notebook(name, out, parameters, kernel_name=kernel_name, log_output=log_output,
                                     progress=progress))
        print(f"[{i}/{len(selected)}] {name} done in {time.perf_counter() - started:.1f} s -> {executed[-1]}", flush=True)
    print(f"reproduce: {len(selected)} notebooks in {time.perf_counter() - total:.1f} s; figures in {out / 'figures'}")
    return executed


# ------------------------------------------------------------------------------- notebook hygiene


def strip_notebooks(paths=None) -> list[Path]:
    """Remove outputs, execution counts and execution metadata from source notebooks (default: every
    notebook in notebooks/), keeping cell tags such as ``parameters``. Returns the files it changed."""
    import nbformat

    changed = []
    for path in (sorted(NOTEBOOK_DIR.glob("*.ipynb")) if paths is None else [Path(p) for p in paths]):
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
            for key in ("execution", "papermill", "collapsed", "scrolled"):
                cell.metadata.pop(key, None)
        nb.metadata.pop("papermill", None)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            changed.append(path)
    return changed
