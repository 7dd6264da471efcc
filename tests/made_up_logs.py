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


# ------------------------------------------------------------------------------------- a skewed results tree
# Our runs and the original's of every model the log figures draw, each value a function of (run, source, seed,
# epoch) alone (:func:`skewed_value`): it differs at every epoch and every seed. The replicates sit at SKEW (times a
# metric's scale) from each other, so that at every epoch the mean, median, min and max of any three or all four of
# them differ. Runs end at different epochs; our modified M2 seed 1 turns NaN at epoch 13, two of the original's
# modified M2 runs at 15 and 22; modified M2 trains longer than its clipped runs, as in the post profile.

SKEW = (0.0, 1.0, 3.0, 8.0)  # by the seed's place among its model's seeds
# run name -> {seed: its last logged epoch}
SKEWED_OURS = {
    "m2": {0: 20, 1: 20, 2: 17, 3: 20},
    "modified_m2": {0: 24, 1: 13, 2: 24, 3: 24},
    "modified_m2_clip": {0: 22, 1: 22, 2: 22, 3: 19},
    "gmvae": {1: 20, 3: 18, 4: 20, 6: 20},
    "m2_iaf": {0: 10, 1: 10, 2: 10},
    "m2_eta0": {0: 10, 1: 10, 2: 10},
    "modified_m2_identity": {0: 16, 1: 16, 2: 16},
    "modified_m2_relu_layer": {0: 12, 2: 12, 5: 12},
    "my_model": {0: 15, 1: 15, 2: 15},  # a model of a reader's own, drawn over the post's three to its epoch 15
}
SKEWED_ORIGINAL = {
    "m2": {0: 30, 1: 30, 2: 26},
    "modified_m2": {0: 30, 1: 30, 2: 30, 3: 30},
    "gmvae": {0: 520, 1: 30, 2: 505, 3: 510},  # three long runs, as the original's GMVAE logs
}
SKEWED_NAN = {"ours": {("modified_m2", 1): 13}, "original": {("modified_m2", 0): 22, ("modified_m2", 2): 15}}
SKEWED_CLIP_NORM = 480.0
SKEWED_METRICS = ("test_entropy", "test_loss", "test_accuracy", "test_mutual_information", "grad_norm_max")
# per metric: (slope over the epochs, scale of SKEW, level of each run name); the original's a fiftieth of the scale
# higher, within half a unit of the digit it logged (gmvae.reporting.fidelity), and ORIGINAL_SHIFT more
_SKEWED_LEVELS = {
    "test_entropy": (-0.01, 0.003, {"m2": 2.32, "modified_m2": 0.9, "modified_m2_clip": 0.95, "gmvae": 0.4,
                                    "m2_iaf": 2.1, "m2_eta0": 1.2, "modified_m2_identity": 0.7,
                                    "modified_m2_relu_layer": 0.8, "my_model": 0.6}),
    "test_loss": (-1.5, 0.5, {"m2": 95.0, "modified_m2": 104.0, "modified_m2_clip": 104.5, "gmvae": 99.0,
                              "m2_iaf": 96.0, "m2_eta0": 97.0, "modified_m2_identity": 102.0,
                              "modified_m2_relu_layer": 103.0, "my_model": 93.0}),
    "test_accuracy": (0.008, 0.01, {"m2": 0.05, "modified_m2": 0.55, "modified_m2_clip": 0.56, "gmvae": 0.72,
                                    "m2_iaf": 0.15, "m2_eta0": 0.30, "modified_m2_identity": 0.5,
                                    "modified_m2_relu_layer": 0.6, "my_model": 0.65}),
    "test_mutual_information": (0.002, 0.01, {"m2": 0.02, "modified_m2": 1.3, "modified_m2_clip": 1.31,
                                              "gmvae": 2.0, "m2_iaf": 0.5, "m2_eta0": 1.5, "modified_m2_identity": 1.2,
                                              "modified_m2_relu_layer": 1.4, "my_model": 1.6}),
    "grad_norm_max": (10.0, 20.0, {"m2": 100.0, "modified_m2": 300.0, "modified_m2_clip": 301.0, "gmvae": 150.0,
                                   "m2_iaf": 110.0, "m2_eta0": 120.0, "modified_m2_identity": 200.0,
                                   "modified_m2_relu_layer": 250.0, "my_model": 90.0}),
}

# The original's GMVAE clusters better: all four of its runs above 80 % at epoch 18, two of ours.
ORIGINAL_SHIFT = {("gmvae", "test_accuracy"): 0.05}


def skewed_value(metric, run_name, source, place, epoch):
    """``metric`` of the replicate at ``place`` among its model's seeds at ``epoch`` (a number or an array):
    rising or falling like a training curve, saturating, each replicate apart by SKEW and drifting by a little more
    each epoch."""
    slope, scale, levels = _SKEWED_LEVELS[metric]
    level = levels[run_name]
    if source == "original":
        level += 0.02 * scale + ORIGINAL_SHIFT.get((run_name, metric), 0.0)
    epoch = np.asarray(epoch, float)
    return level + slope * 10 * (1 - np.exp(-epoch / 10)) + scale * (SKEW[place] + 0.001 * (place + 1) * epoch)


def skewed_runs(source):
    """{(run name, seed): its values} of ``source`` ("ours" or "original"): a frame with the epochs 1 to its last, a
    column per SKEWED_METRICS (ours as a log keeps them), NaN (and grad_norm_max inf) from its NaN epoch on: ours
    stop there, the original's logs go on with NaN, as its logs do."""
    tree = SKEWED_OURS if source == "ours" else SKEWED_ORIGINAL
    values = {}
    for run_name, seeds in tree.items():
        for place, (seed, last) in enumerate(sorted(seeds.items())):
            epochs = np.arange(1, last + 1)
            frame = pd.DataFrame({"epoch": epochs, **{m: skewed_value(m, run_name, source, place, epochs)
                                                      for m in SKEWED_METRICS}})
            if source == "ours":  # to the 6 significant digits a log keeps (runs.write_log)
                frame[list(SKEWED_METRICS)] = frame[list(SKEWED_METRICS)].map(lambda v: float(f"{v:.6g}"))
            nan_epoch = SKEWED_NAN[source].get((run_name, seed))
            if nan_epoch is not None:
                frame.loc[frame["epoch"] >= nan_epoch, list(SKEWED_METRICS)] = np.nan
                frame.loc[frame["epoch"] >= nan_epoch, "grad_norm_max"] = np.inf
            values[run_name, seed] = frame
    return values


def write_skewed_tree(results_dir):
    """Our runs of :func:`skewed_runs` as run folders in ``results_dir``; returns the original's logs in the long
    form of gmvae.reporting.original.load_original_logs (which leaves out the gradient norms it never logged)."""
    from gmvae import runs

    for (run_name, seed), frame in skewed_runs("ours").items():
        log = pd.DataFrame({c: np.full(len(frame), 1.0) for c in runs.LOG_COLUMNS})
        log[list(frame.columns)] = frame.to_numpy()
        log["epoch"] = frame["epoch"].to_numpy()
        folder = runs.run_dir(results_dir, run_name, seed)
        runs.write_log(folder, log)
        nan_epoch = SKEWED_NAN["ours"].get((run_name, seed))
        runs.write_record(folder, {
            "config": {"k": 10, "iters_per_epoch": 500, "batch_size": 100, "precision": "float32",
                       "clip_norm": SKEWED_CLIP_NORM if run_name == "modified_m2_clip" else None},
            "status": {"completed_epochs": int(frame["epoch"].max()) - (nan_epoch is not None),
                       "nan_epoch": nan_epoch}})
    frames = []
    for (run_name, seed), frame in skewed_runs("original").items():
        nan_epoch = SKEWED_NAN["original"].get((run_name, seed), np.nan)
        frames.append(frame.drop(columns=["test_mutual_information", "grad_norm_max"]).assign(
            run_name=run_name, seed=seed, nan_epoch=float(nan_epoch), k=10, iters_per_epoch=500, batch_size=100,
            source="original"))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------------- a tree in a profile's shape
# Every run of a profile (its seeds, its epochs per run), as the chapters read them, so that they train nothing:
# the replicates apart by PLACE_SPREAD (times a metric's step) and every value changing with the epoch; a run of
# PROFILE_TREE_NAN stops at its NaN epoch, as a real one does.

PLACE_SPREAD = (0.0, 1.0, 3.0, 8.0, 13.0, 21.0)  # by the seed's place among its run's seeds
PROFILE_TREE_NAN = {("modified_m2", 1): 140}
PROCESSOR = "Made-up processor"
# per metric: (rise over the epochs, step per unit of PLACE_SPREAD, level of each run name at epoch 0)
_PROFILE_LEVELS = {
    "test_entropy": (-0.05, 0.00005, {"m2": 2.3, "modified_m2": 0.4, "modified_m2_clip": 0.42, "gmvae": 0.3,
                                       "m2_iaf": 1.0, "m2_eta0": 0.5}),
    "test_loss": (-10.0, 0.05, {"m2": 102.0, "modified_m2": 104.0, "modified_m2_clip": 104.2, "gmvae": 103.0,
                                "m2_iaf": 106.0, "m2_eta0": 105.0}),
    "test_accuracy": (0.1, 0.004, {"m2": 0.01, "modified_m2": 0.5, "modified_m2_clip": 0.51, "gmvae": 0.66,
                                   "m2_iaf": 0.1, "m2_eta0": 0.25}),
    "test_kl_y": (-0.05, 0.0001, {"m2": 0.06, "modified_m2": 2.0, "modified_m2_clip": 2.01, "gmvae": 2.1,
                                  "m2_iaf": 1.5, "m2_eta0": 1.9}),
    "test_mutual_information": (0.05, 0.001, {"m2": 0.0, "modified_m2": 1.6, "modified_m2_clip": 1.61, "gmvae": 1.8,
                                              "m2_iaf": 1.2, "m2_eta0": 1.4}),
    "grad_norm_max": (20.0, 1.0, {"m2": 60.0, "modified_m2": 90.0, "modified_m2_clip": 91.0, "gmvae": 70.0,
                                  "m2_iaf": 65.0, "m2_eta0": 62.0}),
}


def profile_value(metric, run_name, place, epoch):
    """``metric`` of the replicate at ``place`` among its run's seeds at ``epoch`` (a number or an array)."""
    rise, step, levels = _PROFILE_LEVELS[metric]
    epoch = np.asarray(epoch, float)
    return levels[run_name] + rise * (1 - np.exp(-epoch / 30)) + step * (PLACE_SPREAD[place] + 0.001 * (place + 1) * epoch)


def write_profile_tree(results_dir, profile_name: str) -> dict[tuple[str, int], pd.DataFrame]:
    """Every run of the profile as a finished run folder under ``results_dir``/runs; returns {(run name, seed): its
    log} with the values to the 6 significant digits a log keeps."""
    import dataclasses

    from gmvae import runs
    from gmvae.reproduction.profiles import get_profile

    profile, logs = get_profile(profile_name), {}
    for run_name in profile.seeds:
        for place, config in enumerate(profile.configs(run_name)):
            nan_epoch = PROFILE_TREE_NAN.get((run_name, config.seed))
            epochs = np.arange(1, (nan_epoch or config.epochs) + 1)
            log = pd.DataFrame({c: np.full(len(epochs), 1.0) for c in runs.LOG_COLUMNS})
            log["epoch"] = epochs
            for metric in _PROFILE_LEVELS:
                log[metric] = [float(f"{v:.6g}") for v in profile_value(metric, run_name, place, epochs)]
            if nan_epoch is not None:
                log.loc[log["epoch"] == nan_epoch, [c for c in runs.LOG_COLUMNS if c != "epoch"]] = np.nan
            folder = runs.run_dir(results_dir, run_name, config.seed)
            runs.write_log(folder, log)
            runs.write_record(folder, {
                "config": dataclasses.asdict(config.replace(precision="float32")),
                "status": {"completed_epochs": int(epochs[-1]) - (nan_epoch is not None), "nan_epoch": nan_epoch,
                           "finished": True, "train_seconds": float(len(epochs))},
                "provenance": {"command": "made up", "machine": {"processor": PROCESSOR}}})
            logs[run_name, config.seed] = log
    return logs
