"""The runs a notebook needs: train what is missing, load the logs of a profile, summarize them.

    notebooks, command line -> pipeline -> train (only when something must be trained)

Importing this module does not import TensorFlow; :func:`ensure_runs` imports :mod:`gmvae.train` and
:mod:`gmvae.data` only when a run actually has to be trained.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import time
from pathlib import Path

import pandas as pd

from gmvae import runs
from gmvae.config import TrainConfig
from gmvae.reproduction.parameters import (display_path, is_profile_own, profile_epochs, profile_run_names,
                                           profile_seeds, resolve_path, scratch_dir, seed_list)
from gmvae.reproduction.profiles import get_profile


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
    a shorter one is extended (train resumes from its checkpoints); ``retrain=True`` moves the old run
    aside (into the folder's previous-<date-time>/) and trains from epoch 1. MNIST is loaded once for all runs that need training (``data``: an already loaded
    gmvae.data.MNIST). ``progress``: training progress bars and a line per run (default: on, unless the
    environment variable GMVAE_PROGRESS=0, which papermill runs set); off, nothing is printed, so that a
    notebook's output does not depend on whether it trained just now: it shows :func:`training_record`.
    Raises ValueError if a folder holds a run with another configuration.
    """
    progress_bars = _default_progress() if progress is None else bool(progress)
    say = print if progress_bars else _silent
    results_dir = resolve_path(results_dir)
    configs = get_profile(profile_name).configs(run_name, seeds=seeds, epochs=epochs)
    dirs, todo = [], []
    for config in configs:
        d = runs.run_dir(results_dir, run_name, config.seed)
        dirs.append(d)
        state = "retrain" if retrain and d.exists() else run_state(d, config)
        if state == "mismatch":
            diffs = config.differences(runs.read_record(d)["config"])
            raise ValueError(
                f"{d} holds a run with another configuration ({'; '.join(diffs)}), probably from another profile. "
                f"Use another results_dir, or retrain=True to replace it.")
        if state != "complete":
            todo.append((config, d))
        else:
            say(f"{run_name} seed {config.seed}: log complete for {config.epochs} epochs in {display_path(d)}, not retraining")
    if todo:
        from gmvae import train as train_module  # TensorFlow is imported only when something is trained

        if data is None:
            data = load_data(data_path)
        for config, d in todo:
            say(f"{run_name} seed {config.seed}: training {config.epochs} epochs into {display_path(d)}", flush=True)
            started = time.perf_counter()
            with contextlib.nullcontext() if progress_bars else contextlib.redirect_stdout(io.StringIO()):
                # retrain: train moves the old run aside under the folder's lock (nothing is deleted)
                log = train_module.train(config, d, data=data, progress=progress_bars, retrain=retrain)
            last = log.iloc[-1] if len(log) else None
            summary = "" if last is None else (f": epoch {int(last['epoch'])}, test loss {last['test_loss']:.2f} nats, "
                                               f"H(y|x) {last['test_entropy']:.3f} nats, accuracy {last['test_accuracy']:.3f}")
            say(f"{run_name} seed {config.seed}: done in {time.perf_counter() - started:.1f} s{summary}", flush=True)
    return dirs


def runs_root(profile_name, results_dir, *, seeds=None, epochs=None) -> Path:
    """The folder whose runs/ a notebook (or ``reproduce``) trains into and reads, for these parameters.

    The profile's own seeds and epochs (parameters.is_profile_own): ``results_dir`` itself, whose runs are
    extended in place as the profile asks. Other parameters: the scratch folder (parameters.scratch_dir), into
    which each run of ``results_dir/runs`` that they can use (the same configuration but for the epochs) is first
    copied, unless the scratch folder already holds that run; so reading, extending or retraining with them never
    changes ``results_dir/runs``, and runs of other seeds are trained there too."""
    results_dir = resolve_path(results_dir)
    if is_profile_own(profile_name, seeds, epochs):
        return results_dir
    scratch = scratch_dir(results_dir, profile_name, seeds, epochs)
    profile = get_profile(profile_name)
    seeds = seed_list(seeds)
    for run_name in profile.seeds:
        for config in profile.configs(run_name, seeds=seeds, epochs=epochs):
            source, copy = runs.run_dir(results_dir, run_name, config.seed), runs.run_dir(scratch, run_name, config.seed)
            if runs.read_record(copy) is None and run_state(source, config) in ("complete", "partial"):
                _copy_run(source, copy)
    return scratch


def _copy_run(source: Path, copy: Path) -> None:
    """A run's files (log.csv, run.json, checkpoints/) copied into another run folder, run.json last (a folder
    without it is absent to run_state)."""
    copy.mkdir(parents=True, exist_ok=True)
    for name in [n for n in runs.RUN_FILES if n != "run.json"] + ["run.json"]:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, copy / name, dirs_exist_ok=True)
        elif path.is_file():
            shutil.copy2(path, copy / name)


def pending_runs(profile_name, results_dir, *, seeds=None, epochs=None, retrain=False) -> list[tuple[TrainConfig, Path]]:
    """Every run of the profile still to train, (config, run folder), in the profile's order: all of them with
    ``retrain``, else those not complete. Raises ValueError for a folder holding another configuration."""
    profile = get_profile(profile_name)
    results_dir = resolve_path(results_dir)
    todo = []
    for run_name in profile.seeds:
        for config in profile.configs(run_name, seeds=seeds, epochs=epochs):
            d = runs.run_dir(results_dir, run_name, config.seed)
            state = run_state(d, config)
            if state == "mismatch" and not retrain:
                diffs = config.differences(runs.read_record(d)["config"])
                raise ValueError(f"{d} holds a run with another configuration ({'; '.join(diffs)}), probably from "
                                 f"another profile. Use another results folder, or retrain to replace it.")
            if retrain or state != "complete":
                todo.append((config, d))
    return todo


def _silent(*args, **kwargs) -> None:
    pass


RECORD_ALL_EPOCHS = 60  # longer logs show every tenth epoch (and the first ten and the last)


def training_record(run_dirs, profile=None, epochs=None, *, epoch_lines=True) -> str:
    """Each run's log.csv as the lines training prints, one per epoch: what a notebook shows of its
    runs, the same whether they were trained just now or long ago. With ``profile``, each log is cut where the
    profile (or ``epochs``) stops that run, as its figures are: the cpu profile shows 50 epochs of a 200-epoch run.
    ``epoch_lines`` False: only each run's first line (its log, epochs and precision) and its NaN, for a notebook
    that shows the epochs as a table (gmvae.reporting.chapters.training_table)."""
    lines = []
    for d in run_dirs:
        record = runs.read_record(d) or {}
        config = TrainConfig.from_dict(record["config"]) if record.get("config") else None
        log = runs.read_log(d)
        if config is None or log.empty:
            lines.append(f"{display_path(d)}: no log")
            continue
        logged = len(log)
        # the folder names the profile's run (a run whose "auto" precision became float32 is still its profile's)
        run_name = Path(d).parent.name
        cut = None if profile is None else profile_epochs(profile, epochs, run_name)
        if cut is not None:
            log = log[log["epoch"] <= cut]
        last = int(log["epoch"].max())
        shown = log if len(log) <= RECORD_ALL_EPOCHS else log[(log["epoch"] <= 10) | (log["epoch"] % 10 == 0)
                                                              | (log["epoch"] == last)]
        of = f" of its {logged}" if len(log) < logged else ""
        lines.append(f"{run_name} seed {config.seed}: {display_path(d)}/log.csv, {len(log)} epochs{of} in "
                     f"{config.precision}" + ("" if len(shown) == len(log) or not epoch_lines else " (every tenth shown)"))
        if epoch_lines:
            lines += [runs.epoch_line(config, row, run_name) for _, row in shown.iterrows()]
        nan_epoch = (record.get("status") or {}).get("nan_epoch")
        if nan_epoch is not None and (cut is None or nan_epoch <= cut):
            lines.append(f"{run_name} seed {config.seed}: the loss became non-finite in epoch {nan_epoch}")
    return "\n".join(lines)


def load_profile_runs(profile, run_names, results_dir, *, seeds=None, epochs=None) -> pd.DataFrame:
    """:func:`plots.load_runs` restricted to what the profile trains: each run name with the profile's
    seeds (or ``seeds``), cut at the profile's epochs (or ``epochs``), so longer logs (e.g. from the
    blog profile) in the same results folder draw at the requested horizon."""
    from gmvae.reporting import plots

    results_dir = resolve_path(results_dir)
    frames = [plots.load_runs(results_dir, [r],
                              seeds=profile_seeds(profile, r, seeds), max_epoch=profile_epochs(profile, epochs, r))
              for r in profile_run_names(profile, run_names)]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else plots.load_runs(results_dir, [])


# Runs of earlier protocols kept beside the current ones: folder under results_dir -> source label. The first
# two are the cpu profile with TFP's own Bernoulli log-likelihood, in float32 and in bfloat16 (the precision study).
EARLIER = "earlier"
KEPT_RUNS = {f"{EARLIER}/tfp_bernoulli_float32": "ours, TFP's Bernoulli, float32",
             f"{EARLIER}/tfp_bernoulli_mixed_bfloat16": "ours, TFP's Bernoulli, mixed_bfloat16",
             f"{EARLIER}/shuffled_first_pass": "ours, shuffled first pass"}
FLOAT32_SOURCE, BFLOAT16_SOURCE = KEPT_RUNS[f"{EARLIER}/tfp_bernoulli_float32"], \
    KEPT_RUNS[f"{EARLIER}/tfp_bernoulli_mixed_bfloat16"]


def load_kept_runs(results_dir, run_names) -> pd.DataFrame:
    """The logs of KEPT_RUNS found under results_dir, in the long form of plots.load_runs with their
    ``source`` label; empty if there are none."""
    from gmvae.reporting import plots

    frames = [plots.load_runs(resolve_path(results_dir) / folder, run_names).assign(source=label)
              for folder, label in KEPT_RUNS.items()]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else plots.load_runs(resolve_path(results_dir), [])


def summarize_runs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per run: last finite epoch and its test entropy, loss and accuracy; NaN epoch if any."""
    from gmvae.reporting.plots import final_values

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


def has_checkpoint(run_dir) -> bool:
    """Whether the run's TensorFlow checkpoint is on disk (it is not committed to git)."""
    ckpt = Path(run_dir) / "checkpoints"
    return ckpt.is_dir() and any(p.is_file() for p in ckpt.rglob("*"))


def best_replicate(df: pd.DataFrame, run_name: str, column: str = "test_accuracy"):
    """The seed of ``run_name`` with the highest final finite ``column``, or None."""
    from gmvae.reporting.plots import final_values

    f = final_values(df[df["run_name"] == run_name], column)
    return None if f.empty else int(f.sort_values([column, "seed"], ascending=[False, True])["seed"].iloc[0])
