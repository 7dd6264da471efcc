"""Command line: python -m gmvae {train, reproduce, figures, bench}.

    python -m gmvae train --model gmvae --epochs 10 --seed 0 --out results/runs/gmvae/seed0
    python -m gmvae train --model gmvae --out /tmp/gmvae       # no --epochs, no --profile: the cpu profile's 50 epochs
    python -m gmvae train --model m2 --profile smoke --out /tmp/m2      # the smoke schedule
    python -m gmvae train --profile post --run modified_m2_clip --seed 1 --out results/runs/modified_m2_clip/seed1
    python -m gmvae reproduce --profile cpu [--out results]
    python -m gmvae reproduce --profile post --long --executor ray --address auto   # the runs as tasks on a Ray cluster
    python -m gmvae figures [--results results]
    python -m gmvae bench [--models gmvae] [--k 5 10 20] [--batch-size 50 100 200]
    python -m gmvae --version

Arguments are checked before anything heavy is imported or trained: a bad one ends in a one-line
error under the subcommand's usage, and exit status 2. So does a plan estimated at more than
schedule.LONG_PLAN_HOURS without --long. A run folder that is damaged, holds another configuration or is in use by
another process ends in one line too, with exit status 1. `figures` imports no TensorFlow.

Models of your own: GMVAE_MODELS names modules (.py files or importable names, separated by os.pathsep) that
register them (gmvae.models.register_model); train, reproduce and nan-check import them first, and --model
takes their names. `figures` needs no model: it draws any run folder's log.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from gmvae import __version__
from gmvae.config import DECODER_FIRST, FIRST_PASSES, IMPLEMENTATIONS, MODELS, MODELS_ENV, PRECISIONS, TrainConfig
from gmvae.machine import precision_override
from gmvae.reproduction.parameters import EXECUTORS
from gmvae.reproduction.profiles import PROFILES
from gmvae.reproduction.schedule import (LONG_PLAN_HOURS, MEASURED_EPOCH_SECONDS, MEASURED_ON, MEASURED_SIZE,
                                         plan_hours)

# train without --epochs and without --profile takes this profile's schedule (TrainConfig's default epochs are
# the post's 1000: days on a laptop)
DEFAULT_TRAIN_PROFILE = "cpu"

_CHOICES = {"model": MODELS, "decoder_first": DECODER_FIRST, "precision": PRECISIONS, "first_pass": FIRST_PASSES,
            "implementation": IMPLEMENTATIONS}
_TYPES = {"int": int, "float": float, "str": str, "float | None": float}
_FIELD_HELP = {
    "model": "m2, modified_m2 (a Gaussian-mixture first decoder layer), gmvae, or m2_iaf (M2 with a flow posterior "
             "q(z|x,y)), or a model of your own that a module named by $GMVAE_MODELS registers "
             "(docs/your_own_model.md); a profile's run names (m2_eta0, modified_m2_clip, ...) go to --run",
    "epochs": "epochs to train (a run in --out resumes, or is extended to them)",
    "seed": "weights, data order, binarization and z noise all derive from it",
    "k": "categories of y",
    "z_dim": "dimensions of z",
    "hidden": "width of every hidden layer",
    "decoder_first": "modified M2 only: its first decoder nonlinearity",
    "batch_size": "examples per step",
    "first_pass": "order of the first pass over the training images (file_order: as the original)",
    "iters_per_epoch": "steps per epoch (the original's epoch: 500 x 100 = 50,000 examples)",
    "learning_rate": "Adam's learning rate",
    "adam_epsilon": "Adam's epsilon on the batch's mean loss (the original's 1e-8 on its summed loss)",
    "clip_norm": "clip the global gradient norm to this",
    "kl_y_weight": "eta, the weight of KL(q(y|x) || p(y)) in the training objective (1: the ELBO)",
    "train_eval_size": "random training images scored after each epoch",
    "test_eval_size": "test images scored after each epoch",
    "precision": "auto: mixed_bfloat16 where the processor has native bfloat16, else float32 (docs/precision.md)",
    "implementation": "original_graph: the original's modified M2 written again in tf.compat.v1, a reference for "
                      "its numerics (with --model modified_m2 --precision float32)",
}
_PACE = (f"The estimate: each run's epochs still to train at the median epoch time measured on {MEASURED_ON} "
         f"(results/executor_timing/): "
         + ", ".join(f"{model} {seconds:g} s" for model, seconds in sorted(MEASURED_EPOCH_SECONDS.items()))
         + f" for {MEASURED_SIZE[0]} iterations of batch {MEASURED_SIZE[1]} at K = {MEASURED_SIZE[2]}, scaled by "
         "iterations x batch x K. A float32 run or a slower processor takes longer; one run alone on 2 cores takes "
         "less (docs/performance.md).")


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to an option's help unless the help says its default already; a flag without a value
    gets "(default: off)". An option whose default is None says in its own help what happens without it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "default" in text:
            return text
        if action.nargs == 0 and action.default is False:
            return f"{text} (default: off)"
        if action.default is None or action.default is argparse.SUPPRESS:
            return text
        return super()._get_help_string(action)


def _config_default(name: str) -> str:
    if name == "epochs":
        return (f"the --profile's for the run (post: 200, its modified M2 300); without --profile, the "
                f"{DEFAULT_TRAIN_PROFILE} profile's {PROFILES[DEFAULT_TRAIN_PROFILE].base.epochs} "
                f"(the post's schedule is {TrainConfig().epochs})")
    value = getattr(TrainConfig(), name)
    set_by = sorted(p.name for p in PROFILES.values() if getattr(p.base, name) != value)
    by_run = any(name in p.settings(run) for p in PROFILES.values() for run in p.seeds)
    return ("none" if value is None else f"{value}") + "".join(
        [f", or the {' or '.join(set_by)} profile's" if set_by else "", ", or the --run's" if by_run else ""])


def _add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One --flag per TrainConfig field; unset flags fall back to the --run, then the profile, then the defaults."""
    for field in dataclasses.fields(TrainConfig):
        parser.add_argument(f"--{field.name.replace('_', '-')}", dest=field.name,
                            type=_model_name if field.name == "model" else _TYPES[field.type],
                            choices=_CHOICES.get(field.name), default=None,
                            help=f"{_FIELD_HELP[field.name]} (default: {_config_default(field.name)})")


def _run_names() -> dict[str, list[str]]:
    """Every run name a profile trains -> the profiles that train it, in PROFILES' order."""
    names: dict[str, list[str]] = {}
    for profile in PROFILES.values():
        for run_name in profile.seeds:
            names.setdefault(run_name, []).append(profile.name)
    return names


def _settings_flags(settings: dict) -> str:
    return " ".join(f"--{name.replace('_', '-')} {value}" for name, value in settings.items())


def _model_name(text: str) -> str:
    """--model takes a model; a profile's run name that is not a model (m2_eta0: model m2 with kl_y_weight 0) is
    refused with the --run that trains it and the flags that make it."""
    profiles = _run_names().get(text)
    if text in MODELS or not profiles:
        return text  # argparse's choices refuse any other name
    settings = PROFILES[profiles[0]].settings(text)
    raise argparse.ArgumentTypeError(
        f"{text} is a run name, not a model (models: {', '.join(MODELS)}): train it with --run {text} and a "
        f"--profile that trains it ({', '.join(profiles)}), or give its settings: {_settings_flags(settings)}")


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


class _GivenPath(argparse.Action):
    """Stores the path and that it was given (a message must not suggest the flag the user just passed)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, Path(values))
        setattr(namespace, f"{self.dest}_given", True)


def _long_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--long", action="store_true",
                        help=f"start {what} estimated at more than {LONG_PLAN_HOURS:g} hours (refused without it). "
                             + _PACE.replace("%", "%%"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gmvae", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the package's version and exit")
    commands = parser.add_subparsers(dest="command", required=True)

    cpu = PROFILES[DEFAULT_TRAIN_PROFILE]
    train = commands.add_parser(
        "train", formatter_class=DefaultsHelpFormatter, help="train one model (resumes or extends the run in --out)",
        description=f"Train one model into --out, or resume or extend the run there. Without --epochs and without "
                    f"--profile it trains the {cpu.name} profile's schedule ({cpu.base.epochs} epochs), not "
                    f"TrainConfig's {TrainConfig().epochs} (the post's schedule: --epochs {TrainConfig().epochs} "
                    f"--long).")
    train.set_defaults(subparser=train)
    _add_config_arguments(train)
    train.add_argument("--profile", choices=list(PROFILES),
                       help=f"take the schedule of a profile (e.g. smoke) and, with --run, one of its runs (default: "
                            f"none: TrainConfig's values with the {cpu.name} profile's {cpu.base.epochs} epochs)")
    train.add_argument("--run", help="one of the profile's runs: its model and settings, as reproduce trains it "
                                     f"(needs --profile; default: none, the model of --model). Run names: "
                                     f"{', '.join(_run_names())}")
    train.add_argument("--out", type=Path, required=True,
                       help="the run's folder, e.g. results/runs/<run>/seed<k>: log.csv, run.json, checkpoints/ "
                            "(required, no default)")
    train.add_argument("--data", type=Path, help="mnist.npz (default: $GMVAE_MNIST, the cache, or a download)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--retrain", action="store_true",
                       help="train from epoch 1 even if --out holds a run (e.g. a damaged one): its log.csv, run.json "
                            "and checkpoints/ are first moved into --out/previous-<date-time>/, nothing is deleted")
    train.add_argument("--wait", action="store_true",
                       help="if another process is training in --out, wait for it to finish (default: stop with an error)")
    _long_argument(train, "a run")

    reproduce = commands.add_parser(
        "reproduce", formatter_class=DefaultsHelpFormatter,
        help="train the profile's missing runs into <out>/runs/<run>/seed<k>/, then run every notebook with papermill",
        description="Train the profile's missing runs (those <out> does not hold complete) into "
                    "<out>/runs/<run>/seed<k>/, one per core here or as tasks on a Ray cluster, then run every "
                    "notebook headless with papermill; the notebooks only draw, into <out>/<profile>/ (figures, "
                    "tables, executed copies). Complete runs are reused as they are.")
    reproduce.set_defaults(subparser=reproduce)
    reproduce.add_argument("--profile", choices=list(PROFILES), default="cpu",
                           help="which runs, seeds and epochs (README.md's table of profiles; the command prints the "
                                "profile's expected time)")
    reproduce.add_argument("--out", type=Path, default=Path("results"),
                           help="the results folder: runs in <out>/runs/<run>/seed<k>/, the notebooks' figures, tables "
                                "and executed copies in <out>/<profile>/")
    reproduce.add_argument("--data", type=Path, help="mnist.npz (default: $GMVAE_MNIST, the cache, or a download)")
    reproduce.add_argument("--seeds", type=int, nargs="+", help="replicates (default: the profile's)")
    reproduce.add_argument("--epochs", type=_non_negative_int, help="epochs of every run (default: the profile's)")
    reproduce.add_argument("--retrain", action="store_true",
                           help="train every run again from epoch 1 (each run's previous files are moved aside, into "
                                "its folder's previous-<date-time>/)")
    reproduce.add_argument("--jobs", type=_positive_int,
                           help="runs trained at once on this machine, each pinned to a core (default: one per core)")
    reproduce.add_argument("--train-only", action="store_true",
                           help="train the missing runs, then stop (the notebooks draw later, from the logs)")
    reproduce.add_argument("--executor", choices=EXECUTORS, default="local",
                           help="where the runs train: local, this machine (the default), or ray, a Ray cluster "
                                "(pip install -e '.[ray]')")
    reproduce.add_argument("--address", help="with --executor ray: the cluster's head, host:port or 'auto' "
                                             "(default: a Ray started on this machine for the command)")
    reproduce.add_argument("--cpus-per-run", type=_positive_float, default=1.0,
                           help="with --executor ray: CPUs a run's task asks for (default: 1)")
    reproduce.add_argument("--gpus-per-run", type=_non_negative_float, default=0.0,
                           help="with --executor ray: GPUs a run's task asks for (default: 0)")
    _long_argument(reproduce, "a plan")

    figures = commands.add_parser(
        "figures", formatter_class=DefaultsHelpFormatter,
        help="redraw every figure and table from results/ (logs and saved figure data), without training",
        description="Redraw every figure and table from a results folder's run logs (<results>/runs/<run>/seed<k>/"
                    "log.csv) and saved figure data, beside the original's logs, and write the findings page "
                    "(docs/findings.md for the repository's results/, <results>/findings.md for another folder); "
                    "no training and no TensorFlow.")
    figures.set_defaults(subparser=figures, results_given=False)
    figures.add_argument("--results", type=Path, default=Path("results"), action=_GivenPath,
                         help="the results folder: its runs/<run>/seed<k>/log.csv are drawn, into its figures/ and "
                              "tables")

    nan_check = commands.add_parser("nan-check", help="run a NaN run's last epoch again from its checkpoint with "
                                                      "TensorFlow's numeric checks; name the first non-finite op")
    nan_check.set_defaults(subparser=nan_check)
    nan_check.add_argument("run_dir", type=Path, help="a run folder whose run.json has a nan_epoch, with its "
                                                      "checkpoints (git keeps none: run it where the run trained)")
    nan_check.add_argument("--data", type=Path, help="MNIST .npz (default: $GMVAE_MNIST, then the cache)")

    bench = commands.add_parser("bench", add_help=False,  # its options belong to gmvae.speed.bench's own parser
                                help="time the training step against a straightforward baseline "
                                     "(python -m gmvae bench --help)")
    bench.set_defaults(subparser=bench)
    return parser


def _train_config(parser, args) -> TrainConfig:
    """The flags over the settings of the profile's --run, over the profile's schedule (its epochs for the run's
    model variant, e.g. 300 for the post profile's modified M2), over TrainConfig's defaults. Without --profile
    and --epochs, the epochs are DEFAULT_TRAIN_PROFILE's."""
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
    schedule = profile or PROFILES[DEFAULT_TRAIN_PROFILE]
    if args.epochs is None:
        config = config.replace(epochs=schedule.epochs.get(args.run or config.run_name, schedule.base.epochs))
    return config


def _refuse_a_long_plan(parser, args, todo, slots: int, what: str, shorter: str) -> None:
    """Stop with a one-line error if training ``todo`` at the measured pace takes more than LONG_PLAN_HOURS and
    --long is not given; say the estimate if it is."""
    hours, epochs = plan_hours(todo, slots, retrain=args.retrain)
    if hours <= LONG_PLAN_HOURS:
        return
    estimate = (f"{what} ({epochs:,} epochs): about {hours:.1f} hours at the pace measured on {MEASURED_ON}, "
                f"{slots} run{'s' if slots != 1 else ''} at a time")
    if not args.long:
        parser.error(f"{estimate}. A plan over {LONG_PLAN_HOURS:g} hours needs --long: add --long to start it{shorter}")
    print(f"{parser.prog}: {estimate}; --long given", flush=True)


def _check_executor_flags(parser, args) -> None:
    given = {"--address": args.address is not None, "--cpus-per-run": args.cpus_per_run != 1,
             "--gpus-per-run": args.gpus_per_run != 0}
    ray_only = [flag for flag, is_given in given.items() if is_given]
    if args.executor != "ray" and ray_only:
        parser.error(f"{', '.join(ray_only)}: only with --executor ray")
    if args.executor == "ray" and args.jobs is not None:
        parser.error("--jobs applies to the local executor; on Ray, --cpus-per-run sets how many runs share a node")


def _train(parser, args) -> int:
    config = _train_config(parser, args)
    _writable_folder(parser, args.out, "--out")
    if args.data is not None and not args.data.is_file():
        parser.error(f"--data {args.data} is not a file")
    if args.profile is None and args.epochs is None:
        print(f"train: {config.epochs} epochs, the {DEFAULT_TRAIN_PROFILE} profile's schedule (no --epochs or "
              f"--profile given; the post's schedule is --epochs {TrainConfig().epochs})", flush=True)
    from gmvae.runs import DamagedRunError, RunLockedError
    try:
        _refuse_a_long_plan(parser, args, [(config, args.out)], 1, f"{config.run_name} seed {config.seed} to "
                            f"epoch {config.epochs} in {args.out}", ", or ask for fewer --epochs")
    except DamagedRunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    from gmvae.data import DataError
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


def _reproduce(parser, args) -> int:
    from gmvae.data import DataError
    from gmvae.reproduction.local_training import TrainingError, default_jobs
    from gmvae.reproduction.notebook_runner import NotebookError, reproduce
    from gmvae.reproduction.pipeline import pending_runs, runs_root
    from gmvae.reproduction.ray_training import RayMissingError
    from gmvae.runs import DamagedRunError, RunLockedError

    _writable_folder(parser, args.out, "--out")
    _check_executor_flags(parser, args)
    try:
        out = args.out.expanduser().resolve()  # as reproduce resolves it
        # other seeds or epochs than the profile's train in a scratch folder, never over out/runs
        runs_at = runs_root(args.profile, out, seeds=args.seeds, epochs=args.epochs)
        todo = pending_runs(args.profile, runs_at, seeds=args.seeds, epochs=args.epochs, retrain=args.retrain)
        slots = (args.jobs or default_jobs()) if args.executor == "local" else int(default_jobs() // args.cpus_per_run)
        slots = max(1, min(slots, len(todo)))
        _refuse_a_long_plan(parser, args, todo, slots,
                            f"profile {args.profile!r}: {len(todo)} run{'s' if len(todo) != 1 else ''} to train into "
                            f"{(args.out if runs_at == out else runs_at) / 'runs'}" + ("" if args.executor == "local" else ", reckoned as on this machine"),
                            ", or ask for fewer --epochs, or a shorter --profile")
        reproduce(args.profile, args.out, data_path=args.data, seeds=args.seeds, epochs=args.epochs,
                  retrain=args.retrain, jobs=args.jobs, notebooks=[] if args.train_only else None,
                  executor=args.executor, address=args.address,
                  cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run)
    except (ValueError, FileNotFoundError, NotebookError, DamagedRunError, TrainingError, RayMissingError,
            RunLockedError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _figures(parser, args) -> int:
    # TensorFlow-free modules only: `make figures` needs no TensorFlow
    from gmvae.reporting.figures import redraw_figures
    from gmvae.runs import DamagedRunError

    if not (args.results / "runs").is_dir():
        where = (f"--results {args.results}" if args.results_given
                 else f"{args.results} (the default; another folder: --results DIR)")
        state = "does not exist" if not args.results.exists() else "holds no runs/ folder"
        parser.error(f"{where} {state}: a results folder holds run logs as runs/<run>/seed<k>/log.csv (with "
                     "run.json), as `python -m gmvae reproduce --out DIR` or `python -m gmvae train --out "
                     "DIR/runs/<run>/seed<k>` writes them")
    try:
        redraw_figures(args.results)
    except (ValueError, FileNotFoundError, DamagedRunError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _nan_check(args) -> int:
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


# the commands that build models of any name, and so import the modules of GMVAE_MODELS before they read their
# arguments (bench counts the FLOPs of the built-in models' layers only)
_COMMANDS_WITH_MODELS = ("train", "reproduce", "nan-check")


def _load_own_models(parser, argv) -> None:
    """Import the modules GMVAE_MODELS names (gmvae.models.load_model_modules) if the command builds models, so
    that --model takes the models they register; a missing file or a failing import is a one-line error under
    the command's usage."""
    words = sys.argv[1:] if argv is None else list(argv)
    command = next((word for word in words if not word.startswith("-")), None)
    if command not in _COMMANDS_WITH_MODELS or not os.environ.get(MODELS_ENV, "").strip():
        return
    from gmvae.models import load_model_modules
    try:
        load_model_modules()
    except ValueError as error:
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[command].error(str(error))


def main(argv=None) -> int:
    parser = build_parser()
    _load_own_models(parser, argv)
    args, extra = parser.parse_known_args(argv)
    command = args.subparser  # its errors print its usage, not the top-level one
    if extra and args.command != "bench":
        command.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        precision_override()
    except ValueError as error:
        command.error(str(error))
    if args.command == "train":
        return _train(command, args)
    if args.command == "reproduce":
        return _reproduce(command, args)
    if args.command == "figures":
        return _figures(command, args)
    if args.command == "nan-check":
        return _nan_check(args)
    from gmvae.data import DataError
    from gmvae.speed.bench import main as bench_main
    try:
        return bench_main(extra)
    except (DataError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
