"""The negative ELBO of every model, with the discrete latent y summed out exactly.

    L(x) = sum_y q(y|x) [ -log p(x|z_y, y) + log q(z_y|x,y) - log p(z_y|y) ] + KL(q(y|x) || p(y))
           \\______________ reconstruction ____________/   \\______ KL over z ______/   \\_ KL over y _/

with z_y one reparameterised sample of q(z|x,y) for each of the K values of y.
The KL over z is the single-sample estimate the original used; the KL over y is exact. log q(z_y|x,y)
comes with the sample (`experimental_sample_and_log_prob`): for a flow posterior it is computed along
the sample's own path in one pass, where `log_prob(z_y)` might invert the flow one coordinate at a
time; for the Gaussians the numbers are the same as sample then log_prob.
"""

from __future__ import annotations

from typing import NamedTuple

from gmvae.quiet_import import tf, tfp

tfd = tfp.distributions


class ELBOTerms(NamedTuple):
    """Per-example tensors of shape [B] (logits: [B, K]); loss = reconstruction + kl_z + kl_y."""

    loss: tf.Tensor
    reconstruction: tf.Tensor
    kl_z: tf.Tensor
    kl_y: tf.Tensor
    entropy: tf.Tensor  # H(q(y|x)) in nats
    logits: tf.Tensor   # of q(y|x)


def every_category(k: int) -> tf.Tensor:
    """All K one-hot values of y, shaped [K, 1, K] to broadcast against a batch of x."""
    return tf.eye(k)[:, tf.newaxis, :]


def negative_elbo(model, x, seed) -> ELBOTerms:
    """The loss above for a batch x [B, 784] of binary images; `seed` is a stateless [2] seed."""
    q_y = model.q_y(x)                                   # batch [B]
    y = every_category(model.k)
    q_z = model.q_z(x, y)                                # batch [K, B]
    z, log_q_z = q_z.experimental_sample_and_log_prob(seed=seed)  # [K, B, z_dim], [K, B]
    reconstruction = -model.p_x(z, y).log_prob(x)        # [K, B]
    kl_z = log_q_z - model.p_z(y).log_prob(z)            # [K, B]
    weights = tf.transpose(q_y.probs_parameter())        # q(y|x) as [K, B]
    reconstruction = tf.reduce_sum(weights * reconstruction, axis=0)
    kl_z = tf.reduce_sum(weights * kl_z, axis=0)
    kl_y = tfd.kl_divergence(q_y, model.p_y())
    return ELBOTerms(
        loss=reconstruction + kl_z + kl_y,
        reconstruction=reconstruction,
        kl_z=kl_z,
        kl_y=kl_y,
        entropy=q_y.entropy(),
        logits=q_y.logits,
    )
