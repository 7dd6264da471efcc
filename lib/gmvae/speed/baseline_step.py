"""A straightforward port of the training step, kept as the yardstick of `python -m gmvae bench`.

It is what a plain TF2 translation of the original code looks like: the K components of y computed
one after another in a Python loop, each from the concatenated input [x, onehot(k)], in float32,
with no other tricks. It reads the same model's variables (a ConcatDense layer's kernel over
[x, onehot] is the concatenation of its part kernels) and computes the same loss as
`gmvae.loss.negative_elbo`; tests/test_baseline_step.py checks that loss and gradients agree.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from gmvae.data import binarize
from gmvae.models import M2, ClusteringVAE, ConcatDense, ModifiedM2
from gmvae.quiet_import import tf, tfp

tfd = tfp.distributions

PORTED_MODELS = ("m2", "modified_m2", "gmvae")  # the original's; m2_iaf's flow has no plain port here


class Dense(NamedTuple):
    """An ordinary dense layer: one kernel over the concatenated input."""

    kernel: tf.Tensor
    bias: tf.Variable
    activation: Callable | None

    @classmethod
    def of(cls, layer: ConcatDense) -> Dense:
        return cls(tf.concat(layer.kernels, axis=0), layer.bias, layer.activation)

    def __call__(self, *inputs):
        out = tf.matmul(tf.concat(inputs, axis=-1), self.kernel) + self.bias
        return self.activation(out) if self.activation else out


def _mlp(layers, *inputs):
    h = layers[0](*inputs)
    for layer in layers[1:]:
        h = layer(h)
    return h


def _gaussian(mean, var):
    return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.sqrt(var))


def standard_normal_noise(model: ClusteringVAE, batch_size, seed) -> tf.Tensor:
    """[K, B, z_dim] standard-normal noise: what q(z|x,y).sample(seed) scales and shifts for the same seed."""
    zeros = tf.zeros([model.k, batch_size, model.z_dim])
    return tfd.MultivariateNormalDiag(loc=zeros).sample(seed=seed)


def _generative(model: ClusteringVAE):
    """The decoder's logits as a function of (z, y), and the prior p(z|y) as a function of y."""
    px_net = [Dense.of(l) for l in model.px_layers]
    if isinstance(model, M2):
        standard = _gaussian(tf.zeros([model.z_dim]), tf.ones([model.z_dim]))
        return (lambda z, y: _mlp(px_net, z, y)), (lambda y: standard)
    if isinstance(model, ModifiedM2):
        standard = _gaussian(tf.zeros([model.z_dim]), tf.ones([model.z_dim]))
        h_mean, h_var = Dense.of(model.h_mean), Dense.of(model.h_var)

        def decoder(z, y):
            h = h_mean(y) + tf.sqrt(h_var(y)) * z
            return _mlp(px_net, tf.nn.relu(h) if model.decoder_first == "relu" else h)
        return decoder, (lambda y: standard)
    pz_mean, pz_var = Dense.of(model.pz_mean), Dense.of(model.pz_var)
    return (lambda z, y: _mlp(px_net, z)), (lambda y: _gaussian(pz_mean(y), pz_var(y)))


def baseline_loss(model: ClusteringVAE, x, eps) -> tf.Tensor:
    """Mean negative ELBO of a batch x [B, x_dim], with z_k = m_k + sqrt(v_k) * eps[k] for component k."""
    qy_net, qz_net = [Dense.of(l) for l in model.qy_layers], [Dense.of(l) for l in model.qz_layers]
    qz_mean, qz_var = Dense.of(model.qz_mean), Dense.of(model.qz_var)
    decoder_logits, p_z = _generative(model)

    q_y = tfd.Categorical(logits=_mlp(qy_net, x))
    weights = q_y.probs_parameter()                                    # [B, K]
    loss = tfd.kl_divergence(q_y, tfd.Categorical(logits=tf.zeros([model.k])))
    for k in range(model.k):
        y = tf.one_hot(tf.fill([tf.shape(x)[0]], k), model.k)          # [B, K], every row category k
        h = _mlp(qz_net, x, y)
        mean, var = qz_mean(h), qz_var(h)
        z = mean + tf.sqrt(var) * eps[k]
        reconstruction = -tfd.Independent(tfd.Bernoulli(logits=decoder_logits(z, y)), 1).log_prob(x)
        kl_z = _gaussian(mean, var).log_prob(z) - p_z(y).log_prob(z)
        loss += weights[:, k] * (reconstruction + kl_z)
    return tf.reduce_mean(loss)


def make_baseline_step(model: ClusteringVAE, optimizer, train_x: tf.Tensor):
    """gmvae.train.make_train_step's step (same data, noise and Adam update; no clipping) through baseline_loss;
    returns the loss alone."""
    variables = model.trainable_variables

    @tf.function
    def baseline_step(indices, seeds):
        x = binarize(tf.gather(train_x, indices), seeds[0])
        eps = standard_normal_noise(model, tf.shape(x)[0], seeds[1])
        with tf.GradientTape() as tape:
            loss = baseline_loss(model, x, eps)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    return baseline_step
