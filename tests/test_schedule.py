"""A profile's wall time on N nodes, on paper: runs in the profile's order, each to the first free slot."""

import dataclasses

import pandas as pd
import pytest

from gmvae import runs
from gmvae.config import TrainConfig
from gmvae.reproduction import schedule
from gmvae.reproduction.profiles import get_profile


@pytest.mark.parametrize("slots, seconds_by_hand", [
    (1, 13),  # one after another: 5 + 3 + 3 + 2
    (2, 7),   # 5 on A, 3 on B; the second 3 on B (free at 3) ends at 6, the 2 on A (free at 5) at 7
    (3, 5),   # 5, 3, 3 on A, B, C; the 2 on B (free at 3) ends at 5
    (9, 5),   # a slot each: the longest run
])
def test_each_run_takes_the_first_free_slot_in_order(slots, seconds_by_hand):
    assert schedule.wall_time([5, 3, 3, 2], slots) == seconds_by_hand


def test_the_blog_profile_on_nodes_of_two_slots_by_hand():
    """17 runs of 1000 epochs; at 3.6 s an epoch each run takes an hour, so n nodes take ceil(17 / 2n) hours."""
    epoch_seconds = {"m2": 3.6, "modified_m2": 3.6, "gmvae": 3.6, "m2_iaf": 3.6}
    assert schedule.wall_time_table("blog", epoch_seconds, nodes=(1, 2, 4, 8, 9)) == [
        (1, 9.0), (2, 5.0), (4, 3.0), (8, 2.0), (9, 1.0)]
    slower_gmvae = schedule.profile_run_seconds("blog", {**epoch_seconds, "gmvae": 7.2})
    assert sorted(slower_gmvae) == [3600.0] * 11 + [7200.0] * 6


def test_a_model_without_a_measured_epoch_time_is_named():
    with pytest.raises(ValueError, match="no measured epoch time for gmvae, m2_iaf"):
        schedule.profile_run_seconds("blog", {"m2": 1.0, "modified_m2": 1.0})


def test_each_models_epoch_time_is_the_median_over_its_runs(tmp_path):
    for name, seed, config, seconds in [("gmvae", 0, TrainConfig(model="gmvae"), [1.0, 2.0, 3.0]),
                                        ("gmvae", 1, TrainConfig(model="gmvae", seed=1), [10.0]),
                                        ("m2_eta0", 0, TrainConfig(model="m2", kl_y_weight=0.0), [4.0, 6.0])]:
        folder = runs.run_dir(tmp_path, name, seed)
        runs.write_log(folder, pd.DataFrame({"epoch": range(1, len(seconds) + 1), "seconds": seconds})
                       .reindex(columns=runs.LOG_COLUMNS))
        runs.write_record(folder, {"config": dataclasses.asdict(config), "status": {}})
    assert schedule.median_epoch_seconds(tmp_path / "runs") == {"gmvae": 2.5, "m2": 5.0}


def test_the_pace_the_command_line_assumes_is_the_measured_one():
    """MEASURED_EPOCH_SECONDS: each model's median epoch in results/executor_timing/local/runs, to 3 digits."""
    from pathlib import Path

    measured = schedule.median_epoch_seconds(Path(__file__).parents[1] / "results/executor_timing/local/runs")
    assert {model: float(f"{seconds:.3g}") for model, seconds in measured.items()} == schedule.MEASURED_EPOCH_SECONDS
    hours, epochs = schedule.plan_hours([(c, "nowhere") for name in get_profile("cpu").seeds
                                         for c in get_profile("cpu").configs(name)], 2)
    assert (round(hours, 1), epochs) == (1.3, 300)          # the cpu profile's time, as the README gives it


# Each model its own epoch time, so that a run priced at another model's time, at another run's epochs or out of
# the profile's order changes a sum below. The variants take their model's time (modified_m2_clip and the decoder
# variants modified M2's, m2_eta0 M2's).
DISTINCT_EPOCH_SECONDS = {"m2": 1.0, "modified_m2": 2.5, "gmvae": 3.0, "m2_iaf": 4.0}


@pytest.mark.parametrize("profile, run_seconds, one_slot, two_slots, four_slots", [
    # m2 50 x 1, modified_m2 50 x 2.5, gmvae 50 x 3 twice, m2_iaf 50 x 4, m2_eta0 50 x 1 (model m2).
    # 2 slots: m2 A=50, modified B=125, gmvae A=200, gmvae B=275, iaf A=400, eta0 B=325.
    # 4 slots: m2 50, modified 125, gmvae 150, gmvae 150; iaf on the slot free at 50: 250; eta0 at 125: 175.
    ("cpu", [50.0, 125.0, 150.0, 150.0, 200.0, 50.0], 725.0, 400.0, 250.0),
    # gmvae 200 x 3 six times, modified_m2 300 x 2.5 three times and its clipped runs the same (300 epochs, model
    # modified_m2), m2 200 x 1 four times, then m2_iaf 50 x 4 and m2_eta0 50 x 1: 3600 + 4500 + 800 + 250 = 9150 on one
    # slot.
    # 2 slots: gmvae three each (1800), the six 750s three each (4050), m2 two each (4450); iaf 4650, eta0 4500.
    # 4 slots: gmvae 600, 600, 1200, 1200; the 750s to 1350, 1350, 1950, 1950, 2100, 2100; m2 2150, 2150, 2300, 2300;
    # iaf on a slot free at 2150: 2350; eta0 on the other: 2200.
    ("post", [600.0] * 6 + [750.0] * 6 + [200.0] * 4 + [200.0, 50.0], 9150.0, 4650.0, 2350.0),
    # 1000 epochs each: m2 x4 (1000), modified_m2 x3 and its two decoder variants (2500), gmvae x6 (3000), m2_iaf
    # (4000), m2_eta0 (1000): 4000 + 12500 + 18000 + 4000 + 1000 = 39500 on one slot.
    # 2 slots: m2 2000 each; the 2500s 4500, 4500, 7000, 7000, 9500 (A); gmvae B 10000, A 12500, B 13000, A 15500,
    # B 16000, A 18500; iaf on B: 20000; eta0 on A: 19500.
    # 4 slots: m2 1000 each; the 2500s 3500 x4, 6000; gmvae 6500, 6500, 6500, 9000, 9500, 9500; iaf on the slot free
    # at 6500: 10500; eta0 at 9000: 10000.
    ("blog", [1000.0] * 4 + [2500.0] * 5 + [3000.0] * 6 + [4000.0, 1000.0], 39500.0, 20000.0, 10500.0),
])
def test_each_profiles_runs_in_order_at_their_own_epochs_and_their_models_pace_by_hand(
        profile, run_seconds, one_slot, two_slots, four_slots):
    assert schedule.profile_run_seconds(profile, DISTINCT_EPOCH_SECONDS) == run_seconds
    table = schedule.wall_time_table(profile, DISTINCT_EPOCH_SECONDS, nodes=(1, 2, 4), slots_per_node=1)
    assert [hours * 3600 for _, hours in table] == pytest.approx([one_slot, two_slots, four_slots])
    todo = [(config, "nowhere") for name in get_profile(profile).seeds for config in get_profile(profile).configs(name)]
    hours, epochs = schedule.plan_hours(todo, 1)
    epochs_by_hand = {"cpu": 6 * 50, "post": 6 * 200 + 6 * 300 + 4 * 200 + 2 * 50, "blog": 17 * 1000}[profile]
    assert epochs == epochs_by_hand


def test_the_post_profile_at_the_measured_pace_by_hand():
    """gmvae 6 x 200 x 27.9 s = 33,480 s; modified M2 and its clipped runs 6 x 300 x 23.1 s = 41,580 s; M2 4 x 200 x
    27.3 s = 21,840 s; m2_iaf 50 x 46.1 s = 2,305 s; m2_eta0 50 x 27.3 s = 1,365 s: 100,570 s on one core. On two,
    each slot takes three GMVAE runs, three modified M2 runs and two M2 runs (48,450 s), then one slot m2_iaf and the
    other m2_eta0: 50,755 s, 14.1 hours (the profile's "about 14 hours")."""
    post = get_profile("post")
    todo = [(config, "nowhere") for name in post.seeds for config in post.configs(name)]
    assert schedule.plan_hours(todo, 1) == (pytest.approx(100570 / 3600), 3900)
    assert schedule.plan_hours(todo, 2) == (pytest.approx(50755 / 3600), 3900)


def test_an_epoch_costs_in_proportion_to_iterations_batch_size_and_k(monkeypatch):
    """M2's measured 27.3 s for 500 iterations of 100 images at K = 10; half the iterations, twice the batch and
    twice K: 27.3 x 0.5 x 2 x 2 = 54.6 s. A model never measured is priced at the slowest, m2_iaf's 46.1 s."""
    config = TrainConfig(model="m2", iters_per_epoch=250, batch_size=200, k=20)
    assert schedule.epoch_seconds(config) == pytest.approx(54.6)
    monkeypatch.delitem(schedule.MEASURED_EPOCH_SECONDS, "gmvae")
    assert schedule.epoch_seconds(TrainConfig(model="gmvae")) == pytest.approx(46.1)


def test_a_plan_to_retrain_counts_the_epochs_of_complete_runs_too(tmp_path):
    """A complete run trains again under --retrain: 1000 epochs of GMVAE, 7.75 hours at 27.9 s."""
    config = TrainConfig(model="gmvae", epochs=1000)
    runs.write_record(tmp_path / "run", {"config": dataclasses.asdict(config), "status": {"completed_epochs": 1000}})
    assert schedule.plan_hours([(config, tmp_path / "run")], 2) == (0.0, 0)
    assert schedule.epochs_to_train(config, tmp_path / "run") == 0  # not retrained unless asked
    assert schedule.plan_hours([(config, tmp_path / "run")], 2, retrain=True) == (pytest.approx(7.75), 1000)


def test_the_command_line_prints_each_models_median_epoch_and_the_hours_for_each_number_of_nodes(tmp_path, capsys):
    """Every run of the cpu profile at 36 s an epoch (m2 and the rest) takes half an hour; its six runs on one node
    of two slots take three rounds, 1.5 hours, on two nodes two rounds (four slots, six runs), 1.0 hour."""
    for name, config, seconds in [("m2", TrainConfig(model="m2"), [30.0, 36.0, 40.0]),
                                  ("gmvae", TrainConfig(model="gmvae"), [36.0]),
                                  ("modified_m2", TrainConfig(model="modified_m2"), [36.0]),
                                  ("m2_iaf", TrainConfig(model="m2_iaf"), [36.0])]:
        folder = runs.run_dir(tmp_path, name, 0)
        runs.write_log(folder, pd.DataFrame({"epoch": range(1, len(seconds) + 1), "seconds": seconds})
                       .reindex(columns=runs.LOG_COLUMNS))
        runs.write_record(folder, {"config": dataclasses.asdict(config), "status": {}})
    schedule.main([str(tmp_path / "runs"), "--profile", "cpu", "--nodes", "1", "2"])
    assert capsys.readouterr().out.splitlines() == [
        "median epoch, one core each, two runs per node: gmvae 36.0 s, m2 36.0 s, m2_iaf 36.0 s, modified_m2 36.0 s",
        "| nodes of 2 cores | cpu profile, hours |",
        "|---:|---:|",
        "| 1 | 1.5 |",
        "| 2 | 1.0 |",
    ]
    # by default the blog profile, 17 runs of 1000 epochs (10 hours each at 36 s), on 1, 2, 4, 8 and 9 nodes of two
    # slots: 9, 5, 3, 2 and 1 rounds of runs
    schedule.main([str(tmp_path / "runs")])
    assert capsys.readouterr().out.splitlines()[1:] == [
        "| nodes of 2 cores | blog profile, hours |", "|---:|---:|",
        "| 1 | 90.0 |", "| 2 | 50.0 |", "| 4 | 30.0 |", "| 8 | 20.0 |", "| 9 | 10.0 |"]
    with pytest.raises(SystemExit):
        schedule.main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert help_text.startswith("usage: python -m gmvae.reproduction.schedule [-h] ")
    assert "A profile's training time on N nodes, on paper, from epoch times measured in run logs." in help_text
    assert "Each node of 2 cores" not in help_text  # the docstring's first paragraph only
    assert " runs_dir run folders whose logs give each model's epoch time options:" in help_text


def test_a_run_without_a_completed_epoch_trains_from_epoch_1(tmp_path):
    config = TrainConfig(model="gmvae", epochs=50)
    runs.write_record(tmp_path, {"config": dataclasses.asdict(config), "status": {}})
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-0"\n')
    assert schedule.epochs_to_train(config, tmp_path) == 50
