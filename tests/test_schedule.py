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
