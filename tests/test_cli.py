"""Command line: bad arguments end in one line and exit status 2, before any training."""

import dataclasses
import sys

import pytest

from gmvae import cli
from gmvae.config import TrainConfig
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
