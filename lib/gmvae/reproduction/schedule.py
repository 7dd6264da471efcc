"""A profile's training time on N nodes, on paper, from epoch times measured in run logs.

Each node of 2 cores trains two runs at once, one per core (docs/performance.md), so it offers 2 slots. The
runs go out in the profile's order, each to the first slot that is free, as the Ray executor's queue hands
them out; a run takes its epochs times the median epoch time its model measured on one core beside another
run. The longest run bounds the wall time however many nodes there are. A run that stops at a NaN ends
sooner; on paper every run trains all its epochs.

    python -m gmvae.reproduction.schedule results/executor_timing/local/runs --profile blog

The command line estimates a plan the same way before it starts one (`train` and `reproduce` refuse a plan of
more than LONG_PLAN_HOURS without --long), from MEASURED_EPOCH_SECONDS.
"""

from __future__ import annotations

import argparse
import heapq
from pathlib import Path

import numpy as np

from gmvae import runs
from gmvae.config import TrainConfig
from gmvae.reproduction.profiles import get_profile

# The pace every estimate of the command line assumes: each model's median epoch time in seconds (500 iterations
# of batch 100 at K = 10, and the evaluation), one run per core beside another run, on 2 cores of an AMD EPYC
# (family 25, model 17) in bfloat16: median_epoch_seconds() of results/executor_timing/local/runs, to 3
# significant digits (tests/test_schedule.py checks them against those logs).
MEASURED_EPOCH_SECONDS = {"gmvae": 27.9, "m2": 27.3, "m2_iaf": 46.1, "modified_m2": 23.1}
MEASURED_ON = "2 cores of an AMD EPYC (family 25, model 17) in bfloat16, one run per core"
MEASURED_SIZE = (500, 100, 10)  # iterations per epoch, batch size and K of the measured epochs
LONG_PLAN_HOURS = 3.0           # a longer plan needs --long


def wall_time(run_seconds: list[float], slots: int) -> float:
    """Seconds until the last run ends when the runs, in this order, each take the first free slot."""
    free_at = [0.0] * slots
    for seconds in run_seconds:
        heapq.heappush(free_at, heapq.heappop(free_at) + seconds)
    return max(free_at)


def median_epoch_seconds(runs_dir) -> dict[str, float]:
    """Model (m2, modified_m2, gmvae, m2_iaf) -> the median epoch time of every run of it under ``runs_dir``
    (<runs_dir>/<run_name>/seed<k>/ folders)."""
    seconds: dict[str, list[float]] = {}
    for run_json in sorted(Path(runs_dir).glob("*/seed*/run.json")):
        model = runs.read_record(run_json.parent)["config"]["model"]
        seconds.setdefault(model, []).extend(runs.read_log(run_json.parent)["seconds"].dropna())
    return {model: float(np.median(values)) for model, values in seconds.items()}


def profile_run_seconds(profile_name: str, epoch_seconds: dict[str, float]) -> list[float]:
    """Each run of the profile, in its order: its epochs at its model's epoch time."""
    profile = get_profile(profile_name)
    configs = [c for name in profile.seeds for c in profile.configs(name)]
    missing = {c.model for c in configs} - set(epoch_seconds)
    if missing:
        raise ValueError(f"no measured epoch time for {', '.join(sorted(missing))}")
    return [c.epochs * epoch_seconds[c.model] for c in configs]


def wall_time_table(profile_name: str, epoch_seconds: dict[str, float], nodes=(1, 2, 4, 8, 9),
                    slots_per_node: int = 2) -> list[tuple[int, float]]:
    """(nodes, hours) for each number of nodes."""
    run_seconds = profile_run_seconds(profile_name, epoch_seconds)
    return [(n, wall_time(run_seconds, n * slots_per_node) / 3600) for n in nodes]


def epoch_seconds(config: TrainConfig) -> float:
    """An epoch of ``config`` at the measured pace: its model's MEASURED_EPOCH_SECONDS (a model of your own, never
    measured: the slowest measured model's, so that the estimate errs long), scaled by iterations x batch size x K
    (a step's cost grows about linearly in batch size and K: docs/performance.md)."""
    iterations, batch_size, k = MEASURED_SIZE
    scale = (config.iters_per_epoch / iterations) * (config.batch_size / batch_size) * (config.k / k)
    return MEASURED_EPOCH_SECONDS.get(config.model, max(MEASURED_EPOCH_SECONDS.values())) * scale


def epochs_to_train(config: TrainConfig, run_dir, *, retrain: bool = False) -> int:
    """The epochs ``train`` would train in ``run_dir``: all of them with ``retrain`` or without a record there;
    none once the run holds ``config.epochs`` or stopped at a NaN; else those after its completed epochs, or all
    of them when it has no checkpoint to resume from (checkpoints are not committed)."""
    record = None if retrain else runs.read_record(run_dir)
    if record is None:
        return config.epochs
    status = record.get("status") or {}
    done = int(status.get("completed_epochs") or 0)
    if status.get("nan_epoch") is not None or done >= config.epochs:
        return 0
    resumable = (Path(run_dir) / "checkpoints" / "checkpoint").exists()
    return config.epochs - done if resumable else config.epochs


def plan_hours(todo, slots: int, *, retrain: bool = False) -> tuple[float, int]:
    """(hours, epochs) of training the (config, run folder) pairs of ``todo`` at the measured pace, ``slots`` at a
    time, in their order."""
    epochs = [epochs_to_train(config, run_dir, retrain=retrain) for config, run_dir in todo]
    seconds = [n * epoch_seconds(config) for n, (config, _) in zip(epochs, todo)]
    return wall_time(seconds, max(1, slots)) / 3600, sum(epochs)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gmvae.reproduction.schedule",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("runs_dir", type=Path, help="run folders whose logs give each model's epoch time")
    parser.add_argument("--profile", default="blog")
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 4, 8, 9])
    args = parser.parse_args(argv)
    epoch_seconds = median_epoch_seconds(args.runs_dir)
    print("median epoch, one core each, two runs per node: "
          + ", ".join(f"{model} {s:.1f} s" for model, s in sorted(epoch_seconds.items())))
    print(f"| nodes of 2 cores | {args.profile} profile, hours |\n|---:|---:|")
    for n, hours in wall_time_table(args.profile, epoch_seconds, args.nodes):
        print(f"| {n} | {hours:.1f} |")


if __name__ == "__main__":
    main()
