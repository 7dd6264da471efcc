"""The run folder under damage, two writers and kills: a file that cannot be read is named and left as it is,
one process at a time trains in a folder, and a kill inside the checkpoint save resumes to the same log."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest
import tensorflow as tf
from tensorflow.python.checkpoint import checkpoint_management, functional_saver

from gmvae import cli, evaluate, runs
from gmvae.runs import DamagedRunError, RunLockedError
from gmvae.train import train
from test_train import TINY, synthetic_mnist, without_time

TESTS = os.path.dirname(__file__)
QUIET_TF = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finished") / "run"
    train(TINY.replace(epochs=2), folder, data=synthetic_mnist(), progress=False)
    return folder


@pytest.fixture
def run(finished_run, tmp_path):
    """A copy of a finished 2-epoch run, to damage."""
    return shutil.copytree(finished_run, tmp_path / "run")


@pytest.fixture(scope="module")
def uninterrupted_log(tmp_path_factory):
    return train(TINY, tmp_path_factory.mktemp("uninterrupted"), data=synthetic_mnist(), progress=False)


def files(folder) -> dict:
    """The bytes of every file in folder but the lock, to show that nothing was changed."""
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.name != runs.LOCK_FILE}


def one_line_error(error) -> str:
    message = str(error.value)
    assert "\n" not in message and "--retrain" in message
    return message


# ---------------------------------------------------------------------------------------- damage


def test_a_truncated_checkpoint_is_named_and_left_as_it_is(run):
    data_file, = (run / "checkpoints").glob("ckpt-2.data-*")
    os.truncate(data_file, 1000)
    before = files(run)
    with pytest.raises(DamagedRunError) as error:
        train(TINY.replace(epochs=4), run, data=synthetic_mnist(), progress=False)
    assert f"checkpoint {run}/checkpoints/ckpt-2 cannot be read (Read less bytes than requested)" in one_line_error(error)
    with pytest.raises(DamagedRunError):
        evaluate.load_trained(run)
    assert files(run) == before


def test_a_checkpoint_file_naming_a_missing_checkpoint_is_named_and_left_as_it_is(run):
    """Not taken for a clone without checkpoints, which would train from epoch 1 over the log."""
    (run / "checkpoints" / "ckpt-2.index").unlink()
    before = files(run)
    with pytest.raises(DamagedRunError) as error:
        train(TINY.replace(epochs=4), run, data=synthetic_mnist(), progress=False)
    assert f"{run}/checkpoints/checkpoint is damaged" in one_line_error(error)
    assert files(run) == before


def test_a_truncated_run_json_is_named_and_left_as_it_is(run):
    record = run / "run.json"
    record.write_bytes(record.read_bytes()[:300])
    before = files(run)
    with pytest.raises(DamagedRunError) as error:
        train(TINY.replace(epochs=5), run, data=synthetic_mnist(), progress=False)
    assert f"{record} is damaged: it is not valid JSON" in one_line_error(error)
    assert files(run) == before


@pytest.mark.parametrize("break_last_line, problem", [
    pytest.param(lambda line: line[:-3], "line 3 is cut off (the file ends without a line break)", id="cut"),
    pytest.param(lambda line: ",".join(line.split(",")[:5]) + "\n",
                 f"line 3 has 5 fields where the header has {len(runs.LOG_COLUMNS)}", id="fields missing"),
])
def test_a_log_with_a_broken_last_line_is_named_and_left_as_it_is(run, break_last_line, problem):
    """pandas reads either without complaint, with NaN for what is missing."""
    log = run / "log.csv"
    *complete, last = log.read_text().splitlines(keepends=True)
    log.write_text("".join(complete) + break_last_line(last))
    before = files(run)
    with pytest.raises(DamagedRunError) as error:
        train(TINY.replace(epochs=4), run, data=synthetic_mnist(), progress=False)
    assert f"{log} is damaged: {problem}" in one_line_error(error)
    assert files(run) == before


def test_retrain_moves_the_damaged_run_aside_and_trains_from_epoch_1(run, uninterrupted_log, capsys):
    os.truncate(next((run / "checkpoints").glob("ckpt-2.data-*")), 1000)
    damaged = files(run)
    log = train(TINY, run, data=synthetic_mnist(), progress=False, retrain=True)
    aside, = run.glob("previous-*")
    assert f"moved the previous run into {aside}" in capsys.readouterr().out
    assert files(aside) == damaged
    pd.testing.assert_frame_equal(without_time(log), without_time(uninterrupted_log))


@pytest.mark.slow
def test_the_cli_names_a_damaged_run_json_in_one_line_and_exits_1(run):
    (run / "run.json").write_text('{"config": {"model": "gmvae", "ep')
    result = subprocess.run([sys.executable, "-m", "gmvae", "train", "--model", "gmvae", "--epochs", "5", "--out", str(run)],
                            env=QUIET_TF, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"error: {run}/run.json is damaged: it is not valid JSON (")


# ---------------------------------------------------------------------------------------- one writer

HOLDER_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from gmvae import train as train_module
    from test_train import TINY, synthetic_mnist

    real_epoch = train_module.make_train_epoch

    def slow_epoch(step):
        train_epoch = real_epoch(step)

        def slowly(indices, seeds):
            time.sleep({seconds_per_step} * len(indices))
            return train_epoch(indices, seeds)
        return slowly

    train_module.make_train_epoch = slow_epoch
    train_module.train(TINY.replace(epochs={epochs}), {out!r}, data=synthetic_mnist(), progress=False)
    print("finished at", time.time())
""")
HOLDER_COMMAND = "python -m gmvae train (the test's first process)"


def start_holder(out, *, epochs, seconds_per_step):
    """A process training in out, slowly; returned once it holds the folder's lock."""
    script = HOLDER_SCRIPT.format(tests=TESTS, epochs=epochs, seconds_per_step=seconds_per_step, out=str(out))
    holder = subprocess.Popen([sys.executable, "-c", script], env={**QUIET_TF, runs.COMMAND_VARIABLE: HOLDER_COMMAND},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    lock = out / runs.LOCK_FILE
    while not (lock.exists() and f"pid {holder.pid}:" in lock.read_text()):
        if holder.poll() is not None or time.monotonic() > deadline:
            holder.kill()
            pytest.fail(f"the first process never took the lock: {holder.communicate()[1][-2000:]}")
        time.sleep(0.05)
    return holder


@pytest.mark.slow
def test_a_second_process_is_refused_with_the_first_ones_pid_and_command(tmp_path):
    holder = start_holder(tmp_path, epochs=100, seconds_per_step=1)
    try:
        with pytest.raises(RunLockedError) as error:
            train(TINY, tmp_path, data=synthetic_mnist(), progress=False)
    finally:
        holder.kill()
        holder.wait()
    assert f"in use by another process (pid {holder.pid}: {HOLDER_COMMAND}); " in str(error.value)
    assert "--wait" in str(error.value)


def test_the_cli_refuses_a_folder_in_use_in_one_line_and_exits_1(tmp_path, capsys):
    with runs.locked(tmp_path):
        status = cli.main(["train", "--model", "gmvae", "--profile", "smoke", "--out", str(tmp_path)])
    assert status == 1
    assert capsys.readouterr().err == (f"error: {tmp_path} is in use by another process (pid {os.getpid()}: "
                                       f"{runs.command_line()}); try again when it has finished, or add --wait to wait for it\n")


@pytest.mark.slow
def test_the_lock_of_a_killed_process_does_not_block_the_next(tmp_path, uninterrupted_log):
    holder = start_holder(tmp_path, epochs=3, seconds_per_step=1)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert f"pid {holder.pid}:" in (tmp_path / runs.LOCK_FILE).read_text()
    log = train(TINY, tmp_path, data=synthetic_mnist(), progress=False)
    pd.testing.assert_frame_equal(without_time(log), without_time(uninterrupted_log))


@pytest.mark.slow
def test_wait_waits_for_the_first_process_then_trains(tmp_path, uninterrupted_log, capsys):
    holder = start_holder(tmp_path, epochs=2, seconds_per_step=0.2)
    log = train(TINY, tmp_path, data=synthetic_mnist(), progress=False, wait=True)
    returned_at = time.time()
    holder_output = holder.communicate(timeout=120)[0]
    assert holder.returncode == 0
    assert float(holder_output.split("finished at ")[-1]) < returned_at
    assert f"waiting for pid {holder.pid}: {HOLDER_COMMAND} to finish" in capsys.readouterr().out
    pd.testing.assert_frame_equal(without_time(log), without_time(uninterrupted_log))


# ---------------------------------------------------------------------------------------- kills

# Where in epoch 2's checkpoint save the kill lands (gmvae.train's docstring lists the writes): the function
# that the kill replaces.
SAVE_STEPS = {
    "after the log row, before the save": (tf.train.CheckpointManager, "save"),
    "after writing the shards, before merging them": (functional_saver.gen_io_ops, "merge_v2_checkpoints"),
    "after the merge, before the checkpoint file names it": (checkpoint_management, "update_checkpoint_state_internal"),
}
KILLED = 77

KILL_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_run_folder import train_killed_in_the_second_save
    train_killed_in_the_second_save({step!r}, {out!r})
""")


def train_killed_in_the_second_save(step, out):
    """Train TINY in out and, once the log has epoch 2, die at `step` of the checkpoint save, as if killed."""
    owner, name = SAVE_STEPS[step]
    real = getattr(owner, name)

    def killed_in_epoch_2(*args, **kwargs):
        if len(runs.read_log(out)) == 2:
            os._exit(KILLED)
        return real(*args, **kwargs)

    setattr(owner, name, killed_in_epoch_2)
    train(TINY, out, data=synthetic_mnist(), progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("step", SAVE_STEPS)
def test_a_kill_during_the_checkpoint_save_resumes_to_the_uninterrupted_log(tmp_path, step, uninterrupted_log):
    script = KILL_SCRIPT.format(tests=TESTS, step=step, out=str(tmp_path))
    victim = subprocess.run([sys.executable, "-c", script], env=QUIET_TF, capture_output=True, text=True, timeout=300)
    assert victim.returncode == KILLED, victim.stderr[-2000:]
    assert len(runs.read_log(tmp_path)) == 2                  # the log is ahead of the checkpoint
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-1")
    assert runs.read_record(tmp_path)["status"]["completed_epochs"] == 1

    resumed = train(TINY, tmp_path, data=synthetic_mnist(), progress=False)
    pd.testing.assert_frame_equal(without_time(resumed), without_time(uninterrupted_log))
    pd.testing.assert_frame_equal(without_time(runs.read_log(tmp_path)), without_time(uninterrupted_log))


# ---------------------------------------------------------------------------------------- a run moved as files

def test_a_run_moved_as_files_resumes_from_its_checkpoint_to_the_uninterrupted_log(finished_run, tmp_path,
                                                                                     uninterrupted_log, capsys):
    moved = tmp_path / "elsewhere"
    runs.write_run_files(runs.read_run_files(finished_run), moved)
    assert files(moved) == files(finished_run)
    capsys.readouterr()
    log = train(TINY, moved, data=synthetic_mnist(), progress=False)
    assert "no checkpoint to continue from" not in capsys.readouterr().out
    pd.testing.assert_frame_equal(without_time(log), without_time(uninterrupted_log))


def write_run_files_cut(files: dict, folder, cut_after: int, monkeypatch) -> list[str]:
    """runs.write_run_files(files, folder) stopped, as by a kill, once ``cut_after`` files are written; returns
    their names."""
    real_write, written = runs.atomic_write_bytes, []

    def write_then_stop(path, content):
        if len(written) == cut_after:
            raise KeyboardInterrupt
        real_write(path, content)
        written.append(path.name)

    monkeypatch.setattr(runs, "atomic_write_bytes", write_then_stop)
    try:
        with pytest.raises(KeyboardInterrupt):
            runs.write_run_files(files, folder)
    finally:
        monkeypatch.setattr(runs, "atomic_write_bytes", real_write)
    return written


@pytest.mark.slow
def test_writing_a_run_over_its_earlier_state_cut_after_any_file_still_resumes_to_the_same_log(
        finished_run, tmp_path, uninterrupted_log, monkeypatch):
    """The driver of a Ray reproduction writes each epoch that comes back over the one before; killed between two
    of those files, the folder must still read as one state or the other and train on to the same log."""
    earlier = tmp_path / "earlier"
    train(TINY.replace(epochs=1), earlier, data=synthetic_mnist(), progress=False)
    later = runs.read_run_files(finished_run)
    for cut_after in range(len(later)):
        folder = shutil.copytree(earlier, tmp_path / f"cut{cut_after}")
        written = write_run_files_cut(later, folder, cut_after, monkeypatch)
        assert runs.read_record(folder)["status"]["completed_epochs"] == 1, written
        log = train(TINY, folder, data=synthetic_mnist(), progress=False)
        pd.testing.assert_frame_equal(without_time(log), without_time(uninterrupted_log))
    runs.write_run_files(later, earlier)
    assert sorted(p.name for p in (earlier / "checkpoints").iterdir()) == sorted(
        p.name for p in (finished_run / "checkpoints").iterdir())  # the earlier checkpoint is gone


def run_files(epoch: int) -> dict[str, bytes]:
    """A run folder after ``epoch`` epochs as runs.read_run_files gives it, each file's bytes naming its epoch."""
    state = f'model_checkpoint_path: "ckpt-{epoch}"\nall_model_checkpoint_paths: "ckpt-{epoch}"\n'
    return {"log.csv": "epoch\n".encode() + b"".join(f"{e}\n".encode() for e in range(1, epoch + 1)),
            f"checkpoints/ckpt-{epoch}.data-00000-of-00001": f"weights {epoch}".encode(),
            f"checkpoints/ckpt-{epoch}.index": f"index {epoch}".encode(),
            "checkpoints/checkpoint": state.encode(),
            "run.json": f'{{"config": {{}}, "status": {{"completed_epochs": {epoch}}}}}'.encode()}


def assert_resumable(folder, completed: int, written: list[str]) -> None:
    """The folder's checkpoint state names a checkpoint of run_files whose pieces are all there, the log has at least
    its epochs, and run.json says ``completed`` epochs."""
    on_disk = runs.read_run_files(folder)
    named = int(on_disk["checkpoints/checkpoint"].decode().split('"ckpt-')[1].split('"')[0])
    pieces = {name: content for name, content in run_files(named).items() if "ckpt-" in name}
    assert {name: on_disk.get(name) for name in pieces} == pieces, written
    assert len(runs.read_log(folder)) >= named, written
    assert runs.read_record(folder)["status"]["completed_epochs"] == completed, written


def test_a_run_written_over_its_earlier_state_and_cut_after_any_file_reads_as_a_run_that_resumes(tmp_path,
                                                                                                  monkeypatch):
    """The fast form of the slow test above, on files that stand for a run: cut after each file, the folder's
    checkpoint state names a checkpoint whose pieces are all there, of that epoch; the log has at least its epochs
    (rows past it are dropped on resume); run.json says the earlier epoch until every other file is written. Written
    whole, the folder is the later run, the earlier checkpoint removed."""
    earlier, later = run_files(1), run_files(2)
    for cut_after in range(len(later)):
        folder = tmp_path / f"cut{cut_after}"
        runs.write_run_files(earlier, folder)
        assert_resumable(folder, 1, write_run_files_cut(later, folder, cut_after, monkeypatch))
    whole = tmp_path / "whole"
    runs.write_run_files(earlier, whole)
    runs.write_run_files(later, whole)
    assert_resumable(whole, 2, list(later))
    assert runs.read_run_files(whole) == later
