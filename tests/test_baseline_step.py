"""The fast training step and the straightforward baseline agree; the bench counts and prints right.

Same weights and same noise must give the same loss and gradients (float32 tolerance) in both, for
every model; the bench's analytic FLOP counts must equal the matmuls TensorFlow actually traces.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from gmvae.config import TrainConfig
from gmvae.loss import negative_elbo
from gmvae.models import build_model
from gmvae.speed import bench
from gmvae.speed.baseline_step import PORTED_MODELS, make_baseline_step, baseline_loss, standard_normal_noise
from gmvae.train import make_optimizer, make_train_step

K, Z, HIDDEN, X_DIM, BATCH = 3, 2, 5, 4, 7
SEED = tf.constant([11, 12])


def tiny(model, **changes):
    return build_model(TrainConfig(model=model, k=K, z_dim=Z, hidden=HIDDEN, **changes), x_dim=X_DIM)


def loss_and_gradients(model, loss_fn):
    with tf.GradientTape() as tape:
        loss = loss_fn()
    return loss.numpy(), [g.numpy() for g in tape.gradient(loss, model.trainable_variables)]


@pytest.mark.parametrize("name, first", [("m2", "relu"), ("modified_m2", "relu"), ("modified_m2", "identity"),
                                         ("modified_m2", "relu_layer"), ("gmvae", "relu")])
def test_baseline_and_fast_loss_agree_in_value_and_gradients(name, first):
    model = tiny(name, decoder_first=first)
    rng = np.random.default_rng(0)
    for v in model.trainable_variables:  # zero biases would hide a bias bug
        if "bias" in v.name:
            v.assign(rng.normal(size=v.shape).astype(np.float32))
    x = tf.constant(rng.integers(0, 2, size=(BATCH, X_DIM)), tf.float32)
    fast, fast_grads = loss_and_gradients(model, lambda: tf.reduce_mean(negative_elbo(model, x, SEED).loss))
    slow, slow_grads = loss_and_gradients(model, lambda: baseline_loss(model, x, standard_normal_noise(model, BATCH, SEED)))
    np.testing.assert_allclose(fast, slow, rtol=1e-5)
    for v, f, s in zip(model.trainable_variables, fast_grads, slow_grads):
        np.testing.assert_allclose(f, s, rtol=1e-4, atol=1e-5, err_msg=v.name)


def test_one_fast_step_and_one_baseline_step_agree():
    """Same data, binarization, z noise and Adam update: the plumbing around the two losses."""
    config = TrainConfig(model="gmvae", k=K, z_dim=Z, hidden=HIDDEN, batch_size=BATCH)
    train_x = tf.constant(np.random.default_rng(0).random((20, X_DIM)), tf.float32)
    indices, seeds = np.arange(BATCH), np.array([[1, 2], [3, 4]], np.int32)
    results = []
    def fast_step(*args):
        step = make_train_step(*args, config)
        return lambda *inputs: step(*inputs)[0]

    for make_step in (fast_step, make_baseline_step):
        model = build_model(config, x_dim=X_DIM)  # the same seed: the same initial weights
        optimizer = make_optimizer(config)
        optimizer.build(model.trainable_variables)
        loss = float(make_step(model, optimizer, train_x)(indices, seeds))
        results.append((loss, [v.numpy() for v in model.trainable_variables]))
    (fast, fast_weights), (slow, slow_weights) = results
    assert fast == pytest.approx(slow, rel=1e-5)
    for f, s in zip(fast_weights, slow_weights):
        np.testing.assert_allclose(f, s, rtol=1e-5, atol=1e-6)


def matmul_gflop(step, batch_size):
    """FLOPs of the MatMul ops in a traced step: 2mnk each."""
    graph = step.get_concrete_function(tf.zeros([batch_size], tf.int64), tf.zeros([2, 2], tf.int32)).graph
    flop = 0
    for op in graph.get_operations():
        assert "BatchMatMul" not in op.type
        if op.type == "MatMul":
            a = op.inputs[0].shape
            flop += 2 * op.outputs[0].shape.num_elements() * (a[0] if op.get_attr("transpose_a") else a[1])
    return flop / 1e9


@pytest.mark.parametrize("name, first", [("modified_m2", "relu"), ("gmvae", "relu"),
                                         *(pytest.param(name, first, marks=pytest.mark.slow)  # seconds each
                                           for name, first in (("m2", "relu"), ("modified_m2", "relu_layer"),
                                                               ("m2_iaf", "relu")))])
def test_bench_counts_every_matmul_of_the_traced_steps(name, first):
    """For m2_iaf this also says each flow step's network runs once per step, not once per use."""
    config = TrainConfig(model=name, k=K, z_dim=Z, hidden=HIDDEN, batch_size=BATCH, decoder_first=first)
    model = build_model(config, x_dim=X_DIM)
    optimizer = tf.keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    train_x = tf.zeros([20, X_DIM])
    fast = matmul_gflop(make_train_step(model, optimizer, train_x, config), BATCH)
    assert fast == pytest.approx(bench.step_gflop(config, x_dim=X_DIM), rel=1e-12)
    if name in PORTED_MODELS:
        baseline = matmul_gflop(make_baseline_step(model, optimizer, train_x), BATCH)
        assert baseline == pytest.approx(bench.step_gflop(config, x_dim=X_DIM, baseline=True), rel=1e-12)


@pytest.mark.slow  # times steps and matmuls
def test_bench_prints_json_lines_with_the_measurements(capsys):
    argv = ["--models", "gmvae", "--k", "3", "--batch-size", "4", "--z-dim", "2", "--hidden", "8",
            "--steps", "2", "--repeats", "2", "--matmul-size", "64", "--eval-size", "20", "--synthetic"]
    assert bench.main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["model"], line["k"], line["batch_size"]) for line in lines] == [("gmvae", 3, 4)]
    for key in ("ms_per_step", "baseline_ms_per_step", "speedup", "gflop_per_step", "matmul_gflops",
                "bound_ms_per_step", "ratio_to_bound", "epoch_seconds"):
        assert np.isfinite(lines[0][key]) and lines[0][key] > 0, key
