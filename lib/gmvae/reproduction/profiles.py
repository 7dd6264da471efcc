"""Run profiles: which models, seeds and schedule a reproduction trains. Used by notebooks and CLI alike.

* ``smoke``: seconds per model; a few iterations with evaluation on small subsets. For tests and CI.
* ``cpu``:   every claim of the post at a shorter horizon (50 epochs), then two M2 variants the post leaves
             open (a flow posterior, eta = 0). Its runs are the first 50 epochs of the post profile's.
* ``post``:  the post's figures at its own horizon (epoch 200; modified M2 to 300, past its NaN) with the
             original's replicate counts, and clipped modified M2: the post's open statements decided.
* ``nan``:   the modified M2's NaN: ours in float32 and the original's graph (gmvae.reference.original_graph), each
             to epoch 300; gmvae.nan_check names where a run's NaN is born.
* ``blog``:  the post's 1000-epoch schedule and replicate counts. A cluster or GPU job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gmvae.config import TrainConfig

# Clipping for modified M2 (the post: "I imagine clipping the gradients would prevent this [NaN]"): at
# CLIP_FACTOR times the typical global gradient norm of an unclipped run, so that only the spikes are cut.
# Typical: the median over the first CLIP_RULE_EPOCHS epochs of each epoch's median norm (log column
# grad_norm_median) of the post profile's unclipped modified M2, seed 0: 47.6, whose epochs' largest norms were
# 49-137. CLIP_NORM is that rule applied to results/clip_norm/runs/modified_m2/seed0/log.csv (those 20 epochs,
# trained on their own), to 2 significant digits; tests/test_profiles.py checks it.
CLIP_FACTOR = 10
CLIP_RULE_EPOCHS = 20
CLIP_NORM: float | None = 480.0


def clipping_threshold(gradient_norm_medians) -> float:
    """CLIP_FACTOR x the median of the first CLIP_RULE_EPOCHS epochs' median gradient norms, to 2 significant
    digits."""
    norms = np.asarray(gradient_norm_medians, float)[:CLIP_RULE_EPOCHS]
    if len(norms) < CLIP_RULE_EPOCHS or not np.isfinite(norms).all():
        raise ValueError(f"the clipping rule needs {CLIP_RULE_EPOCHS} epochs of finite gradient norms, not {len(norms)}")
    return float(f"{CLIP_FACTOR * np.median(norms):.2g}")


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    expected_time: str                         # how long the profile trains, as measured (README.md)
    seeds: dict[str, tuple[int, ...]]          # run_name -> seeds trained for it
    base: TrainConfig                          # schedule shared by every run of the profile
    variants: dict[str, dict] = field(default_factory=dict)  # run_name -> config overrides
    epochs: dict[str, int] = field(default_factory=dict)     # run_name -> its epochs, where not base.epochs
    notebooks: tuple[str, ...] | None = None                 # the notebooks that draw its runs; None: every one

    def settings(self, run_name: str) -> dict:
        """The TrainConfig fields that make ``run_name`` the variant it names (m2_eta0: model m2, kl_y_weight 0)."""
        return dict(self.variants.get(run_name, {"model": run_name}))

    def configs(self, run_name: str, seeds=None, epochs=None) -> list[TrainConfig]:
        """The configurations of one model variant, optionally with other seeds or epochs."""
        if run_name not in self.seeds:
            raise ValueError(f"profile {self.name!r} has no runs of {run_name!r}; it has {', '.join(self.seeds)}")
        overrides = self.settings(run_name)
        overrides["epochs"] = epochs if epochs is not None else self.epochs.get(run_name, self.base.epochs)
        return [self.base.replace(seed=seed, **overrides) for seed in (seeds if seeds is not None else self.seeds[run_name])]


_VARIANTS = {
    "m2": {"model": "m2"},
    "modified_m2": {"model": "modified_m2"},
    "modified_m2_identity": {"model": "modified_m2", "decoder_first": "identity"},
    "modified_m2_relu_layer": {"model": "modified_m2", "decoder_first": "relu_layer"},
    "gmvae": {"model": "gmvae"},
    "m2_iaf": {"model": "m2_iaf"},                     # does M2 still ignore y with a flow posterior?
    "m2_eta0": {"model": "m2", "kl_y_weight": 0.0},    # ... and with nothing pulling q(y|x) to uniform?
    "modified_m2_clip": {"model": "modified_m2", "clip_norm": CLIP_NORM},  # would clipping prevent the NaN?
    "modified_m2_float32": {"model": "modified_m2", "precision": "float32"},  # the original's precision: its NaN?
    # ... and the original's numerics, op for op (gmvae.reference.original_graph)
    "modified_m2_original_graph": {"model": "modified_m2", "precision": "float32", "implementation": "original_graph"},
}
_POST_CLIPPED = {"modified_m2_clip": (0, 1, 2)} if CLIP_NORM is not None else {}

PROFILES = {
    "smoke": Profile(
        name="smoke",
        description="seconds per model: 2 epochs of 10 iterations, evaluated on 500 images",
        expected_time="about 3 minutes for every notebook, mostly TensorFlow's start-up",
        seeds={"m2": (0,), "modified_m2": (0,), "gmvae": (0,), "m2_iaf": (0,), "m2_eta0": (0,)},
        base=TrainConfig(epochs=2, iters_per_epoch=10, train_eval_size=500, test_eval_size=500),
        variants=_VARIANTS,
    ),
    "cpu": Profile(
        name="cpu",
        description="the post's claims at 50 epochs: M2 x1, modified M2 x1, GMVAE x2, then M2 with a flow posterior "
                    "x1 and M2 with eta = 0 x1",
        expected_time="about 1.3 hours on 2 cores of an AMD EPYC with avx512_bf16, two runs at a time, from empty "
                      "run folders",
        seeds={"m2": (0,), "modified_m2": (0,), "gmvae": (0, 1), "m2_iaf": (0,), "m2_eta0": (0,)},
        base=TrainConfig(epochs=50),
        variants=_VARIANTS,
    ),
    "post": Profile(
        name="post",
        description="the post's figures at its own horizon with the original's replicate counts: GMVAE x6 to epoch "
                    "200, modified M2 x3 to epoch 300 (past the original's NaN epochs) and x3 with clipped "
                    "gradients, M2 x4 to epoch 200; the open question's M2 variants x1 to epoch 50, as the cpu profile",
        expected_time="about 14 hours on 2 cores of an AMD EPYC with avx512_bf16, two runs at a time (3,900 "
                      "epochs at 22 to 46 s an epoch on one core: results/training_time.md); a cluster spreads it",
        seeds={"gmvae": (0, 1, 2, 3, 4, 5), "modified_m2": (0, 1, 2), **_POST_CLIPPED, "m2": (0, 1, 2, 3),
               "m2_iaf": (0,), "m2_eta0": (0,)},
        base=TrainConfig(epochs=200),
        variants=_VARIANTS,
        # the open question's variants at the cpu profile's 50 epochs: chapter 5 compares them with M2 there
        epochs={"modified_m2": 300, "modified_m2_clip": 300, "m2_iaf": 50, "m2_eta0": 50},
    ),
    "nan": Profile(
        name="nan",
        description="why the original's modified M2 turns NaN: ours in float32, the original's precision, x3, and the "
                    "original's graph written again in tf.compat.v1 (float32) x3, each to epoch 300",
        expected_time="about 6 hours on 2 cores of an AMD EPYC with avx512_bf16, two runs at a time (in float32 a "
                      "run of ours takes 1.6 hours on one core, the original's graph 2.0 to 2.2); without AVX-512, "
                      "2.3 to 3.3 hours a run on both cores (docs/nan.md); a run must not outlive its machine's "
                      "checkpoints",
        seeds={"modified_m2_float32": (0, 1, 2), "modified_m2_original_graph": (0, 1, 2)},
        base=TrainConfig(epochs=300),
        variants=_VARIANTS,
        notebooks=(),  # `make figures` draws them (results/figures/nan_drift.png); docs/nan.md
    ),
    "blog": Profile(
        name="blog",
        description="the post's schedule: 1000 epochs; M2 x4, modified M2 x3 (+1 each decoder variant), GMVAE x6; "
                    "M2 with a flow posterior x1, M2 with eta = 0 x1",
        expected_time="about 3 days on 2 cores (17,000 epochs); a cluster or GPU job",
        seeds={
            "m2": (0, 1, 2, 3),
            "modified_m2": (0, 1, 2),
            "modified_m2_identity": (0,),
            "modified_m2_relu_layer": (0,),
            "gmvae": (0, 1, 2, 3, 4, 5),
            "m2_iaf": (0,),
            "m2_eta0": (0,),
        },
        base=TrainConfig(epochs=1000),
        variants=_VARIANTS,
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
