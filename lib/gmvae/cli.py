"""Command line: python -m gmvae {train, reproduce, figures, bench}.

    python -m gmvae train --model gmvae --epochs 10 --seed 0 --out results/runs/gmvae/seed0
    python -m gmvae train --model m2 --profile smoke --out /tmp/m2      # the smoke schedule
    python -m gmvae train --profile post --run modified_m2_clip --seed 1 --out results/runs/modified_m2_clip/seed1
    python -m gmvae reproduce --profile cpu [--out results]
    python -m gmvae reproduce --profile post --executor ray --address auto   # the runs as tasks on a Ray cluster
    python -m gmvae figures [--results results]
    python -m gmvae bench [--models gmvae] [--k 5 10 20] [--batch-size 50 100 200]

Arguments are checked before anything heavy is imported or trained: a bad one ends in a one-line
error and exit status 2. A run folder that is damaged, holds another configuration or is in use by
another process ends in one too, with exit status 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from gmvae.config import DECODER_FIRST, FIRST_PASSES, IMPLEMENTATIONS, MODELS, PRECISIONS, TrainConfig
from gmvae.machine import precision_override
from gmvae.reproduction.parameters import EXECUTORS
from gmvae.reproduction.profiles import PROFILES

_CHOICES = {"model": MODELS, "decoder_first": DECODER_FIRST, "precision": PRECISIONS, "first_pass": FIRST_PASSES,
            "implementation": IMPLEMENTATIONS}
_TYPES = {"int": int, "float": float, "str": str, "float | None": float}


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One --flag per TrainConfig field; unset flags fall back to the profile, then the defaults."""
    for field in dataclasses.fields(TrainConfig):
        parser.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name, type=_TYPES[field.type],
                            choices=_CHOICES.get(field.name), default=None,
                            help=f"default: {field.default}")


def _writable_folder(parser, path: Path, what: str) -> None:
    existing = next((p for p in [path, *path.parents] if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
        parser.error(f"{what} {path} cannot be written (no write permission on {existing})")


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gmvae", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train one model (resumes or extends the run in --out)")
    _add_config_arguments(train)
    train.add_argument("--profile", choices=list(PROFILES), help="take the schedule of a profile (e.g. smoke)")
    train.add_argument("--run", help="one of the profile's runs, e.g. m2_eta0 or modified_m2_clip: its model and "
                                     "settings, as reproduce trains it (needs --profile)")
    train.add_argument("--out", type=Path, required=True, help="the run's folder: log.csv, run.json, checkpoints/")
    train.add_argument("--data", type=Path, help="mnist.npz (default: $GMVAE_MNIST, the cache, or a download)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--retrain", action="store_true",
                       help="train from epoch 1 even if --out holds a run (e.g. a damaged one): its log.csv, run.json "
                            "and checkpoints/ are first moved into --out/previous-<date-time>/, nothing is deleted")
    train.add_argument("--wait", action="store_true",
                       help="if another process is training in --out, wait for it to finish (default: stop with an error)")

    reproduce = commands.add_parser("reproduce", help="run every notebook headless with papermill")
    reproduce.add_argument("--profile", choices=list(PROFILES), default="cpu")
    reproduce.add_argument("--out", type=Path, default=Path("results"))
    reproduce.add_argument("--data", type=Path)
    reproduce.add_argument("--seeds", type=int, nargs="+", help="replicates (default: the profile's)")
    reproduce.add_argument("--epochs", type=_non_negative_int, help="epochs of every run (default: the profile's)")
    reproduce.add_argument("--retrain", action="store_true", help="delete existing runs and train them again")
    reproduce.add_argument("--jobs", type=_positive_int,
                           help="runs trained at once on this machine, each pinned to a core (default: one per core)")
    reproduce.add_argument("--train-only", action="store_true",
                           help="train the missing runs, then stop (the notebooks draw later, from the logs)")
    reproduce.add_argument("--executor", choices=EXECUTORS, default="local",
                           help="where the runs train: this machine (default), or a Ray cluster (pip install -e '.[ray]')")
    reproduce.add_argument("--address", help="with --executor ray: the cluster's head, host:port or 'auto' "
                                             "(default: a Ray started on this machine for the command)")
    reproduce.add_argument("--cpus-per-run", type=_positive_float, default=1.0,
                           help="with --executor ray: CPUs a run's task asks for (default: 1)")
    reproduce.add_argument("--gpus-per-run", type=_non_negative_float, default=0.0,
                           help="with --executor ray: GPUs a run's task asks for (default: 0)")

    figures = commands.add_parser("figures", help="redraw every figure and table from results/ (logs and saved figure data), without training")
    figures.add_argument("--results", type=Path, default=Path("results"))

    nan_check = commands.add_parser("nan-check", help="run a NaN run's last epoch again from its checkpoint with "
                                                      "TensorFlow's numeric checks; name the first non-finite op")
    nan_check.add_argument("run_dir", type=Path, help="a run folder whose run.json has a nan_epoch, with its checkpoints")
    nan_check.add_argument("--data", type=Path, help="MNIST .npz (default: $GMVAE_MNIST, then the cache)")

    commands.add_parser("bench", add_help=False,  # its options belong to gmvae.speed.bench's own parser
                        help="time the training step against a straightforward baseline (python -m gmvae bench --help)")
    return parser


def _train_config(parser, args) -> TrainConfig:
    """The flags over the settings of the profile's --run, over the profile's schedule (its epochs for the run's
    model variant, e.g. 300 for the post profile's modified M2), over TrainConfig's defaults."""
    profile = PROFILES[args.profile] if args.profile else None
    variant = {}
    if args.run is not None:
        if profile is None or args.run not in profile.seeds:
            trains = f": profile {profile.name!r} trains {', '.join(profile.seeds)}" if profile else ""
            parser.error(f"--run {args.run} needs a --profile that trains it{trains}")
        variant = profile.settings(args.run)
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if getattr(args, f.name) is not None}
    try:
        config = (profile.base if profile else TrainConfig()).replace(**{**variant, **overrides})
    except ValueError as error:
        parser.error(str(error))
    if profile and args.epochs is None:
        config = config.replace(epochs=profile.epochs.get(args.run or config.run_name, profile.base.epochs))
    return config


def _check_executor_flags(parser, args) -> None:
    given = {"--address": args.address is not None, "--cpus-per-run": args.cpus_per_run != 1,
             "--gpus-per-run": args.gpus_per_run != 0}
    ray_only = [flag for flag, is_given in given.items() if is_given]
    if args.executor != "ray" and ray_only:
        parser.error(f"{', '.join(ray_only)}: only with --executor ray")
    if args.executor == "ray" and args.jobs is not None:
        parser.error("--jobs applies to the local executor; on Ray, --cpus-per-run sets how many runs share a node")


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        precision_override()
    except ValueError as error:
        parser.error(str(error))
    if args.command == "train":
        config = _train_config(parser, args)
        _writable_folder(parser, args.out, "--out")
        if args.data is not None and not args.data.is_file():
            parser.error(f"--data {args.data} is not a file")
        from gmvae.data import DataError
        from gmvae.runs import DamagedRunError, RunLockedError
        from gmvae.train import RunMismatchError, train
        try:
            log = train(config, args.out, data_path=args.data, progress=not args.no_progress,
                        retrain=args.retrain, wait=args.wait)
        except (DataError, RunMismatchError, DamagedRunError, RunLockedError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        if len(log):
            print(log.tail(1).to_string(index=False))
        return 0
    if args.command == "nan-check":
        from gmvae.data import DataError
        from gmvae.nan_check import REPORT, check_run
        from gmvae.runs import DamagedRunError
        try:
            report = check_run(args.run_dir, data_path=args.data)
        except (DataError, DamagedRunError, FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        found = report["first_non_finite"]
        if found is None:
            print(f"{args.run_dir}, epoch {report['epoch']}: {report['note']}")
        else:
            born = ", ".join(sorted({b["op"] for b in found.get("born_at", [])})) or found["op"]
            print(f"{args.run_dir}, epoch {report['epoch']}, step {report['step']}: the first non-finite values come "
                  f"from {born}")
        print(f"the report: {args.run_dir / REPORT}")
        return 0
    if args.command in ("reproduce", "figures"):
        from gmvae.data import DataError
        from gmvae.reproduction.local_training import TrainingError
        from gmvae.reproduction.notebook_runner import NotebookError
        from gmvae.reproduction.ray_training import RayMissingError
        from gmvae.runs import DamagedRunError, RunLockedError
        try:
            if args.command == "reproduce":
                from gmvae.reproduction.notebook_runner import reproduce

                _writable_folder(parser, args.out, "--out")
                _check_executor_flags(parser, args)
                reproduce(args.profile, args.out, data_path=args.data, seeds=args.seeds, epochs=args.epochs,
                          retrain=args.retrain, jobs=args.jobs, notebooks=[] if args.train_only else None,
                          executor=args.executor, address=args.address,
                          cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run)
            else:
                from gmvae.reporting.figures import redraw_figures

                redraw_figures(args.results)
        except (ValueError, FileNotFoundError, NotebookError, DamagedRunError, TrainingError, RayMissingError,
                RunLockedError, DataError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        return 0
    from gmvae.data import DataError
    from gmvae.speed.bench import main as bench_main
    try:
        return bench_main(extra)
    except (DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
