"""Shapes of every p and q, and the layers' initialisation, with small distinct sizes."""

import numpy as np
import pytest
import tensorflow as tf

from gmvae.config import TrainConfig
from gmvae.loss import every_category
from gmvae.models import ConcatDense, build_model

K, Z, HIDDEN, X_DIM, BATCH = 3, 2, 5, 4, 7


def tiny(model, **changes):
    return build_model(TrainConfig(model=model, k=K, z_dim=Z, hidden=HIDDEN, **changes), x_dim=X_DIM)


def binary_images(n=BATCH, seed=0):
    return tf.constant(np.random.default_rng(seed).integers(0, 2, size=(n, X_DIM)), tf.float32)


@pytest.mark.parametrize("name", ["m2", "modified_m2", "gmvae"])
def test_distribution_shapes_for_every_category_at_once(name):
    model = tiny(name)
    x, y = binary_images(), every_category(K)

    assert (model.p_y().batch_shape, model.p_y().event_shape) == ([], [])
    assert model.p_y().probs_parameter().shape == [K]
    q_y = model.q_y(x)
    assert (q_y.batch_shape, q_y.event_shape) == ([BATCH], [])
    assert q_y.logits.shape == [BATCH, K]
    q_z = model.q_z(x, y)
    assert (q_z.batch_shape, q_z.event_shape) == ([K, BATCH], [Z])
    p_z = model.p_z(y)
    assert (p_z.batch_shape, p_z.event_shape) == ([K, 1], [Z])
    p_x = model.p_x(q_z.sample(seed=(1, 2)), y)
    assert (p_x.batch_shape, p_x.event_shape) == ([K, BATCH], [X_DIM])


@pytest.mark.parametrize("name", ["m2", "modified_m2", "gmvae"])
def test_one_category_per_example(name):
    model = tiny(name)
    x = binary_images()
    y = tf.one_hot(np.arange(BATCH) % K, K)                 # [B, K]
    q_z = model.q_z(x, y)
    assert (q_z.batch_shape, q_z.event_shape) == ([BATCH], [Z])
    assert model.p_x(q_z.sample(seed=(3, 4)), y).batch_shape == [BATCH]


def test_mixture_priors_depend_on_y_only_where_the_model_says():
    y = every_category(K)
    assert np.allclose(tiny("m2").p_z(y).mean(), 0) and np.allclose(tiny("m2").p_z(y).stddev(), 1)
    gmvae_prior = tiny("gmvae").p_z(y)
    assert np.all(gmvae_prior.stddev().numpy() > 0)
    means = gmvae_prior.mean().numpy()[:, 0]
    assert not np.allclose(means[0], means[1])               # one Gaussian per category


@pytest.mark.parametrize("first, kernel_shapes", [
    ("relu", [(Z, HIDDEN), (HIDDEN, X_DIM)]),
    ("identity", [(Z, HIDDEN), (HIDDEN, X_DIM)]),
    ("relu_layer", [(Z, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, X_DIM)]),   # h -> 512 -> 512 -> 784
])
def test_modified_m2_decoder_layers(first, kernel_shapes):
    model = tiny("modified_m2", decoder_first=first)
    assert [tuple(layer.kernels[0].shape) for layer in model.px_layers] == kernel_shapes
    z = tf.constant(np.random.default_rng(0).normal(size=(K, BATCH, Z)), tf.float32)
    assert model.p_x(z, every_category(K)).batch_shape == [K, BATCH]


@pytest.mark.parametrize("first, sees_negative_h", [("relu", False), ("identity", True), ("relu_layer", True)])
def test_only_the_relu_decoder_cuts_off_a_negative_h(first, sees_negative_h):
    """relu_layer's first layer takes h = mu(y) + sqrt(v(y)) z itself, as the original's `layer`, not ReLU(h)."""
    model = tiny("modified_m2", decoder_first=first)
    y = every_category(K)
    low, lower = tf.fill([K, BATCH, Z], -100.0), tf.fill([K, BATCH, Z], -200.0)   # h < 0 in every coordinate
    outputs_differ = not np.allclose(model.p_x(low, y).mean(), model.p_x(lower, y).mean())
    assert outputs_differ == sees_negative_h


def test_concat_dense_equals_a_dense_layer_on_the_concatenation():
    layer = ConcatDense([X_DIM, K], HIDDEN, seed=0)
    layer.bias.assign(np.arange(HIDDEN, dtype=np.float32))
    x = np.random.default_rng(0).normal(size=(BATCH, X_DIM)).astype(np.float32)
    y = np.eye(K, dtype=np.float32)[:, None, :]
    kernel = np.concatenate([k.numpy() for k in layer.kernels])
    expected = np.stack([np.concatenate([x, np.repeat(y[i], BATCH, 0)], axis=1) @ kernel + layer.bias.numpy()
                         for i in range(K)])
    np.testing.assert_allclose(layer(x, y).numpy(), expected, rtol=1e-5, atol=1e-5)


def test_glorot_uniform_weights_over_the_full_fan_in_and_zero_biases():
    model = build_model(TrainConfig(model="gmvae"))
    first = model.qz_layers[0]                                # [x, onehot(y)] -> 512
    kernel = np.concatenate([k.numpy() for k in first.kernels])
    limit = np.sqrt(6 / (784 + 10 + 512))
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.99 * limit
    assert np.var(kernel) == pytest.approx(limit**2 / 3, rel=0.02)
    assert all(np.all(v.numpy() == 0) for v in model.trainable_variables if "bias" in v.name)


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = tiny("gmvae"), tiny("gmvae"), tiny("gmvae", seed=1)
    assert all(np.array_equal(u.numpy(), v.numpy()) for u, v in zip(a.trainable_variables, b.trainable_variables))
    assert not np.array_equal(a.qy_layers[0].kernels[0].numpy(), c.qy_layers[0].kernels[0].numpy())


def test_mixed_bfloat16_keeps_float32_weights_and_distributions():
    model = tiny("gmvae", precision="mixed_bfloat16")
    assert all(v.dtype == tf.float32 for v in model.trainable_variables)
    q_z = model.q_z(binary_images(), every_category(K))
    assert q_z.dtype == tf.float32
