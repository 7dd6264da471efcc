"""Every function that picks an epoch, on logs whose values differ at every epoch and every seed: a value taken
at the wrong epoch (the previous one, the first instead of the last) is a wrong number here.

Each metric is a function of (epoch, seed) alone: accuracy 0.3 + epoch / 1000 + seed / 100, H(y|x) 2 - epoch /
100 - seed / 1000, loss 150 - epoch / 10 + seed / 10, so a value names the epoch and seed it came from.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from gmvae import runs
from gmvae.config import TrainConfig
from gmvae.reporting import agreement, claims, fidelity, plots, tables
from gmvae.reproduction import pipeline


def accuracy(epoch, seed):
    return 0.3 + epoch / 1000 + seed / 100


def entropy(epoch, seed):
    return 2 - epoch / 100 - seed / 1000


def loss(epoch, seed):
    return 150 - epoch / 10 + seed / 10


def log(epochs, seed, last_nan=False):
    e = np.arange(1, epochs + 1, dtype=float)
    frame = pd.DataFrame({c: np.zeros(epochs) for c in runs.LOG_COLUMNS})
    frame["epoch"] = e.astype(int)
    frame["test_accuracy"], frame["test_entropy"] = accuracy(e, seed), entropy(e, seed)
    frame["test_loss"] = frame["train_loss"] = loss(e, seed)
    frame["test_mutual_information"] = e / 100
    if last_nan:
        frame.loc[frame.index[-1], ["test_accuracy", "test_entropy", "test_loss", "train_loss"]] = np.nan
    return frame


def write(results, run_name, seed, epochs, *, last_nan=False, model=None):
    d = runs.run_dir(results, run_name, seed)
    runs.write_log(d, log(epochs, seed, last_nan))
    config = TrainConfig(model=model or run_name, seed=seed, epochs=epochs, precision="float32")
    runs.write_record(d, {"config": dataclasses.asdict(config),
                          "status": {"completed_epochs": epochs - last_nan, "nan_epoch": epochs if last_nan else None}})


def long_form(run_name, seeds_epochs, source="ours"):
    return pd.concat([log(epochs, seed).assign(run_name=run_name, seed=seed, source=source, nan_epoch=np.nan, k=10)
                      for seed, epochs in seeds_epochs.items()], ignore_index=True)


def test_final_values_are_each_runs_last_finite_epoch(tmp_path):
    write(tmp_path, "gmvae", 0, 37)
    write(tmp_path, "gmvae", 1, 23, last_nan=True)  # NaN at 23: its last finite epoch is 22
    final = plots.final_values(plots.load_runs(tmp_path, ["gmvae"]), "test_accuracy").set_index("seed")
    assert final.loc[0, "epoch"] == 37 and final.loc[0, "test_accuracy"] == pytest.approx(accuracy(37, 0))
    assert final.loc[1, "epoch"] == 22 and final.loc[1, "test_accuracy"] == pytest.approx(accuracy(22, 1))
    summary = pipeline.summarize_runs(plots.load_runs(tmp_path, ["gmvae"])).set_index("seed")
    assert summary.loc[1, "test_loss"] == pytest.approx(loss(22, 1)) and summary.loc[1, "nan_epoch"] == 23
    assert summary.loc[0, "test_entropy"] == pytest.approx(entropy(37, 0))


def test_the_best_replicate_is_best_at_its_last_epoch_not_before():
    """Seed 1 leads at every epoch both reached, but seed 0 runs longer and ends higher: 0.3 + 60 / 1000 = 0.36
    against 0.3 + 30 / 1000 + 0.01 = 0.34."""
    df = long_form("gmvae", {0: 60, 1: 30})
    assert pipeline.best_replicate(df, "gmvae") == 0


def test_a_longer_log_is_read_to_the_horizon_asked(tmp_path):
    write(tmp_path, "gmvae", 0, 250)  # longer than the post profile's 200 (a blog run, say)
    write(tmp_path, "modified_m2", 0, 300)
    cut = plots.load_runs(tmp_path, ["gmvae"], max_epoch=50)
    assert cut["epoch"].max() == 50 and cut["test_loss"].iloc[-1] == pytest.approx(loss(50, 0))
    cpu = pipeline.load_profile_runs("cpu", ["gmvae", "modified_m2"], tmp_path)
    assert cpu.groupby("run_name")["epoch"].max().to_dict() == {"gmvae": 50, "modified_m2": 50}
    post = pipeline.load_profile_runs("post", ["gmvae", "modified_m2"], tmp_path, seeds=[0])
    assert post.groupby("run_name")["epoch"].max().to_dict() == {"gmvae": 200, "modified_m2": 300}


def test_the_fidelity_table_takes_each_listed_epoch_and_our_last():
    ours, theirs = long_form("gmvae", {0: 33, 1: 33}), long_form("gmvae", {0: 60, 2: 60, 4: 60}, "original")
    table = fidelity.fidelity_table(ours, theirs)
    rows = table[(table["metric"] == "accuracy") & (table["run"] == "seed 1")].set_index("epoch")
    assert list(rows.index) == [1, 5, 10, 20, 33]
    for epoch, row in rows.iterrows():
        assert row["ours"] == pytest.approx(accuracy(epoch, 1))
        assert row["original_mean"] == pytest.approx(accuracy(epoch, 2))  # the mean of seeds 0, 2, 4
        # the five-epoch mean up to this epoch: the epochs max(1, epoch - 4) .. epoch
        window = np.arange(max(1, epoch - 4), epoch + 1)
        assert row["ours_last5"] == pytest.approx(accuracy(window, 1).mean())


def test_the_run_table_takes_epochs_10_20_50_and_the_last():
    table = tables.run_table(long_form("m2", {3: 57}))
    assert list(table["epoch"]) == ["10", "20", "50", "57 (last)"]
    assert list(table["loss [nats]"]) == [f"{loss(e, 3):.2f}" for e in (10, 20, 50, 57)]
    assert list(table["accuracy"]) == [f"{accuracy(e, 3):.3f}" for e in (10, 20, 50, 57)]


def test_the_claims_judge_one_model_at_its_last_epoch_and_compare_models_at_the_last_all_reached():
    """M2's entropy at its last epoch 23 is 2 - 0.23 = 1.77, below 2.2: not uniform; at epoch 1 it would pass.
    M2 ends at 23, modified M2 at 40, GMVAE at 31 (seed 0) and 20 (seed 1): the models are compared at 23, GMVAE
    seed 1 at its own last epoch, 20."""
    df = pd.concat([long_form("m2", {0: 23}), long_form("modified_m2", {0: 40}), long_form("gmvae", {0: 31, 1: 20})])
    table = claims.claims_table(df).set_index("claim")
    assert table.loc["M2's q(y|x) becomes uniform", "measured"] == "M2 H(y|x) 1.770 nats (epoch 23, 1 run)"
    assert table.loc["M2's q(y|x) becomes uniform", "verdict"] == "not supported"
    gmvae = np.mean([accuracy(23, 0), accuracy(20, 1)])
    assert table.loc["GMVAE clusters best", "measured"] == (
        f"M2 {accuracy(23, 0):.3f}, modified M2 {accuracy(23, 0):.3f}, GMVAE {gmvae:.3f} (epoch 23)")


def test_the_precision_agreement_takes_epochs_10_20_50_and_the_mean_over_all():
    reference = long_form("gmvae", {0: 50, 1: 50})
    other = long_form("gmvae", {0: 50})
    other["test_loss"] += other["epoch"] / 1000  # the gap grows with the epoch
    table = agreement.agreement_table(reference, other)
    rows = table[(table["metric"] == "loss") & (table["seed"] == 0)].set_index("epoch")
    for epoch in (10, 20, 50):
        assert rows.loc[str(epoch), "difference"] == pytest.approx(epoch / 1000)
        assert rows.loc[str(epoch), "other"] == pytest.approx(loss(epoch, 0) + epoch / 1000)
    assert rows.loc["mean, all epochs (1-50)", "difference"] == pytest.approx(np.arange(1, 51).mean() / 1000)
