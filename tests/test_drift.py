"""The smallest variances and log q(y|x) that evaluation logs each epoch (the drift towards a NaN), against numpy
computations from the model's own weights."""

import numpy as np
import pytest
import tensorflow as tf

from gmvae.config import TrainConfig
from gmvae.data import binarize
from gmvae.evaluate import Scorer
from gmvae.models import build_model

K, Z, HIDDEN, X_DIM, N = 3, 2, 5, 4, 12


def tiny(model):
    return build_model(TrainConfig(model=model, k=K, z_dim=Z, hidden=HIDDEN), x_dim=X_DIM)


def dense(layer, x):
    """A ConcatDense layer's pre-activation on the concatenated input x."""
    return x @ np.concatenate([k.numpy() for k in layer.kernels]) + layer.bias.numpy()


def relu(a):
    return np.maximum(a, 0)


def softplus(a):
    return np.logaddexp(0.0, a)


def by_hand(model, x):
    """Smallest q(z|x,y) variance over every x and y, the y-only variances, and the smallest log q(y|x), in float64."""
    x = x.astype(np.float64)
    onehots = np.eye(K)
    q_z = []
    for y in onehots:
        h = np.concatenate([x, np.repeat(y[None], len(x), 0)], axis=1)
        for layer in model.qz_layers:
            h = relu(dense(layer, h))
        q_z.append(softplus(dense(model.qz_var, h)).min())
    logits = x
    for layer in model.qy_layers[:-1]:
        logits = relu(dense(layer, logits))
    logits = dense(model.qy_layers[-1], logits)
    log_q_y = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    y_only = {"modified_m2": "h_var", "gmvae": "pz_var"}
    extra = {}
    if model.name in y_only:
        column = {"modified_m2": "decoder_var_min", "gmvae": "prior_var_min"}[model.name]
        extra[column] = softplus(dense(getattr(model, y_only[model.name]), onehots)).min()
    return {"q_z_var_min": min(q_z), **extra, "log_q_y_min": log_q_y.min()}


@pytest.mark.parametrize("name", ["m2", "modified_m2", "gmvae"])
def test_smallest_values_equal_a_computation_from_the_weights(name):
    model = tiny(name)
    images = np.random.default_rng(1).uniform(size=(N, X_DIM)).astype(np.float32)
    scorer = Scorer(model, chunk_size=5)  # three chunks: the minimum runs across them
    score = scorer.score(images, np.arange(N) % 10, seed=3, smallest=True)
    assert not any(k.endswith("_min") for k in scorer.score(images, np.arange(N) % 10, seed=3))
    # the images the scorer saw, binarized with the seeds it drew
    rng = np.random.default_rng(3)
    seen = np.concatenate([binarize(tf.constant(images[s:s + 5]),
                                    rng.integers(0, 2**31 - 1, size=(2, 2), dtype=np.int32)[0]).numpy()
                           for s in range(0, N, 5)])
    expected = by_hand(model, seen)
    assert {k for k in score if k.endswith("_min")} == set(expected)
    for column, value in expected.items():
        assert score[column] == pytest.approx(value, rel=1e-4, abs=0), column


def test_a_variance_float32_rounds_to_zero_is_logged_as_its_float64_value():
    model = tiny("modified_m2")
    model.h_var.bias.assign(tf.fill([Z], -120.0))  # softplus(-120) = 7.7e-53: 0 in float32
    model.h_var.kernels[0].assign(tf.zeros([K, Z]))
    assert tf.reduce_min(model.h_var(tf.eye(K))).numpy() == 0.0
    score = Scorer(model).score(np.full((N, X_DIM), 0.5, np.float32), np.zeros(N, int), seed=0, smallest=True)
    assert score["decoder_var_min"] == pytest.approx(np.exp(-120.0), rel=1e-6, abs=0)


def test_tensorflow_on_the_cpu_flushes_subnormal_results_to_zero():
    """What the drift figure's float32 limit rests on: below the smallest normal float32 (1.2e-38), not the smallest
    subnormal (1.4e-45), a softplus variance or a softmax probability is 0."""
    assert tf.nn.softplus(tf.constant(-86.0)).numpy() > 0
    assert tf.nn.softplus(tf.constant(-100.0)).numpy() == 0.0  # exp(-100) = 3.7e-44, a subnormal
    assert tf.nn.softmax(tf.constant([0.0, -100.0])).numpy()[1] == 0.0
