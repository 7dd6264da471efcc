"""gmvae.nan_check on runs made to turn non-finite the way the original's modified M2 can: its decoder's variance
v(y) = softplus(s) is 0 in float32 for s below about -87.3 (TensorFlow flushes subnormals), and the gradient of sqrt(v) at 0 is infinite."""

import json

import numpy as np
import pytest

from gmvae import cli, runs
from gmvae.evaluate import latest_checkpoint
from gmvae.nan_check import REPORT, check_run
from gmvae.train import make_trainer, train

from test_original_graph import SMALL
from test_train import synthetic_mnist

pytestmark = pytest.mark.slow  # trainings and checked epochs: about a minute on 2 cores

BIAS = -200.0


def run_turned_nan(folder, implementation, *, plant=True):
    """A one-epoch run whose checkpoint has the decoder variance's bias at BIAS, recorded as NaN in epoch 2."""
    config, data = SMALL.replace(epochs=1, implementation=implementation), synthetic_mnist()
    train(config, folder, data=data, progress=False)
    trainer = make_trainer(config, data, folder / "checkpoints")
    trainer.restore(latest_checkpoint(folder))
    if plant:
        bias = np.full(config.z_dim, BIAS, np.float32)
        if implementation == "tfp":
            trainer.model.h_var.bias.assign(bias)
        else:
            trainer.assign([(trainer.net.layers["z_transform"][1].bias, bias)])
    trainer.save(1)
    record = runs.read_record(folder)
    record["status"].update(nan_epoch=2, finished=True)
    runs.write_record(folder, record)
    return data


@pytest.mark.parametrize("implementation", ["tfp", "original_graph"])
def test_the_check_names_the_gradient_of_sqrt_at_a_zero_variance(tmp_path, implementation):
    data = run_turned_nan(tmp_path, implementation)
    report = check_run(tmp_path, data=data)
    assert report == json.loads((tmp_path / REPORT).read_text())
    assert (report["epoch"], report["step"]) == (2, 1)
    before = report["before_the_step"]
    assert before["decoder_var_min_float32"] == 0.0
    assert BIAS - 5 < before["decoder_var_input_min"] < BIAS + 5   # the bias plus small kernel weights
    assert before["q_z_var_min_float32"] > 0
    found = report["first_non_finite"]
    if implementation == "tfp":
        assert found["op"] == "SqrtGrad"
        assert any("train.py" in frame for frame in found["created_at"])
    else:
        assert {b["op"] for b in found["born_at"]} == {"SqrtGrad"} and all(b["inf"] for b in found["born_at"])


def test_a_run_whose_nan_does_not_recur_says_so(tmp_path, capsys):
    data = run_turned_nan(tmp_path, "tfp", plant=False)
    report = check_run(tmp_path, data=data)
    assert report["step"] is None and report["note"] == f"all {SMALL.iters_per_epoch} steps stayed finite under " \
                                                        "the checks: the NaN did not recur"
    assert np.isfinite(report["previous_gradient_norm"])


def test_runs_that_cannot_be_checked_are_refused_with_the_reason(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GMVAE_MNIST", "unused")  # nothing is read before the refusal
    assert cli.main(["nan-check", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path} holds no run (no run.json)\n"
    train(SMALL.replace(epochs=1, implementation="tfp"), tmp_path, data=synthetic_mnist(), progress=False)
    with pytest.raises(ValueError, match="never turned non-finite"):
        check_run(tmp_path)
    record = runs.read_record(tmp_path)
    record["status"]["nan_epoch"] = 2
    runs.write_record(tmp_path, record)
    for path in (tmp_path / "checkpoints").iterdir():
        path.unlink()
    with pytest.raises(FileNotFoundError, match="no checkpoint: git keeps none"):
        check_run(tmp_path)
