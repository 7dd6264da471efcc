"""Training a profile's runs several at once, each process pinned to a core of its own."""

from __future__ import annotations

import dataclasses
import io
import os
import sys

import numpy as np
import pandas as pd
import pytest

from gmvae import cli, runs
from gmvae.config import TrainConfig
from gmvae.reproduction import local_training, notebook_runner, pipeline
from gmvae.reproduction.profiles import get_profile

CONFIGS = [
    TrainConfig(model="m2", epochs=3, seed=2),
    TrainConfig(model="modified_m2", decoder_first="relu_layer", clip_norm=12.5, precision="mixed_bfloat16"),
    TrainConfig(model="m2", kl_y_weight=0.0, first_pass="shuffled", iters_per_epoch=7, learning_rate=3e-4),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.run_name)
def test_the_train_command_gives_back_the_same_configuration(config, tmp_path):
    command = local_training.train_command(config, tmp_path / "run", "mnist.npz")
    assert command[1:4] == ["-m", "gmvae", "train"]
    args = cli.build_parser().parse_args(command[3:])
    assert cli._train_config(None, args) == config
    assert (args.out, str(args.data), args.no_progress) == (tmp_path / "run", "mnist.npz", True)


def test_the_train_command_always_names_the_model_the_epochs_and_the_seed(tmp_path):
    """Even where they are the defaults, so that the command in run.json says what trained."""
    command = local_training.train_command(TrainConfig(), tmp_path)
    assert command[4:] == ["--out", str(tmp_path), "--no-progress", "--long",
                           "--model", "gmvae", "--epochs", "1000", "--seed", "0"]


# Full-width layers and batches, so that the matrix products are large enough to be split between threads.
SIDE_BY_SIDE = TrainConfig(model="gmvae", epochs=2, iters_per_epoch=8, train_eval_size=300, test_eval_size=300,
                           precision="float32")


@pytest.mark.slow
@pytest.mark.needs_mnist
@pytest.mark.skipif(len(local_training.usable_cores()) < 2, reason="needs two cores to pin two runs")
def test_runs_pinned_one_core_each_log_the_same_when_trained_again(tmp_path, capsys):
    """Pinned runs are deterministic. Not always equal to a run on both cores: on an AMD EPYC without AVX-512 the
    float32 kernels round differently with one thread than with two (docs/run_folders.md)."""
    configs = [SIDE_BY_SIDE.replace(seed=seed) for seed in (0, 1)]
    logs = {}
    for attempt in ("first", "again"):
        todo = [(config, tmp_path / attempt / f"seed{config.seed}") for config in configs]
        local_training.train_runs(todo, jobs=2, poll_seconds=0.2)
        said = capsys.readouterr().out
        assert "on core 0" in said and "on core 1" in said
        for config, pinned in todo:
            logs[attempt, config.seed] = runs.read_log(pinned).drop(columns="seconds")
            assert len(logs[attempt, config.seed]) == 2
            command = runs.read_record(pinned)["provenance"]["command"]
            assert command.startswith(f"taskset -c {config.seed} python -m gmvae train --out {pinned}")
    for config in configs:
        pd.testing.assert_frame_equal(logs["again", config.seed], logs["first", config.seed])
    seeds = [logs["first", seed]["test_loss"].to_numpy() for seed in (0, 1)]
    assert not np.array_equal(*seeds)  # two seeds, two different runs


def test_a_failing_run_is_named_after_the_others_finish(tmp_path, monkeypatch):
    """A run whose command fails (here: an unknown model smuggled past the configuration's check) and a run
    that succeeds (its command replaced by one that exits 0): the error names the failed run and its last line."""
    good, bad = TrainConfig(model="m2", seed=0), TrainConfig(model="gmvae", seed=1)

    def command(config, out_dir, data_path=None):
        script = "print('fine')" if config is good else "import sys; print('boom: no such thing'); sys.exit(3)"
        return [sys.executable, "-c", script]

    monkeypatch.setattr(local_training, "train_command", command)
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cores: None, raising=False)
    lines = []
    with pytest.raises(local_training.TrainingError, match=r"gmvae seed 1 \(exit 3\): boom: no such thing"):
        local_training.train_runs([(bad, tmp_path / "bad"), (good, tmp_path / "good")], jobs=2, poll_seconds=0.05,
                                  say=lambda *a, **k: lines.append(a[0]))
    assert (tmp_path / "good" / "train.out").read_text() == "fine\n"
    assert any(line.startswith("m2 seed 0: done") for line in lines)


def test_each_failed_run_is_named_with_its_last_line_cut_at_300_characters_or_no_output(tmp_path, monkeypatch):
    silent, loud = TrainConfig(model="m2", seed=0), TrainConfig(model="gmvae", seed=1)
    scripts = {silent.seed: "import sys; sys.exit(4)",
               loud.seed: "import sys; print('first'); print('x' * 400); print(); sys.exit(3)"}
    monkeypatch.setattr(local_training, "train_command",
                        lambda config, *a: [sys.executable, "-c", scripts[config.seed]])
    with pytest.raises(local_training.TrainingError) as error:
        local_training.train_runs([(silent, tmp_path / "silent"), (loud, tmp_path / "loud")], jobs=1,
                                  poll_seconds=0.05, say=lambda line: None)
    assert str(error.value) == f"2 run(s) failed: m2 seed 0 (exit 4): no output; gmvae seed 1 (exit 3): {'x' * 300}"


REPORT_CHILD = """import os, stat, sys
print(sys.argv[1:])
print(os.environ[{variable!r}])
stdin = os.fstat(0)
print("stdin is /dev/null:", stat.S_ISCHR(stdin.st_mode) and stdin.st_rdev == os.stat(os.devnull).st_rdev)
print("said on stderr", file=sys.stderr)
"""


def test_each_run_starts_its_train_command_with_its_folder_data_and_record_and_no_terminal_input(tmp_path,
                                                                                                  monkeypatch):
    """The real train command behind a script that reports what it was given: the arguments, the command its
    run.json would record (under the command that started `reproduce`), its stderr in train.out, and its stdin
    /dev/null even where the parent's is a pipe that would block a read."""
    real_command = local_training.train_command
    monkeypatch.setattr(local_training, "train_command", lambda *args: [
        sys.executable, "-c", REPORT_CHILD.format(variable=runs.COMMAND_VARIABLE), *real_command(*args)[3:]])
    monkeypatch.setenv(runs.COMMAND_VARIABLE, "python -m gmvae reproduce --profile cpu")
    config = TrainConfig(model="m2", seed=4)
    out_dir = tmp_path / "results" / "runs" / "m2" / "seed4"  # its parents do not exist yet
    reader, writer = os.pipe()
    saved_stdin = os.dup(0)
    os.dup2(reader, 0)
    try:
        local_training.train_runs([(config, out_dir)], jobs=1, data_path=tmp_path / "mnist.npz", retrain=True,
                                  poll_seconds=0.01, say=lambda line: None)
        local_training.train_runs([(config, out_dir)], jobs=1, poll_seconds=0.01, say=lambda line: None)  # again
    finally:
        os.dup2(saved_stdin, 0)
        for fd in (reader, writer, saved_stdin):
            os.close(fd)
    arguments = ["train", "--out", str(out_dir), "--no-progress", "--long", "--model", "m2", "--epochs", "1000",
                 "--seed", "4"]
    argv, recorded, stdin, stderr = (out_dir / "train.out").read_text().splitlines()
    assert argv == repr(arguments)  # the second time: neither --data nor --retrain
    assert recorded == f"python -m gmvae {' '.join(arguments)} [started by python -m gmvae reproduce --profile cpu]"
    assert (stdin, stderr) == ("stdin is /dev/null: True", "said on stderr")
    local_training.train_runs([(config, out_dir)], jobs=1, data_path=tmp_path / "mnist.npz", retrain=True,
                              poll_seconds=0.01, say=lambda line: None)
    argv, recorded = (out_dir / "train.out").read_text().splitlines()[:2]
    with_data = arguments + ["--data", str(tmp_path / "mnist.npz")]
    assert argv == repr(with_data + ["--retrain"])
    assert recorded == f"python -m gmvae {' '.join(with_data)} [started by python -m gmvae reproduce --profile cpu]"


def test_one_job_trains_the_runs_one_after_another_unpinned_and_says_how_long_each_took(tmp_path, monkeypatch):
    """One job on a machine of two cores (as `reproduce --jobs 1`): nothing pinned, the second run starts when the
    first ends, and each line gives the minutes the clock measured (here a clock that jumps 600 s and 30 s)."""
    first, second = TrainConfig(model="m2", seed=0, epochs=10), TrainConfig(model="gmvae", seed=1, epochs=20)
    monkeypatch.setattr(local_training, "usable_cores", lambda: [0, 1])
    monkeypatch.setattr(local_training, "train_command", lambda config, *args: [
        sys.executable, "-c", f"import sys; sys.exit({0 if config is first else 5})"])
    clock = iter([1000.0, 1600.0, 2000.0, 2030.0])  # started, ended; started, ended
    monkeypatch.setattr(local_training.time, "perf_counter", lambda: next(clock))
    said = []
    with pytest.raises(local_training.TrainingError, match=r"^1 run\(s\) failed: gmvae seed 1 \(exit 5\): no output$"):
        local_training.train_runs([(first, tmp_path / "a"), (second, tmp_path / "b")], jobs=1, poll_seconds=0.01,
                                  say=said.append)
    assert said == [f"m2 seed 0: training 10 epochs into {tmp_path / 'a'} (output: {tmp_path / 'a'}/train.out)",
                    "m2 seed 0: done in 10.0 min",
                    f"gmvae seed 1: training 20 epochs into {tmp_path / 'b'} (output: {tmp_path / 'b'}/train.out)",
                    f"gmvae seed 1: failed after 0.5 min; see {tmp_path / 'b'}/train.out"]


def test_a_missing_output_reads_as_no_output(tmp_path):
    assert local_training._last_line(tmp_path / "train.out") == "no output"


def test_no_cores_to_pin_to_where_the_system_cannot_pin(monkeypatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert local_training.usable_cores() == []


def test_each_line_is_flushed_at_once(monkeypatch):
    """A line said while a run trains reaches a log file at once, not when the buffer fills."""
    flushed = []

    class Stdout(io.StringIO):
        def flush(self):
            flushed.append(self.getvalue())

    monkeypatch.setattr(sys, "stdout", Stdout())
    local_training.print_now("m2 seed 0: done in 1.0 min")
    assert flushed == ["m2 seed 0: done in 1.0 min\n"]


def test_by_default_each_line_goes_to_stdout(capsys):
    local_training.print_now("m2 seed 0: done in 1.0 min")
    assert capsys.readouterr().out == "m2 seed 0: done in 1.0 min\n"


@pytest.mark.parametrize("cores, jobs", [([], 1), ([5], 1), ([0, 1], 2), ([0, 1, 2, 3], 4)])
def test_one_job_per_usable_core_and_one_where_processes_cannot_be_pinned(cores, jobs, monkeypatch):
    monkeypatch.setattr(local_training, "usable_cores", lambda: cores)
    assert local_training.default_jobs() == jobs


def write_run(results_dir, config: TrainConfig, epochs_done: int):
    d = runs.run_dir(results_dir, config.run_name, config.seed)
    log = pd.DataFrame({c: np.ones(epochs_done) for c in runs.LOG_COLUMNS}).assign(epoch=np.arange(1, epochs_done + 1))
    runs.write_log(d, log)
    runs.write_record(d, {"config": dataclasses.asdict(config),
                          "status": {"completed_epochs": epochs_done, "nan_epoch": None, "train_seconds": 1.0}})
    return d


def test_pending_runs_are_the_profiles_runs_not_complete_in_its_order(tmp_path):
    """cpu: m2, modified_m2, gmvae x2, m2_iaf, m2_eta0. M2 complete at 50 (the cpu profile's epochs); GMVAE seed 0
    complete at 200, a post run read to 50; GMVAE seed 1 stopped at 30."""
    cpu = get_profile("cpu")
    write_run(tmp_path, cpu.configs("m2")[0], 50)
    write_run(tmp_path, cpu.configs("gmvae")[0].replace(epochs=200), 200)
    write_run(tmp_path, cpu.configs("gmvae")[1], 30)
    todo = pipeline.pending_runs("cpu", tmp_path)
    assert [(c.run_name, c.seed, c.epochs) for c, _ in todo] == [
        ("modified_m2", 0, 50), ("gmvae", 1, 50), ("m2_iaf", 0, 50), ("m2_eta0", 0, 50)]
    assert todo[1][1] == runs.run_dir(tmp_path, "gmvae", 1)
    assert len(pipeline.pending_runs("cpu", tmp_path, retrain=True)) == 6
    assert [(c.run_name, c.seed) for c, _ in pipeline.pending_runs("cpu", tmp_path, seeds=[1])] == [
        ("m2", 1), ("modified_m2", 1), ("gmvae", 1), ("m2_iaf", 1), ("m2_eta0", 1)]


def test_reproduce_says_how_many_runs_are_left_and_when_the_profiles_time_does_not_hold():
    summary = notebook_runner._training_summary
    assert summary("cpu", None, None, 6) == (
        f"reproduce: profile 'cpu' trains {get_profile('cpu').description} ({get_profile('cpu').expected_time}); "
        "6 of its 6 runs to train")
    assert summary("cpu", [1], None, 0).endswith("; all 5 runs are in: the notebooks only draw")
    assert summary("smoke", None, 1, 2).endswith(
        "(1 epoch a run instead of the profile's, so its time (about 3 minutes for every notebook, mostly "
        "TensorFlow's start-up) does not hold); 2 of its 5 runs to train")


def test_pending_runs_refuse_a_folder_of_another_configuration(tmp_path):
    write_run(tmp_path, TrainConfig(model="m2", epochs=50, learning_rate=0.01), 50)
    with pytest.raises(ValueError, match="learning_rate=0.01"):
        pipeline.pending_runs("cpu", tmp_path)


@pytest.mark.slow
@pytest.mark.needs_mnist
def test_reproduce_trains_the_missing_runs_on_this_machine_and_names_each(tmp_path, capsys):
    write_run(tmp_path, get_profile("smoke").configs("m2", epochs=1)[0], 1)  # in already: not trained again
    assert cli.main(["reproduce", "--profile", "smoke", "--epochs", "1", "--jobs", "2", "--train-only",
                     "--out", str(tmp_path)]) == 0
    said = capsys.readouterr().out
    assert "; 4 of its 5 runs to train\n" in said and "no notebooks run" in said
    assert "reproduce: training 4 run(s), 2 at a time" in said
    assert not (tmp_path / "smoke" / "executed").exists()
    scratch = pipeline.runs_root("smoke", tmp_path, epochs=1)  # 1 epoch is not the profile's own: runs go there
    assert scratch == tmp_path / "scratch" / "smoke-epochs1" and not (tmp_path / "runs" / "gmvae").exists()
    for name in ("modified_m2", "gmvae", "m2_iaf", "m2_eta0"):
        assert f"{name} seed 0: done in" in said
        assert pipeline.run_state(runs.run_dir(scratch, name, 0), get_profile("smoke").configs(name, epochs=1)[0]) == "complete"
    assert not any(line.startswith("m2 seed 0:") for line in said.splitlines())


@pytest.mark.skipif(len(local_training.usable_cores()) < 2, reason="needs two cores to pin two runs")
def test_with_two_jobs_on_two_cores_each_run_is_pinned_to_a_core_of_its_own_and_the_next_takes_the_freed_one(
        tmp_path, monkeypatch):
    """Three runs, two at a time, as `reproduce` trains on 2 cores; each run's command (replaced by one that
    prints the cores it may use and the command its run.json would record) ends at once but the second's, which
    lasts a second: the third starts on the core the first freed (cores 0 and 1, where the process may use them)."""
    first, second, third = (TrainConfig(model="m2", seed=seed) for seed in (0, 1, 2))
    report = ("import os, sys, time; print(sorted(os.sched_getaffinity(0))); "
              f"print(os.environ[{runs.COMMAND_VARIABLE!r}]); time.sleep(float(sys.argv[1]))")

    def command(config, out_dir, data_path=None):
        return [sys.executable, "-c", report, "1.0" if config is second else "0"]

    monkeypatch.setattr(local_training, "train_command", command)
    said = []
    local_training.train_runs([(first, tmp_path / "first"), (second, tmp_path / "second"),
                               (third, tmp_path / "third")], jobs=2, poll_seconds=0.05, say=said.append)
    one, two = local_training.usable_cores()[:2]
    for name, core in (("first", one), ("second", two), ("third", one)):
        cores, recorded = (tmp_path / name / "train.out").read_text().splitlines()
        assert cores == f"[{core}]", name
        assert recorded.startswith(f"taskset -c {core} python -m gmvae"), name
    started = [line for line in said if ": training " in line]
    assert [line.split(" on core ")[1].split(" ")[0] for line in started] == [str(one), str(two), str(one)]
