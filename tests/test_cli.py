"""Command line: bad arguments end in one line and exit status 2, before any training; a long plan needs --long;
every option says its default; figures imports no TensorFlow."""

import argparse
import dataclasses
import sys

import pytest

from gmvae import cli
from gmvae.config import MODELS, TrainConfig
from gmvae.reproduction.profiles import PROFILES


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "vae", "--out", "x"], "invalid choice: 'vae'"),
    (["train", "--epochs", "-3", "--out", "x"], "epochs must be 0 or more, not -3"),
    (["train", "--epochs", "ten", "--out", "x"], "invalid int value: 'ten'"),
    (["train", "--model", "m2"], "the following arguments are required: --out"),
    (["train", "--profile", "laptop", "--out", "x"], "invalid choice: 'laptop'"),
    (["train", "--learning-rate", "0", "--out", "x"], "learning_rate must be positive"),
    (["train", "--kl-y-weight", "-0.5", "--out", "x"], "kl_y_weight must be 0 or more, not -0.5"),
    (["train", "--decoder-first", "extra_layer", "--out", "x"], "invalid choice: 'extra_layer'"),
    (["reproduce", "--profile", "fast"], "invalid choice: 'fast'"),
    (["train", "--out", "x", "--bogus"], "unrecognized arguments: --bogus"),
    (["reproduce", "--executor", "dask"], "invalid choice: 'dask'"),
    (["reproduce", "--address", "auto"], "--address: only with --executor ray"),
    (["reproduce", "--gpus-per-run", "1", "--cpus-per-run", "4"], "--cpus-per-run, --gpus-per-run: only with --executor ray"),
    (["reproduce", "--executor", "ray", "--jobs", "2"], "--jobs applies to the local executor"),
    (["reproduce", "--executor", "ray", "--cpus-per-run", "0"], "must be more than 0, not 0"),
])
def test_bad_arguments_give_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and message in error_lines[0]


@pytest.mark.parametrize("command", [["train", "--out", "x"], ["reproduce"], ["bench"]])
def test_a_bad_gmvae_precision_gives_one_line_and_exit_2(command, monkeypatch, capsys):
    monkeypatch.setenv("GMVAE_PRECISION", "float16")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(command)
    assert exit_info.value.code == 2
    error_lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and "GMVAE_PRECISION='float16': use one of float32, mixed_bfloat16" in error_lines[0]


def test_missing_data_file_is_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--out", str(tmp_path / "run"), "--data", str(tmp_path / "nope.npz")])
    assert "nope.npz is not a file" in capsys.readouterr().err


def test_output_folder_under_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "a_file").write_text("")          # works as root too, unlike a read-only folder
    with pytest.raises(SystemExit):
        cli.main(["train", "--out", str(tmp_path / "a_file" / "run")])
    assert "cannot be written" in capsys.readouterr().err


def test_profile_gives_the_schedule_and_flags_override_it():
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--profile", "smoke", "--model", "m2", "--seed", "4", "--out", "x"])
    config = cli._train_config(parser, args)
    assert (config.model, config.seed, config.iters_per_epoch, config.epochs) == ("m2", 4, 10, 2)


@pytest.mark.parametrize("flags, epochs", [(["--model", "modified_m2"], 300), (["--model", "gmvae"], 200),
                                           (["--model", "modified_m2", "--clip-norm", "480"], 300),
                                           (["--model", "modified_m2", "--epochs", "20"], 20)])
def test_a_profile_gives_each_model_variant_its_own_epochs(flags, epochs):
    parser = cli.build_parser()
    config = cli._train_config(parser, parser.parse_args(["train", "--profile", "post", *flags, "--out", "x"]))
    assert config.epochs == epochs


def test_a_profiles_run_gives_its_model_settings_and_epochs_under_the_flags(capsys):
    parser = cli.build_parser()
    config = cli._train_config(parser, parser.parse_args(["train", "--profile", "post", "--run", "modified_m2_clip",
                                                          "--seed", "2", "--out", "x"]))
    assert (config.model, config.clip_norm, config.epochs, config.seed, config.run_name) == (
        "modified_m2", 480.0, 300, 2, "modified_m2_clip")
    config = cli._train_config(parser, parser.parse_args(["train", "--profile", "cpu", "--run", "m2_eta0",
                                                          "--epochs", "3", "--out", "x"]))
    assert (config.model, config.kl_y_weight, config.epochs, config.run_name) == ("m2", 0.0, 3, "m2_eta0")
    config = cli._train_config(parser, parser.parse_args(["train", "--profile", "post", "--run", "modified_m2_clip",
                                                          "--clip-norm", "100", "--out", "x"]))
    assert config.clip_norm == 100.0
    for flags, said in ((["--profile", "cpu", "--run", "modified_m2_clip"],
                         "--run modified_m2_clip needs a --profile that trains it: profile 'cpu' trains m2, "
                         "modified_m2, gmvae, m2_iaf, m2_eta0"),
                        (["--run", "m2_eta0"], "--run m2_eta0 needs a --profile that trains it\n")):
        with pytest.raises(SystemExit):
            cli._train_config(parser, parser.parse_args(["train", *flags, "--out", "x"]))
        assert said in capsys.readouterr().err


# A value for every configuration field, none of them its default: (flag, its text, the field's value).
FLAG_VALUES = {
    "model": ("--model", "m2_iaf", "m2_iaf"), "epochs": ("--epochs", "7", 7), "seed": ("--seed", "4", 4),
    "k": ("--k", "16", 16), "z_dim": ("--z-dim", "32", 32), "hidden": ("--hidden", "64", 64),
    "decoder_first": ("--decoder-first", "identity", "identity"), "batch_size": ("--batch-size", "50", 50),
    "first_pass": ("--first-pass", "shuffled", "shuffled"), "iters_per_epoch": ("--iters-per-epoch", "30", 30),
    "learning_rate": ("--learning-rate", "0.0005", 0.0005), "adam_epsilon": ("--adam-epsilon", "1e-08", 1e-8),
    "clip_norm": ("--clip-norm", "2.5", 2.5), "kl_y_weight": ("--kl-y-weight", "0.25", 0.25),
    "train_eval_size": ("--train-eval-size", "300", 300), "test_eval_size": ("--test-eval-size", "200", 200),
    "precision": ("--precision", "mixed_bfloat16", "mixed_bfloat16"),
}
# flags that need others set with them: the original's graph trains its modified M2 only, in float32
ORIGINAL_GRAPH = ["--implementation", "original_graph", "--model", "modified_m2", "--precision", "float32"]


def test_every_flag_reaches_its_own_config_field():
    assert set(FLAG_VALUES) | {"implementation"} == {field.name for field in dataclasses.fields(TrainConfig)}
    flags = [part for flag, text, _ in FLAG_VALUES.values() for part in (flag, text)]
    parser = cli.build_parser()
    config = cli._train_config(parser, parser.parse_args(["train", *flags, "--out", "x"]))
    for field, (_, _, value) in FLAG_VALUES.items():
        assert getattr(TrainConfig(), field) != value, field
        assert getattr(config, field) == value and type(getattr(config, field)) is type(value), field
    config = cli._train_config(parser, parser.parse_args(["train", *ORIGINAL_GRAPH, "--out", "x"]))
    assert (config.implementation, config.run_name) == ("original_graph", "modified_m2_original_graph")


@pytest.mark.parametrize("flags, field, value, run_name", [
    (["--model", "m2", "--kl-y-weight", "0"], "kl_y_weight", 0.0, "m2_eta0"),
    (["--model", "m2", "--kl-y-weight", "0.5"], "kl_y_weight", 0.5, "m2_eta0.5"),
    (["--model", "m2_iaf"], "model", "m2_iaf", "m2_iaf"),
    (["--model", "modified_m2", "--decoder-first", "relu_layer"], "decoder_first", "relu_layer", "modified_m2_relu_layer"),
])
def test_the_variants_reach_the_configuration_and_name_their_runs(flags, field, value, run_name):
    parser = cli.build_parser()
    config = cli._train_config(parser, parser.parse_args(["train", "--profile", "smoke", *flags, "--out", "x"]))
    assert getattr(config, field) == value and type(getattr(config, field)) is type(value)
    assert config.run_name == run_name
    assert config.iters_per_epoch == 10                      # the profile's schedule still applies


def test_every_profile_run_is_stored_under_its_own_name():
    for profile in PROFILES.values():
        for run_name in profile.seeds:
            assert {c.run_name for c in profile.configs(run_name)} == {run_name}, (profile.name, run_name)
    assert TrainConfig(model="m2", kl_y_weight=1.0).run_name == "m2"


def test_the_ray_executor_without_ray_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert cli.main(["reproduce", "--profile", "smoke", "--executor", "ray", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err == ("error: --executor ray needs Ray: pip install -e '.[ray]' "
                                       "(installs ray==2.60.0)\n")
    assert not (tmp_path / "runs").exists()


# ---- the traps: a default that trains for days, a plan of many hours, help, --version, usage, figures ----

def _fake_train(monkeypatch):
    """gmvae.train.train replaced by one that records its configuration and trains nothing."""
    import pandas as pd

    import gmvae.train

    calls = []
    monkeypatch.setattr(gmvae.train, "train", lambda config, out_dir, **kw: calls.append(config) or pd.DataFrame())
    return calls


def _error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(lines) == 1, lines
    return lines[0]


def test_train_without_epochs_or_profile_takes_the_cpu_profiles_schedule_and_says_so(tmp_path, monkeypatch, capsys):
    calls = _fake_train(monkeypatch)
    assert cli.main(["train", "--model", "gmvae", "--out", str(tmp_path / "run")]) == 0
    assert [c.epochs for c in calls] == [PROFILES["cpu"].base.epochs] == [50]
    said = [line for line in capsys.readouterr().out.splitlines() if "schedule" in line]
    assert said == ["train: 50 epochs, the cpu profile's schedule (no --epochs or --profile given; the post's "
                    "schedule is --epochs 1000)"]
    for flags, epochs in ((["--epochs", "7"], 7), (["--profile", "smoke"], 2)):
        assert cli.main(["train", *flags, "--out", str(tmp_path / "run")]) == 0
        assert calls[-1].epochs == epochs and "schedule" not in capsys.readouterr().out


def test_a_plan_over_a_few_hours_needs_long_and_says_what_to_add(tmp_path, monkeypatch, capsys):
    calls = _fake_train(monkeypatch)
    out = str(tmp_path / "run")
    with pytest.raises(SystemExit) as exit_info:                  # 1000 GMVAE epochs at 27.9 s: 7.8 hours
        cli.main(["train", "--model", "gmvae", "--epochs", "1000", "--out", out])
    assert exit_info.value.code == 2 and not calls
    line = _error_line(capsys)
    assert line.startswith("python -m gmvae train: error: gmvae seed 0 to epoch 1000")
    assert "about 7.8 hours" in line and "add --long to start it" in line
    assert cli.main(["train", "--model", "gmvae", "--epochs", "1000", "--long", "--out", out]) == 0
    assert [c.epochs for c in calls] == [1000] and "about 7.8 hours" in capsys.readouterr().out
    assert cli.main(["train", "--model", "gmvae", "--epochs", "300", "--out", out]) == 0  # 2.3 hours: no --long
    assert cli.main(["train", "--profile", "post", "--run", "modified_m2_clip", "--out", out]) == 0  # 1.9 hours


def test_reproduce_refuses_a_long_plan_without_long_and_counts_only_the_runs_to_train(tmp_path, monkeypatch,
                                                                                       capsys):
    from gmvae.reproduction import local_training, notebook_runner

    started = []
    monkeypatch.setattr(notebook_runner, "reproduce", lambda profile, out, **kw: started.append(profile))
    monkeypatch.setattr(local_training, "usable_cores", lambda: [0, 1])  # the hours below are for two at a time
    for profile, hours in (("post", "14.1"), ("blog", "65.2")):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["reproduce", "--profile", profile, "--out", str(tmp_path)])
        assert exit_info.value.code == 2 and not started
        line = _error_line(capsys)
        assert line.startswith(f"python -m gmvae reproduce: error: profile {profile!r}: ")
        assert f"about {hours} hours" in line and "2 runs at a time" in line and "add --long" in line
    assert cli.main(["reproduce", "--profile", "post", "--long", "--out", str(tmp_path)]) == 0
    assert cli.main(["reproduce", "--profile", "cpu", "--out", str(tmp_path)]) == 0   # 1.3 hours
    assert cli.main(["reproduce", "--profile", "post", "--epochs", "20", "--out", str(tmp_path)]) == 0
    assert started == ["post", "cpu", "post"]


def test_a_run_done_or_resumable_counts_only_its_epochs_still_to_train(tmp_path):
    from gmvae import runs
    from gmvae.reproduction import schedule

    config = TrainConfig(model="gmvae", epochs=1000)
    assert schedule.epochs_to_train(config, tmp_path / "none") == 1000
    for status, checkpoint, retrain, epochs in (({"completed_epochs": 200}, False, False, 1000),  # from epoch 1
                                                ({"completed_epochs": 200}, True, False, 800),
                                                ({"completed_epochs": 200}, True, True, 1000),
                                                ({"completed_epochs": 1000}, False, False, 0),
                                                ({"completed_epochs": 300, "nan_epoch": 301}, False, False, 0)):
        folder = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        runs.write_record(folder, {"config": dataclasses.asdict(config), "status": status})
        if checkpoint:
            (folder / "checkpoints").mkdir()
            (folder / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-200"\n')
        assert schedule.epochs_to_train(config, folder, retrain=retrain) == epochs, (status, checkpoint, retrain)
    smoke = PROFILES["smoke"].configs("gmvae")[0]   # 10 iterations an epoch: 1/50 of the measured epoch
    assert schedule.epoch_seconds(smoke) == pytest.approx(schedule.MEASURED_EPOCH_SECONDS["gmvae"] / 50)


def test_the_runs_reproduce_starts_are_not_refused_by_train(tmp_path):
    """reproduce weighs the whole plan, so the train command it starts for each run carries --long."""
    from gmvae.reproduction import local_training

    config = PROFILES["blog"].configs("gmvae")[0]                 # 1000 epochs: 7.8 hours alone
    command = local_training.train_command(config, tmp_path / "run")
    assert "--long" in command
    parser = cli.build_parser()
    args = parser.parse_args(command[3:])
    assert cli.plan_hours([(cli._train_config(parser, args), args.out)], 1)[0] > cli.LONG_PLAN_HOURS and args.long


def _option_helps(parser):
    formatter = parser._get_formatter()
    return {action.option_strings[-1]: formatter._expand_help(action)
            for action in parser._actions if action.option_strings and action.dest != "help"}


def _subparsers(parser):
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_option_of_every_subcommand_says_its_default():
    from gmvae.speed import bench

    parsers = dict(_subparsers(cli.build_parser()))
    parsers["bench"] = bench.build_parser()          # bench's options are its own parser's
    for name, parser in parsers.items():
        for option, text in _option_helps(parser).items():
            assert "default" in text, (name, option, text)
    helps = {name: _option_helps(parser) for name, parser in parsers.items()}
    assert "(default: cpu)" in helps["reproduce"]["--profile"]
    assert "(default: results)" in helps["reproduce"]["--out"] and "(default: results)" in helps["figures"]["--results"]
    assert "$GMVAE_MNIST" in helps["reproduce"]["--data"] and "$GMVAE_MNIST" in helps["train"]["--data"]
    assert "(default: 10)" in helps["train"]["--k"] and "(default: off)" in helps["train"]["--long"]
    assert "(default: [10])" in helps["bench"]["--k"]
    assert "27.9 s" in helps["train"]["--long"] and "AMD EPYC" in helps["reproduce"]["--long"]  # what it assumes


def test_reproduce_help_says_it_trains_the_missing_runs_into_out_runs_then_runs_the_notebooks(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["reproduce", "--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    description = text.split(" options: ")[0]                    # not the options' help
    assert ("Train the profile's missing runs (those <out> does not hold complete) into <out>/runs/<run>/seed<k>/"
            in description)
    assert "then run every notebook headless with papermill" in description


def test_version_prints_the_packages_version(capsys, monkeypatch):
    import importlib.metadata
    import tomllib
    from pathlib import Path

    import gmvae

    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"python -m gmvae {gmvae.__version__}\n"
    pyproject = tomllib.loads((Path(gmvae.__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert gmvae.__version__ == pyproject["version"]

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert gmvae._version() == pyproject["version"]          # a checkout on sys.path, not installed


@pytest.mark.parametrize("argv, message", [
    (["train", "--epochs", "-5", "--out", "x"], "epochs must be 0 or more, not -5"),
    (["train", "--out", "x", "--bogus"], "unrecognized arguments: --bogus"),
    (["reproduce", "--address", "auto"], "--address: only with --executor ray"),
    (["figures", "--results", "x", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_argument_errors_print_the_subcommands_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: python -m gmvae {argv[0]} [-h]")
    assert f"python -m gmvae {argv[0]}: error: {message}" in err


def test_figures_names_a_missing_results_folder_and_what_belongs_in_it(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "nowhere"
    for folder, state in ((missing, "does not exist"), (tmp_path, "holds no runs/ folder")):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["figures", "--results", str(folder)])
        assert exit_info.value.code == 2
        line = _error_line(capsys)
        assert f"error: --results {folder} {state}: a results folder holds run logs as runs/<run>/seed<k>/log.csv" in line
        assert "pass --results" not in line and "--results DIR" not in line  # not the flag just passed
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        cli.main(["figures"])
    assert "error: results (the default; another folder: --results DIR) does not exist" in _error_line(capsys)


RUN_NAMES_NOT_MODELS = sorted({name for p in PROFILES.values() for name in p.seeds} - set(MODELS))


@pytest.mark.parametrize("run_name", RUN_NAMES_NOT_MODELS)
def test_a_run_name_given_to_model_is_refused_with_its_run_and_its_flags(run_name, capsys):
    assert run_name in ("m2_eta0", "modified_m2_clip", "modified_m2_float32", "modified_m2_identity",
                        "modified_m2_original_graph", "modified_m2_relu_layer")
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "--model", run_name, "--out", "x"])
    assert exit_info.value.code == 2
    line = _error_line(capsys)
    profiles = [p.name for p in PROFILES.values() if run_name in p.seeds]
    assert f"{run_name} is a run name, not a model (models: m2, modified_m2, gmvae, m2_iaf)" in line
    assert f"--run {run_name} and a --profile that trains it ({', '.join(profiles)})" in line
    flags = line.split("give its settings: ")[1].split()   # the flags said make that run
    parser = cli.build_parser()
    assert cli._train_config(parser, parser.parse_args(["train", *flags, "--out", "x"])).run_name == run_name


BLOCK_TENSORFLOW = """
import runpy, sys
attempted = []
class BlockTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "tensorflow_probability"):
            attempted.append(name)
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, BlockTensorFlow())
sys.argv = ["python -m gmvae", *sys.argv[1:]]
try:
    runpy.run_module("gmvae", run_name="__main__", alter_sys=True)
finally:
    print("attempted:", attempted, file=sys.stderr)
"""


@pytest.mark.slow  # the command in a subprocess
def test_figures_runs_without_tensorflow(tmp_path):
    """`make figures` needs no TensorFlow: the figures command with every import of it refused."""
    import os
    import subprocess
    from pathlib import Path

    import pandas as pd

    import gmvae
    from gmvae import runs

    results = tmp_path / "results"
    for run_name, seed in (("m2", 0), ("gmvae", 0), ("gmvae", 1)):
        log = pd.DataFrame({column: 0.5 for column in runs.LOG_COLUMNS}, index=range(3))
        log["epoch"], log["test_loss"], log["seconds"] = [1, 2, 3], [110.0, 105.0, 101.0], 1.0
        config = TrainConfig(model=run_name, seed=seed, epochs=3, precision="float32")
        runs.write_log(runs.run_dir(results, run_name, seed), log)
        runs.write_record(runs.run_dir(results, run_name, seed),
                          {"config": dataclasses.asdict(config),
                           "status": {"completed_epochs": 3, "nan_epoch": None, "finished": True}})
    lib = str(Path(gmvae.__file__).parents[1])                  # this checkout's package, whatever is installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([lib, os.environ.get("PYTHONPATH", "")]), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", BLOCK_TENSORFLOW, "figures", "--results", str(results)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "attempted: []" in done.stderr
    assert (results / "figures").is_dir() and "wrote" in done.stdout and (results / "claims.md").is_file()
    assert "# What the reproduction finds" in (results / "findings.md").read_text()  # outside the repository: here
