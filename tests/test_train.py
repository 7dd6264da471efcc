"""Training loop: data order, determinism, resume after SIGKILL, extension, NaN handling."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from gmvae import runs, train as train_module
from gmvae.config import TrainConfig
from gmvae.data import MNIST
from gmvae.loss import negative_elbo
from gmvae.models import build_model
from gmvae.reproduction.profiles import CLIP_NORM
from gmvae.train import RunMismatchError, batch_indices, make_train_step, train, training_objective

TINY = TrainConfig(model="gmvae", epochs=3, k=3, z_dim=2, hidden=8, batch_size=10, iters_per_epoch=5,
                   train_eval_size=40, test_eval_size=30, precision="float32")


def synthetic_mnist(seed=0, n_train=120, n_test=30):
    rng = np.random.default_rng(seed)
    return MNIST(train_x=rng.random((n_train, 784), dtype=np.float32), train_y=rng.integers(0, 10, n_train),
                 test_x=rng.random((n_test, 784), dtype=np.float32), test_y=rng.integers(0, 10, n_test))


def without_time(log: pd.DataFrame) -> pd.DataFrame:
    return log.drop(columns="seconds").reset_index(drop=True)


def test_the_post_profiles_clipping_threshold_unreached_trains_the_unclipped_run_bit_for_bit(tmp_path):
    """As the post profile's clipped modified M2 did over 300 epochs; a threshold that does cut changes the run.
    TensorFlow scales the gradients by clip_norm * (1 / clip_norm) when their norm is below it: exactly 1 in
    float32 for 480, not for every threshold (a threshold of 2 * the largest norm here changes the last bits)."""
    data = synthetic_mnist()
    config = TINY.replace(model="modified_m2")
    unclipped = train(config, tmp_path / "none", data=data, progress=False)
    assert unclipped["grad_norm_max"].max() < CLIP_NORM
    above = train(config.replace(clip_norm=CLIP_NORM), tmp_path / "above", data=data, progress=False)
    pd.testing.assert_frame_equal(without_time(above), without_time(unclipped))
    cutting = train(config.replace(clip_norm=float(unclipped["grad_norm_median"].min()) / 2), tmp_path / "cutting",
                    data=data, progress=False)
    assert not np.allclose(cutting["test_loss"], unclipped["test_loss"])


def test_first_pass_reads_the_file_in_order_and_later_passes_are_permuted():
    """TF 0.12's next_batch, as the original read MNIST: 0, 1, ..., n-1, then a fresh permutation per pass."""
    config = TrainConfig(seed=3, iters_per_epoch=3, batch_size=2)
    n = 7
    stream = np.concatenate([batch_indices(config, epoch, n).ravel() for epoch in (1, 2, 3, 4)])
    assert list(stream[:n]) == list(range(n))
    for start in (n, 2 * n):
        assert sorted(stream[start:start + n]) == list(range(n))
        assert list(stream[start:start + n]) != list(range(n))
    assert list(stream[n:2 * n]) != list(stream[2 * n:3 * n])


def test_a_run_recorded_before_first_pass_was_configurable_counts_as_shuffled():
    assert TrainConfig.from_dict({"model": "m2"}).first_pass == "shuffled"
    assert "first_pass='shuffled' (wanted 'file_order')" in TrainConfig().differences({"model": "gmvae"})


def test_a_run_recorded_before_kl_y_weight_existed_trained_on_the_elbo():
    assert TrainConfig.from_dict({"model": "m2"}).kl_y_weight == 1.0
    assert not [d for d in TrainConfig(first_pass="shuffled").differences({"model": "gmvae"}) if "kl_y_weight" in d]


def test_shuffled_batches_walk_through_whole_permutations_across_epochs():
    config = TrainConfig(seed=3, iters_per_epoch=3, batch_size=2, first_pass="shuffled")
    n = 7                                          # 6 examples an epoch: passes straddle epochs
    stream = np.concatenate([batch_indices(config, epoch, n).ravel() for epoch in (1, 2, 3, 4)])
    for start in range(0, 21, n):
        assert sorted(stream[start:start + n]) == list(range(n))
    assert not np.array_equal(stream[:n], stream[n:2 * n])
    np.testing.assert_array_equal(batch_indices(config, 2, n), batch_indices(config, 2, n))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished TINY run, trained once for the tests that start from one (each training costs seconds of tracing):
    a test copies the folder with :func:`copy_of` before it changes anything."""
    out = tmp_path_factory.mktemp("tiny") / "run"
    return out, train(TINY, out, data=synthetic_mnist(), progress=False)


def copy_of(tiny_run, to):
    shutil.copytree(tiny_run[0], to)  # copy2: the files keep their modification times
    return to


def test_same_seed_same_log_other_seed_other_log(tiny_run, tmp_path):
    data = synthetic_mnist()
    a = tiny_run[1]
    b = train(TINY, tmp_path / "b", data=data, progress=False)
    c = train(TINY.replace(seed=1), tmp_path / "c", data=data, progress=False)
    assert list(a.columns) == runs.LOG_COLUMNS and list(a["epoch"]) == [1, 2, 3]
    pd.testing.assert_frame_equal(without_time(a), without_time(b))
    assert not np.allclose(a["test_loss"], c["test_loss"])
    record = runs.read_record(tiny_run[0])
    assert record["config"] == json.loads(TINY.to_json())
    assert record["status"]["completed_epochs"] == 3 and record["status"]["finished"]


def test_extending_a_finished_run_equals_training_longer(tiny_run, tmp_path):
    data = synthetic_mnist()
    extended = train(TINY.replace(epochs=5), copy_of(tiny_run, tmp_path / "extended"), data=data, progress=False)
    straight = train(TINY.replace(epochs=5), tmp_path / "straight", data=data, progress=False)
    pd.testing.assert_frame_equal(without_time(extended), without_time(straight))
    pd.testing.assert_frame_equal(without_time(runs.read_log(tmp_path / "extended")), without_time(straight))


def test_finished_run_is_not_trained_again(tiny_run, tmp_path):
    run = copy_of(tiny_run, tmp_path / "run")
    before = {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()}
    log = train(TINY, run, data=synthetic_mnist(), progress=False)
    assert len(log) == 3
    assert {p.name: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()} == before


def test_finished_run_without_checkpoints_is_not_retrained(tiny_run, tmp_path):
    """A clone has the committed logs but no checkpoints: asking for the same epochs trains nothing."""
    run = copy_of(tiny_run, tmp_path / "run")
    shutil.rmtree(run / "checkpoints")
    again = train(TINY, run, data=synthetic_mnist(), progress=False)
    pd.testing.assert_frame_equal(again, runs.read_log(run))
    assert len(again) == len(tiny_run[1]) and not (run / "checkpoints").exists()


def test_a_folder_with_another_configuration_is_refused(tiny_run, tmp_path):
    with pytest.raises(RunMismatchError, match="hidden"):
        train(TINY.replace(hidden=9), copy_of(tiny_run, tmp_path / "run"), data=synthetic_mnist(), progress=False)


def test_a_run_recorded_before_adam_epsilon_was_configurable_is_refused(tiny_run, tmp_path):
    """Such runs trained with Keras' default epsilon 1e-7; resuming them with 1e-10 would mix two optimizers."""
    data = synthetic_mnist()
    run = copy_of(tiny_run, tmp_path / "run")
    record = json.loads((run / "run.json").read_text())
    del record["config"]["adam_epsilon"]
    (run / "run.json").write_text(json.dumps(record))
    assert TrainConfig.from_dict(record["config"]).adam_epsilon == 1e-7
    with pytest.raises(RunMismatchError, match="adam_epsilon=1e-07"):
        train(TINY, run, data=data, progress=False)


def test_adam_steps_as_the_original_did_on_the_summed_loss():
    """TF1's Adam (epsilon 1e-8), written out in numpy, on the sum of a batch of 100 per-example losses
    0.5e-9 (c_i . w)^2, against our optimizer on their mean. Gradients this small make epsilon matter."""
    config = TrainConfig()
    rng = np.random.default_rng(0)
    c = rng.normal(size=(config.batch_size, 3))
    w0 = rng.normal(size=3)

    w, m, v = w0.copy(), np.zeros(3), np.zeros(3)
    for t in range(1, 6):
        g = 1e-9 * c.T @ (c @ w)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g**2
        w -= config.learning_rate * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-8)

    def ours(optimizer):
        weights = tf.Variable(w0)
        for _ in range(5):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(0.5e-9 * tf.linalg.matvec(tf.constant(c), weights) ** 2)
            optimizer.apply_gradients([(tape.gradient(loss, weights), weights)])
        return weights.numpy()

    np.testing.assert_allclose(ours(train_module.make_optimizer(config)), w, rtol=1e-6)  # float32 hyperparameters
    keras_default = ours(tf.keras.optimizers.Adam(config.learning_rate))
    assert np.abs(keras_default - w0).max() < 0.1 * np.abs(w - w0).max()  # 1e-7 would barely move w


# ---- eta = kl_y_weight: how hard the training objective pulls q(y|x) towards p(y) ----

def m2_with_a_decided_q_y(config):
    """At initialisation q(y|x) is nearly uniform and KL(q(y|x) || p(y)) nearly 0; move it away."""
    model = build_model(config)
    model.qy_layers[-1].bias.assign(np.linspace(-2, 2, config.k, dtype=np.float32))
    return model


def model_and_batch():
    model = m2_with_a_decided_q_y(TINY.replace(model="m2"))
    x = tf.constant(synthetic_mnist().train_x[:TINY.batch_size].round())
    assert float(tf.reduce_mean(model.q_y(x).entropy())) < 0.9 * np.log(TINY.k)
    return model, x


def value_and_gradients(model, objective):
    with tf.GradientTape() as tape:
        value = objective()
    return value.numpy(), [g.numpy() for g in tape.gradient(value, model.trainable_variables)]


def test_eta_one_trains_on_the_negative_elbo_bit_for_bit():
    model, x = model_and_batch()
    seed = tf.constant([5, 6])
    elbo, elbo_gradients = value_and_gradients(model, lambda: tf.reduce_mean(negative_elbo(model, x, seed).loss))
    ours, our_gradients = value_and_gradients(model, lambda: training_objective(model, x, seed, 1.0))
    assert ours == elbo
    for a, b in zip(our_gradients, elbo_gradients):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("eta", [0.0, 0.3])
def test_eta_weights_the_kl_over_y_alone(eta):
    model, x = model_and_batch()
    seed = tf.constant([5, 6])
    terms = negative_elbo(model, x, seed)
    expected = np.mean(terms.reconstruction.numpy() + terms.kl_z.numpy() + eta * terms.kl_y.numpy())
    assert float(training_objective(model, x, seed, eta)) == pytest.approx(expected, rel=1e-6)
    assert float(np.mean(terms.kl_y)) > 0.01                   # so the weight makes a difference


def test_the_train_step_with_eta_zero_has_other_gradients_for_q_y_and_the_same_for_the_rest():
    """kl_y depends on q(y|x)'s weights only. One step of gradient descent with rate 1 from the same start,
    with eta 1 and with eta 0: each weight moves by minus its gradient in the train step."""
    train_x = tf.constant(synthetic_mnist().train_x)
    steps = {}
    for eta in (1.0, 0.0):
        config = TINY.replace(model="m2", kl_y_weight=eta)
        model = m2_with_a_decided_q_y(config)
        before = [v.numpy() for v in model.trainable_variables]
        train_step = make_train_step(model, tf.keras.optimizers.SGD(learning_rate=1.0), train_x, config)
        train_step(np.arange(config.batch_size), np.array([[1, 2], [3, 4]], np.int32))
        steps[eta] = [v.numpy() - b for v, b in zip(model.trainable_variables, before)]
    q_y = {v.ref() for layer in model.qy_layers for v in layer.trainable_variables}
    assert len(q_y) == 6                                       # 3 layers' kernels and biases
    for v, one, zero in zip(model.trainable_variables, steps[1.0], steps[0.0]):
        if v.ref() in q_y:
            assert np.abs(one - zero).max() > 1e-4, v.name
        else:
            np.testing.assert_array_equal(one, zero, err_msg=v.name)


def test_the_epoch_loop_stops_after_the_first_non_finite_objective_and_runs_no_step_past_it():
    steps_run = tf.Variable(0)

    @tf.function
    def step(indices, seeds):
        steps_run.assign_add(1)
        index = tf.cast(indices[0], tf.float32)
        return tf.where(indices[0] == 7, np.nan, index), 10 * index

    train_epoch = train_module.make_train_epoch(step)
    seeds = np.zeros([5, 2, 2], np.int32)
    objectives, gradient_norms = train_epoch(np.arange(5)[:, None], seeds)
    np.testing.assert_array_equal(objectives, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(gradient_norms, [0, 10, 20, 30, 40])
    objectives, gradient_norms = (t.numpy() for t in train_epoch(np.array([[3], [7], [5], [6], [8]]), seeds))
    assert objectives[0] == 3 and np.isnan(objectives[1]) and len(objectives) == 2
    np.testing.assert_array_equal(gradient_norms, [30, 70])
    assert int(steps_run.numpy()) == 5 + 2


def test_an_epoch_in_one_loop_gives_the_weights_of_a_call_per_step_bit_for_bit():
    config, data = TINY, synthetic_mnist()
    train_x = tf.constant(data.train_x)
    models = [build_model(config) for _ in range(2)]
    steps = [make_train_step(m, train_module.make_optimizer(config), train_x, config) for m in models]
    indices, seeds = batch_indices(config, 1, len(data.train_x)), train_module.step_seeds(config, 1)
    looped = np.stack([t.numpy() for t in train_module.make_train_epoch(steps[0])(indices, seeds)], axis=1)
    stepped = [[float(t) for t in steps[1](i, s)] for i, s in zip(indices, seeds)]
    np.testing.assert_array_equal(looped, stepped)
    for a, b in zip(models[0].trainable_variables, models[1].trainable_variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_non_finite_loss_stops_cleanly_and_keeps_the_last_finite_checkpoint(tmp_path, monkeypatch):
    real_epoch = train_module.make_train_epoch

    def epoch_that_breaks_in_epoch_3(step):
        train_epoch, calls = real_epoch(step), []

        def wrapped(indices, seeds):
            calls.append(1)
            objectives, gradient_norms = train_epoch(indices, seeds)
            if len(calls) == 3:
                return tf.concat([objectives[:1], [np.nan]], 0), gradient_norms[:2]
            return objectives, gradient_norms
        return wrapped

    monkeypatch.setattr(train_module, "make_train_epoch", epoch_that_breaks_in_epoch_3)
    log = train(TINY.replace(epochs=5), tmp_path, data=synthetic_mnist(), progress=False)
    assert list(log["epoch"]) == [1, 2, 3]
    assert log.loc[:1, "test_loss"].notna().all() and np.isnan(log.loc[2, "test_loss"])
    status = runs.read_record(tmp_path)["status"]
    assert status["nan_epoch"] == 3 and status["completed_epochs"] == 2
    assert "ckpt-2" in open(tmp_path / "checkpoints" / "checkpoint").read()
    # Asked again, it does not train past the break.
    monkeypatch.undo()
    assert len(train(TINY.replace(epochs=5), tmp_path, data=synthetic_mnist(), progress=False)) == 3


RUN_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from test_train import TINY, synthetic_mnist
    from gmvae.train import train
    train(TINY.replace(epochs={epochs}), {out!r}, data=synthetic_mnist(), progress=False)
""")


def _start_run(out, epochs):
    script = RUN_SCRIPT.format(tests=os.path.dirname(__file__), epochs=epochs, out=str(out))
    return subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_run_killed_with_sigkill_resumes_to_the_uninterrupted_log(tmp_path):
    epochs = 12
    victim = _start_run(tmp_path / "killed", epochs)
    deadline = time.monotonic() + 120
    while len(runs.read_log(tmp_path / "killed")) < 3 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL, victim.stderr.read().decode()[-2000:]
    assert 3 <= len(runs.read_log(tmp_path / "killed")) < epochs

    for run in [_start_run(tmp_path / out, epochs) for out in ("killed", "uninterrupted")]:
        assert run.wait(timeout=300) == 0, run.stderr.read().decode()[-2000:]
    resumed, uninterrupted = runs.read_log(tmp_path / "killed"), runs.read_log(tmp_path / "uninterrupted")
    assert len(resumed) == epochs
    pd.testing.assert_frame_equal(without_time(resumed), without_time(uninterrupted))


def test_code_version_is_dirty_only_for_changed_code(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "lib").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "lib" / "model.py").write_text("a = 1\n")
    (tmp_path / "results" / "log.csv").write_text("epoch\n1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()

    (tmp_path / "results" / "log.csv").unlink()             # results change: still the committed code
    (tmp_path / "scratch.txt").write_text("untracked")
    assert train_module.code_version(tmp_path) == head
    (tmp_path / "lib" / "model.py").write_text("a = 2\n")
    assert train_module.code_version(tmp_path) == head + "-dirty"
    assert train_module.code_version(tmp_path / "results") == head + "-dirty"   # any folder inside the checkout
    outside = tmp_path.parent / f"{tmp_path.name}-not-a-repo"
    outside.mkdir()
    assert train_module.code_version(outside) is None


def test_command_line_reads_as_typed_or_as_passed_down(monkeypatch):
    monkeypatch.delenv(runs.COMMAND_VARIABLE, raising=False)
    monkeypatch.setattr(sys, "argv", ["/somewhere/lib/gmvae/__main__.py", "train", "--epochs", "3"])
    assert runs.command_line() == "python -m gmvae train --epochs 3"
    monkeypatch.setenv(runs.COMMAND_VARIABLE, "python -m gmvae reproduce --profile cpu [notebook 01_m2_failure.ipynb]")
    assert runs.command_line() == "python -m gmvae reproduce --profile cpu [notebook 01_m2_failure.ipynb]"


def test_an_epochs_gradient_norms_are_logged_as_the_median_and_maximum_of_the_finite_ones():
    """Norms 1, 2, 10, 4 and a last NaN step: median of the four finite ones 3, maximum 10."""
    summary = train_module.gradient_norm_summary(np.array([1.0, 2.0, 10.0, 4.0, np.nan], np.float32))
    assert summary == {"grad_norm_median": 3.0, "grad_norm_max": 10.0}
    assert all(np.isnan(v) for v in train_module.gradient_norm_summary(np.array([np.nan])).values())


def test_the_logged_gradient_norms_are_those_of_the_epochs_steps(tmp_path, monkeypatch):
    """The norms an epoch's steps return are what its log row summarizes, epoch by epoch."""
    seen = []
    real_epoch = train_module.make_train_epoch

    def recording(step):
        train_epoch = real_epoch(step)

        def wrapped(indices, seeds):
            objectives, norms = train_epoch(indices, seeds)
            seen.append(norms.numpy())
            return objectives, norms
        return wrapped

    monkeypatch.setattr(train_module, "make_train_epoch", recording)
    log = train(TINY.replace(epochs=2), tmp_path, data=synthetic_mnist(), progress=False)
    assert len(seen) == 2 and not np.array_equal(seen[0], seen[1])
    for row, norms in zip(log.itertuples(), seen):
        assert (row.grad_norm_median, row.grad_norm_max) == pytest.approx((np.median(norms), norms.max()), rel=1e-5)
    assert (log["grad_norm_max"] > log["grad_norm_median"]).all()
