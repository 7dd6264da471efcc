"""A profile's training time on N nodes, on paper, from epoch times measured in run logs.

Each node of 2 cores trains two runs at once, one per core (docs/performance.md), so it offers 2 slots. The
runs go out in the profile's order, each to the first slot that is free, as the Ray executor's queue hands
them out; a run takes its epochs times the median epoch time its model measured on one core beside another
run. The longest run bounds the wall time however many nodes there are. A run that stops at a NaN ends
sooner; on paper every run trains all its epochs.

    python -m gmvae.reproduction.schedule results/executor_timing/local/runs --profile blog
"""

from __future__ import annotations

import argparse
import heapq
from pathlib import Path

import numpy as np

from gmvae import runs
from gmvae.reproduction.profiles import get_profile


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
