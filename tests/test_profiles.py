"""The profiles' schedules, and the clipping threshold of the post profile as its rule gives it."""

from __future__ import annotations

import dataclasses

import pytest

from gmvae.config import TrainConfig
from gmvae import runs
from gmvae.reproduction import profiles
from gmvae.reproduction.parameters import PROJECT_ROOT


def test_the_clipping_threshold_is_ten_times_the_median_of_the_first_twenty_epochs_median_norms():
    """Medians 2, 4, ..., 40 then 1000s that must not count: median 21, times 10 is 210; 2.46 x 20 -> 24.6 -> 25."""
    assert profiles.clipping_threshold([*range(2, 41, 2), 1000, 1000]) == 210.0
    assert profiles.clipping_threshold([2.46] * 20) == 25.0
    with pytest.raises(ValueError, match="20 epochs"):
        profiles.clipping_threshold(range(1, 20))


def test_the_post_profiles_clipping_threshold_is_the_rule_applied_to_the_committed_unclipped_run():
    run = PROJECT_ROOT / "results" / "clip_norm" / "runs" / "modified_m2" / "seed0"
    config = dataclasses.asdict(TrainConfig.from_dict(runs.read_record(run)["config"]))  # with fields added since
    post = profiles.get_profile("post")
    # the first epochs of the post profile's unclipped modified M2, seed 0
    assert {**config, "epochs": 300} == dataclasses.asdict(post.configs("modified_m2")[0].replace(precision=config["precision"]))
    assert profiles.CLIP_NORM == profiles.clipping_threshold(runs.read_log(run)["grad_norm_median"]) == 480.0
    clipped = post.configs("modified_m2_clip")
    assert [c.clip_norm for c in clipped] == [profiles.CLIP_NORM] * 3 and {c.epochs for c in clipped} == {300}
    assert [c.seed for c in clipped] == [c.seed for c in post.configs("modified_m2")]


def test_the_cpu_profiles_runs_are_the_first_fifty_epochs_of_the_post_profiles():
    """Same seeds, same folders, same configuration but the epochs: a cpu run is a post run read to 50."""
    cpu, post = profiles.get_profile("cpu"), profiles.get_profile("post")
    for run_name in ("m2", "modified_m2", "gmvae"):
        assert set(cpu.seeds[run_name]) <= set(post.seeds[run_name])
        for short, long in zip(cpu.configs(run_name), post.configs(run_name)):
            assert short.replace(epochs=long.epochs) == long and short.epochs == 50 < long.epochs
    assert {c.epochs for c in post.configs("modified_m2")} == {300}
    assert {c.epochs for r in ("m2", "gmvae") for c in post.configs(r)} == {200}
    assert (len(post.seeds["gmvae"]), len(post.seeds["modified_m2"]), len(post.seeds["m2"])) == (6, 3, 4)
    for run_name in ("m2_iaf", "m2_eta0"):  # the open question's variants: the cpu profile's runs, not longer
        assert post.configs(run_name) == cpu.configs(run_name)


def test_the_nan_profile_trains_and_runs_no_notebook(tmp_path, monkeypatch):
    """Its runs are drawn by `make figures` (the drift figure), not by the chapters, whose models it does not train."""
    from gmvae.reproduction import notebook_runner

    ran = []
    monkeypatch.setattr(notebook_runner, "pending_runs", lambda *args, **kwargs: [])
    monkeypatch.setattr(notebook_runner, "run_notebook", lambda name, *args, **kwargs: ran.append(name) or tmp_path / name)
    assert notebook_runner.reproduce("nan", tmp_path) == [] and ran == []
    notebook_runner.reproduce("smoke", tmp_path)
    assert ran == notebook_runner.NOTEBOOKS
