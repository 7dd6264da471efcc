"""The one progress line of a whole reproduction, read from the run folders of a profile."""

import io
import re
import shutil
import time

import pandas as pd
import pytest

from gmvae import runs
from gmvae.reproduction import progress


def write_run(results, run_name, seed, seconds, precision="mixed_bfloat16", nan_epoch=None):
    folder = runs.run_dir(results, run_name, seed)
    folder.mkdir(parents=True, exist_ok=True)
    log = pd.DataFrame({"epoch": range(1, len(seconds) + 1), "test_loss": 100.0, "seconds": seconds})
    runs.write_log(folder, log.reindex(columns=runs.LOG_COLUMNS))
    runs.write_record(folder, {"config": {"precision": precision},
                               "status": {"completed_epochs": len(seconds), "nan_epoch": nan_epoch}})


def test_the_line_names_the_run_and_epoch_and_estimates_from_epoch_times_measured_now(tmp_path):
    write_run(tmp_path, "m2", 0, [9.0, 9.0, 9.0])  # trained before: its times are not this reproduction's
    line = progress.ReproductionProgress("smoke", tmp_path, epochs=3)
    assert [(r.name, r.done) for r in line.runs] == [("m2", 3), ("modified_m2", 0), ("gmvae", 0), ("m2_iaf", 0),
                                                    ("m2_eta0", 0)]
    assert progress.status_line(line.runs) == ("run 2 of 5: modified_m2 seed 0, epoch 1 of 3; "
                                               "time left known after the first epoch")
    write_run(tmp_path, "modified_m2", 0, [30.0, 40.0])
    line._update()
    # modified M2: 1 epoch at its own median (35 s); the three runs not begun: 3 epochs each at the median of
    # every epoch measured now (35 s); m2 is done
    assert progress.seconds_left(line.runs) == pytest.approx(35 + 9 * 35)
    assert progress.status_line(line.runs) == ("run 2 of 5: modified_m2 seed 0 (mixed_bfloat16), epoch 3 of 3; "
                                               "about 6 min of training left")


def test_a_run_training_on_a_ray_cluster_is_read_from_its_incoming_folder(tmp_path):
    write_run(tmp_path / runs.INCOMING, "m2", 0, [9.0, 9.0])  # results/.incoming/runs/m2/seed0
    line = progress.ReproductionProgress("smoke", tmp_path, epochs=3)
    assert progress.status_line(line.runs).startswith("run 1 of 5: m2 seed 0 (mixed_bfloat16), epoch 3 of 3")
    write_run(tmp_path, "m2", 0, [9.0, 9.0, 9.0], precision="float32")  # complete: written into results/runs/
    shutil.rmtree(tmp_path / runs.INCOMING)
    line._update()
    assert progress.status_line(line.runs).startswith("run 2 of 5: modified_m2 seed 0, epoch 1 of 3")


def test_a_run_stopped_at_nan_counts_as_done(tmp_path):
    for name in ("m2", "modified_m2", "gmvae", "m2_iaf"):
        write_run(tmp_path, name, 0, [1.0, 1.0])
    write_run(tmp_path, "m2_eta0", 0, [1.0], nan_epoch=1)
    line = progress.ReproductionProgress("smoke", tmp_path)  # smoke: 2 epochs
    assert not line.active
    assert progress.status_line(line.runs) == "all 5 runs trained"


def test_time_left_by_hand_when_runs_stopped_at_a_nan_epoch(tmp_path):
    line = progress.ReproductionProgress("smoke", tmp_path, epochs=10)
    write_run(tmp_path, "m2", 0, [10.0, 20.0, 60.0])                       # training: 3 of 10 epochs done
    write_run(tmp_path, "modified_m2", 0, [30.0, 50.0, 4.0], nan_epoch=3)  # NaN early in epoch 3: stopped
    write_run(tmp_path, "gmvae", 0, [40.0, 3.0], nan_epoch=2)              # NaN early in epoch 2: stopped
    line._update()                                                          # m2_iaf and m2_eta0 not begun
    # m2:                 7 epochs left at its own median, median(10, 20, 60) = 20 s:                7 * 20 = 140 s
    # modified_m2, gmvae: stopped, nothing left to train (not 7 * 30 and 8 * 21.5):                          0 s
    # m2_iaf, m2_eta0:    10 epochs each at the median of every epoch measured, the stopped runs' too:
    #                     median(3, 4, 10, 20, 30, 40, 50, 60) = (20 + 30) / 2 = 25 s:          2 * 10 * 25 = 500 s
    assert progress.seconds_left(line.runs) == pytest.approx(140 + 0 + 500)


def test_away_from_a_terminal_it_prints_a_line_every_interval(tmp_path):
    out = io.StringIO()
    with progress.ReproductionProgress("smoke", tmp_path, poll_seconds=0.05, log_every=0.0, file=out) as line:
        time.sleep(0.3)
        write_run(tmp_path, "m2", 0, [2.0])
        time.sleep(0.3)
        line.write("a notebook finished")
    printed = out.getvalue().splitlines()
    assert printed[0] == "reproduce: run 1 of 5: m2 seed 0, epoch 1 of 2; time left known after the first epoch"
    assert printed[-1] == "reproduce: run 1 of 5: m2 seed 0 (mixed_bfloat16), epoch 2 of 2; about 18 s of training left"


def test_with_two_jobs_the_line_names_both_runs_training_and_shares_the_time_left_between_them(tmp_path):
    """`reproduce` on 2 cores trains 2 runs at once. M2 has 3 of 10 epochs (10, 20 and 60 s), modified M2 2 (30 and
    50 s), the other three none. Left: M2 7 x 20 s (its median) = 140 s, modified M2 8 x 40 s = 320 s, the three
    others 10 x 30 s each (the median of every epoch measured, 30 s) = 900 s: 1,360 s of training, 680 s on two
    cores at once, 11 min (one job: 23 min)."""
    line = progress.ReproductionProgress("smoke", tmp_path, epochs=10, jobs=2)
    write_run(tmp_path, "m2", 0, [10.0, 20.0, 60.0])
    write_run(tmp_path, "modified_m2", 0, [30.0, 50.0], precision="float32")
    shown = line._update()
    assert progress.seconds_left(line.runs, jobs=2) == pytest.approx((140 + 320 + 900) / 2)
    assert shown == (
        "run 1 of 5: m2 seed 0 (mixed_bfloat16), epoch 4 of 10; "
        "run 2 of 5: modified_m2 seed 0 (float32), epoch 3 of 10; about 11 min of training left")
    assert progress.status_line(line.runs, jobs=1).endswith("epoch 4 of 10; about 23 min of training left")
    write_run(tmp_path, "m2", 0, [10.0, 20.0, 60.0] + [20.0] * 7)  # M2 done: the next run takes its core
    assert line._update().startswith(
        "run 2 of 5: modified_m2 seed 0 (float32), epoch 3 of 10; run 3 of 5: gmvae seed 0, epoch 1 of 10; ")


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_a_bar_counts_every_epoch_of_the_profile_from_those_already_trained(tmp_path, capsys):
    """smoke: 5 runs of 2 epochs, 10 in all; M2 has 1 before the reproduction begins and its second during it (2 s);
    m2_eta0 stopped at a NaN in its first epoch, so it counts as its 2 epochs; the other three runs' 6 epochs are
    left at 2 s each. Lines written go to stdout, above the bar."""
    write_run(tmp_path, "m2", 0, [2.0])
    write_run(tmp_path, "m2_eta0", 0, [2.0], nan_epoch=1)
    out = Terminal()
    with progress.ReproductionProgress("smoke", tmp_path, poll_seconds=0.05, log_every=0.0, file=out) as line:
        time.sleep(0.2)
        write_run(tmp_path, "m2", 0, [2.0, 2.0])
        time.sleep(0.3)
        line.write("a notebook finished")
    assert capsys.readouterr().out == "a notebook finished\n"
    # the time so far, whatever it is, as 00:00
    frames = [re.sub(r"\d\d:\d\d so far", "00:00 so far", frame.strip())
              for frame in out.getvalue().split("\r") if frame.strip()]
    assert frames[0] == "|###       | 3/10 epochs, 00:00 so far"   # drawn before its first line
    assert frames[1] == ("run 1 of 5: m2 seed 0 (mixed_bfloat16), epoch 2 of 2; time left known after the first "
                         "epoch |###       | 3/10 epochs, 00:00 so far")
    assert frames[-1] == ("run 2 of 5: modified_m2 seed 0, epoch 1 of 2; about 12 s of training left "
                          "|####      | 4/10 epochs, 00:00 so far")
    assert not [frame for frame in frames if "reproduce:" in frame]  # the bar, not the lines of a log file


def test_time_left_turns_to_minutes_at_a_minute():
    assert [progress._minutes(s) for s in (59, 60, 150)] == ["59 s", "1 min", "2 min"]


def test_the_runs_of_the_seeds_asked_for(tmp_path):
    post = progress.profile_runs("post", tmp_path, seeds=(1,), epochs=7)
    assert {(r.seed, r.epochs) for r in post} == {(1, 7)}
    assert [r.name for r in post][:3] == ["gmvae", "modified_m2", "modified_m2_clip"]


def test_away_from_a_terminal_a_line_every_interval_not_every_poll_and_messages_on_stdout(tmp_path, capsys,
                                                                                          monkeypatch):
    """The first poll prints, even on a machine whose monotonic clock started 5 s ago; the next ones within the
    interval do not."""
    monkeypatch.setattr(progress.time, "monotonic", lambda: 5.0)
    out = io.StringIO()
    with progress.ReproductionProgress("smoke", tmp_path, poll_seconds=0.01, log_every=60.0, file=out) as line:
        time.sleep(0.3)  # about 30 polls
        line.write("a notebook finished")
    assert out.getvalue() == "reproduce: run 1 of 5: m2 seed 0, epoch 1 of 2; time left known after the first epoch\n"
    assert capsys.readouterr().out == "a notebook finished\n"


def test_the_line_counts_only_the_seeds_asked_for(tmp_path):
    line = progress.ReproductionProgress("post", tmp_path, seeds=(1,), epochs=7)
    assert {(r.seed, r.epochs) for r in line.runs} == {(1, 7)}
