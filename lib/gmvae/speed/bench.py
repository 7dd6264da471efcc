"""`python -m gmvae bench`: how fast the training step is, against a plain port and against the machine.

For each model, in one process, with the same weights and inputs, it measures:

* ms_per_step: the project's step (gmvae.train.make_train_step), run as the training loop runs it (an
  epoch's steps in one compiled loop, gmvae.train.make_train_epoch);
* baseline_ms_per_step: the straightforward port in gmvae.speed.baseline_step (K components in a Python loop,
  always float32), for the original's three models (null for m2_iaf, whose flow it never had);
* matmul_gflops: the machine's dense matmul rate (one large square matmul) in the step's compute dtype;
* epoch_seconds: 500 steps plus the per-epoch evaluation (10,000 train + 10,000 test images).

The three are timed in turn within each repeat (load on a shared machine hits them alike) and the
median over repeats is reported; warm-up calls are not timed. gflop_per_step counts the step's matrix
multiplies analytically (tests/test_baseline_step.py checks the count against the traced graph), so
bound_ms_per_step = gflop_per_step / matmul_gflops is what the step would take if it were nothing but
matmuls at the large-matmul rate, and ratio_to_bound says how far the step is from that.

Expected (GMVAE, K = 10, batch 100, 2 idle cores): on an AMD EPYC with AVX-512 and BF16 (Zen 5), about 25 ms
per float32 step against 37-39 ms for the baseline (1.5-1.6x), a bound of 14 ms at about 470 GFLOP/s (ratio 1.7), an
epoch about 14 s; mixed_bfloat16 about 17.5 ms (bound 7.4 ms at about 890 GFLOP/s), an epoch about 10 s. On
an AVX2 processor without AVX-512, about 83 ms per float32 step against 150 ms for the baseline, a ratio to
the bound of 1.1-1.3, an epoch about 47 s; there mixed_bfloat16 is slower than float32 (about 100 ms), as
bfloat16 is not native. Timings vary by some 10 % from run to run, and much more when other processes share
the cores (load_average_1min tells). --breakdown adds the step's parts timed alone (matmuls at the step's
shapes, the Bernoulli likelihood, the rest; docs/performance.md has a table).
One JSON line per model, (K, batch size) and precision, naming the processor.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from gmvae import machine
from gmvae.config import MODELS, PRECISIONS, TrainConfig
from gmvae.data import MNIST, binarize, load_mnist
from gmvae.evaluate import Scorer
from gmvae.models import FLOW_HIDDEN, FLOW_STEPS, IMAGE_PIXELS, build_model
from gmvae.quiet_import import tf
from gmvae.speed.baseline_step import PORTED_MODELS, make_baseline_step
from gmvae.train import (_evaluate, batch_indices, make_optimizer, make_train_epoch, make_train_step, step_seeds,
                         training_objective)


def build_parser() -> argparse.ArgumentParser:
    from gmvae.cli import DefaultsHelpFormatter

    parser = argparse.ArgumentParser(prog="python -m gmvae bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=DefaultsHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="the models timed")
    parser.add_argument("--k", nargs="+", type=int, default=[10], help="categories of y; several give a scaling table")
    parser.add_argument("--batch-size", nargs="+", type=int, default=[100],
                        help="examples per step; several give a scaling table")
    parser.add_argument("--z-dim", type=int, default=64, help="dimensions of z")
    parser.add_argument("--hidden", type=int, default=512, help="width of every hidden layer")
    parser.add_argument("--precision", nargs="+", choices=PRECISIONS, default=["auto"],
                        help="one line per precision; auto: the one training picks on this machine")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=5, help="the median over repeats is reported")
    parser.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n x n matmul giving the machine's rate")
    parser.add_argument("--eval-size", type=int, default=10_000, help="train and test images scored per epoch")
    parser.add_argument("--synthetic", action="store_true", help="random images instead of MNIST (for tests)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the step's parts alone: forward, gradients, matmuls, Bernoulli likelihood")
    return parser


def parse_args(argv) -> argparse.Namespace:
    parser = build_parser()
    return parser.parse_args(argv)


# ---- FLOPs of one step, counted from the layer shapes ----

def _matmuls(config: TrainConfig, x_dim: int, baseline: bool = False) -> list[tuple[int, int, int, bool]]:
    """(rows, fan_in, units, needs_input_gradient) of every matmul in the project's (or the baseline) step.

    Inputs that are data (x, or the constant one-hot y) need no gradient. The project's step runs the
    K components as one batch of K*B rows, but the x part of q(z|x,y)'s first layer once (B rows) and
    layers of y alone once per category (K rows); the baseline runs every component on B rows with
    the concatenated input, so in total K*B rows everywhere but q(y|x).
    """
    k, b, z, h = config.k, config.batch_size, config.z_dim, config.hidden
    kb = k * b
    y_rows = kb if baseline else k
    qz_first = [(kb, x_dim + k, h, False)] if baseline else [(b, x_dim, h, False), (k, k, h, False)]
    inference = [(b, x_dim, h, False), (b, h, h, True), (b, h, k, True),          # q(y|x)
                 *qz_first, (kb, h, h, True), (kb, h, z, True), (kb, h, z, True)]  # q(z|x,y)
    if config.model in ("m2", "m2_iaf"):
        decoder_first = [(kb, z + k, h, True)] if baseline else [(kb, z, h, True), (k, k, h, False)]
        return inference + _flow_matmuls(config) + decoder_first + [(kb, h, h, True), (kb, h, x_dim, True)]
    mixture = [(y_rows, k, z, False), (y_rows, k, z, False)]                       # mean and variance from y
    if config.model == "modified_m2":
        extra = [(kb, h, h, True)] if config.decoder_first == "relu_layer" else []
        return inference + mixture + [(kb, z, h, True), *extra, (kb, h, x_dim, True)]
    return inference + mixture + [(kb, z, h, True), (kb, h, h, True), (kb, h, x_dim, True)]


def _flow_matmuls(config: TrainConfig) -> list[tuple[int, int, int, bool]]:
    """m2_iaf's flow steps: each a MADE network run once on K*B rows, its masked layers (z -> hidden ->
    2z) each plus a dense layer of the conditional input h(x,y)."""
    if config.model != "m2_iaf":
        return []
    kb, z, h = config.k * config.batch_size, config.z_dim, config.hidden
    made = [(kb, z, FLOW_HIDDEN, True), (kb, h, FLOW_HIDDEN, True), (kb, FLOW_HIDDEN, 2 * z, True), (kb, h, 2 * z, True)]
    return made * FLOW_STEPS


def step_gflop(config: TrainConfig, x_dim: int = IMAGE_PIXELS, baseline: bool = False) -> float:
    """Forward 2mnk per matmul; backward 2mnk for the weight gradient, and as much again for the input's."""
    flop = sum(2 * m * n * u * (3 if grad else 2) for m, n, u, grad in _matmuls(config, x_dim, baseline))
    return flop / 1e9


# ---- timing ----

def _matmul_timer(size: int, dtype):
    a = tf.random.stateless_uniform([size, size], seed=[0, 0])  # stateless: allowed under op determinism
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
    matmul = tf.function(tf.matmul)

    def seconds(n=3):
        started = time.perf_counter()
        for _ in range(n):
            out = matmul(a, b)
        float(out[0, 0])
        return (time.perf_counter() - started) / n

    return seconds


def _step_timer(step, indices: np.ndarray, seeds: np.ndarray):
    """Seconds per step of a step function called once per batch, reading every loss (the baseline)."""
    def seconds():
        started = time.perf_counter()
        for batch, seed in zip(indices, seeds):
            float(step(batch, seed))
        return (time.perf_counter() - started) / len(indices)

    return seconds


def _epoch_timer(train_epoch, indices: np.ndarray, seeds: np.ndarray):
    """Seconds per step of the training loop's compiled epoch over all the batches."""
    def seconds():
        started = time.perf_counter()
        train_epoch(indices, seeds)[0].numpy()
        return (time.perf_counter() - started) / len(indices)

    return seconds


def _function_timer(function, steps: int):
    def seconds():
        started = time.perf_counter()
        for _ in range(steps):
            float(function())
        return (time.perf_counter() - started) / steps

    return seconds


def _breakdown_timers(model, config: TrainConfig, train_x, indices, seeds) -> dict:
    """Timers of the step's parts, each alone: the forward pass (batch and objective), the forward and
    backward pass (no update), every matmul of step_gflop at its shape (forward and backward, random
    inputs), and the Bernoulli log-likelihood over [K, B, 784] with its gradient."""
    variables = model.trainable_variables
    batch, seed = indices[0], seeds[0]

    @tf.function
    def forward():
        x = binarize(tf.gather(train_x, batch), seed[0])
        return training_objective(model, x, seed[1], config.kl_y_weight)

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            objective = forward()
        return objective + tf.add_n([tf.reduce_sum(g) for g in tape.gradient(objective, variables)])

    dtype = model.compute_dtype
    operands = [(tf.cast(tf.random.stateless_uniform([m, n], [i, 0]), dtype),
                 tf.cast(tf.random.stateless_uniform([n, u], [i, 1]), dtype),
                 tf.cast(tf.random.stateless_uniform([m, u], [i, 2]), dtype), grad)
                for i, (m, n, u, grad) in enumerate(_matmuls(config, int(train_x.shape[1])))]

    @tf.function
    def matmuls():
        total = tf.constant(0.0, dtype)
        for a, w, upstream, needs_input_gradient in operands:
            total += tf.matmul(a, w)[0, 0] + tf.matmul(a, upstream, transpose_a=True)[0, 0]   # forward, dW
            if needs_input_gradient:
                total += tf.matmul(upstream, w, transpose_b=True)[0, 0]                      # dA
        return total

    x = tf.cast(tf.gather(train_x, batch) > 0.5, tf.float32)
    logits = tf.random.stateless_normal([config.k, config.batch_size, int(train_x.shape[1])], [7, 7])

    @tf.function
    def bernoulli():
        with tf.GradientTape() as tape:
            tape.watch(logits)
            log_likelihood = tf.reduce_sum(model._bernoulli(logits).log_prob(x))
        return log_likelihood + tf.reduce_sum(tape.gradient(log_likelihood, logits)[0, 0])

    steps = len(indices)
    return {name: _function_timer(f, steps) for name, f in
            {"forward": forward, "forward_backward": forward_backward, "matmuls": matmuls, "bernoulli": bernoulli}.items()}


def _median_in_turn(timers: dict, repeats: int) -> dict:
    """Median seconds of each timer, the timers taking turns within every repeat."""
    for timer in timers.values():
        timer()  # warm-up: tracing, compilation, first allocations
    times = {name: [] for name in timers}
    for _ in range(repeats):
        for name, timer in timers.items():
            times[name].append(timer())
    return {name: float(np.median(t)) for name, t in times.items()}


def _synthetic_mnist(size: int) -> MNIST:
    rng = np.random.default_rng(0)
    return MNIST(train_x=rng.random((max(size, 1000), IMAGE_PIXELS), dtype=np.float32),
                 train_y=rng.integers(0, 10, max(size, 1000)),
                 test_x=rng.random((size, IMAGE_PIXELS), dtype=np.float32), test_y=rng.integers(0, 10, size))


def bench_one(config: TrainConfig, data: MNIST, args) -> dict:
    """One JSON line: timings of the project's and the baseline step, bound and epoch time."""
    model = build_model(config)
    train_x = tf.constant(data.train_x)
    optimizers = [make_optimizer(config) for _ in range(2)]
    for optimizer in optimizers:
        optimizer.build(model.trainable_variables)
    timed = config.replace(iters_per_epoch=args.steps)
    indices, seeds = batch_indices(timed, 1, len(data.train_x)), step_seeds(timed, 1)
    compute_dtype = model.compute_dtype
    ported = config.model in PORTED_MODELS
    train_epoch = make_train_epoch(make_train_step(model, optimizers[0], train_x, config))
    timers = {"step": _epoch_timer(train_epoch, indices, seeds)}
    if ported:
        timers["baseline"] = _step_timer(make_baseline_step(model, optimizers[1], train_x), indices, seeds)
    timers["matmul"] = _matmul_timer(args.matmul_size, compute_dtype)
    if args.breakdown:
        timers.update(_breakdown_timers(model, config, train_x, indices, seeds))
    seconds = _median_in_turn(timers, args.repeats)

    scorer = Scorer(model)
    for smallest in (False, True):  # warm-up: tracing both forward passes evaluation uses
        scorer.score(data.test_x[:2], data.test_y[:2], 0, smallest=smallest)
    started = time.perf_counter()
    _evaluate(scorer, data, config, epoch=1)
    evaluation_seconds = time.perf_counter() - started

    gflop = step_gflop(config)
    matmul_gflops = 2 * args.matmul_size**3 / seconds["matmul"] / 1e9
    bound = gflop / matmul_gflops
    line = {"model": config.model, "k": config.k, "batch_size": config.batch_size, "precision": config.precision,
            "matmul_dtype": compute_dtype.name}
    line.update({name: None if value is None else float(f"{value:.4g}") for name, value in {  # 4 significant digits
        "ms_per_step": 1e3 * seconds["step"],
        "baseline_ms_per_step": 1e3 * seconds["baseline"] if ported else None,
        "speedup": seconds["baseline"] / seconds["step"] if ported else None,
        "gflop_per_step": gflop,
        "baseline_gflop_per_step": step_gflop(config, baseline=True) if ported else None,
        "matmul_gflops": matmul_gflops,
        "bound_ms_per_step": 1e3 * bound,
        "ratio_to_bound": seconds["step"] / bound,
        "evaluation_seconds": evaluation_seconds,
        "epoch_seconds": config.iters_per_epoch * seconds["step"] + evaluation_seconds,
        "load_average_1min": os.getloadavg()[0],
    }.items()})
    if args.breakdown:  # ms of each part alone, and what they leave of the step
        parts = {name: 1e3 * seconds[name] for name in ("forward", "forward_backward", "matmuls", "bernoulli")}
        parts["backward"] = parts["forward_backward"] - parts["forward"]
        parts["update_and_rest"] = 1e3 * seconds["step"] - parts["forward_backward"]
        parts["other_forward_backward"] = parts["forward_backward"] - parts["matmuls"] - parts["bernoulli"]
        line["breakdown_ms"] = {name: float(f"{value:.3g}") for name, value in parts.items()}
    line["processor"] = machine.cpu_name_and_flags()[0]
    return line


def main(argv=None) -> int:
    """argv: the options (default: what follows `python -m gmvae bench` on the command line)."""
    args = parse_args(sys.argv[2:] if argv is None else argv)
    precisions = [machine.auto_precision(tf)[0] if p == "auto" else p for p in args.precision]
    configs = [TrainConfig(model=model, k=k, batch_size=batch_size, z_dim=args.z_dim, hidden=args.hidden,
                           precision=precision, train_eval_size=args.eval_size, test_eval_size=args.eval_size)
               for model in args.models for k in args.k for batch_size in args.batch_size
               for precision in dict.fromkeys(precisions)]  # checked before any work
    tf.config.experimental.enable_op_determinism()  # as gmvae.train.train runs
    data = _synthetic_mnist(args.eval_size) if args.synthetic else load_mnist()
    for config in configs:
        print(json.dumps(bench_one(config, data, args)), flush=True)
    return 0
