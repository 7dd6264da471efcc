"""gmvae: Rui Shu's 2016 "Gaussian Mixture VAE" post, reproduced with TensorFlow Probability.

Three VAEs with a discrete latent y (K = 10) and a continuous z (64 dimensions) are trained on
dynamically binarized MNIST without labels, and we ask whether y learns the digit classes:

* M2 (Kingma et al. 2014), p(y) p(z) p(x|y,z): q(y|x) becomes uniform and clustering fails, though
  its variational loss is the lowest;
* modified M2, whose first decoder layer is a Gaussian mixture mu(y) + sigma(y) * z: clusters, at a
  higher loss, and turns NaN after a few hundred epochs in the post;
* the real GMVAE, p(y) p(z|y) p(x|z): clusters best (up to 95 % accuracy after 1000 epochs).

Modules, in the direction the imports run:

    cli, notebook_runner (papermill) -> pipeline (profiles, parameters) -> train -> loss -> models -> TFP
             figures, tables, claims, fidelity -> plots, original     \\-> evaluate, data, metrics, runs
    (figures, tables and the rest of the second line never import TensorFlow: `figures` redraws from logs)

Start with `python -m gmvae train --model gmvae --epochs 10 --out results/runs/gmvae/seed0`, or the
notebooks in notebooks/. Cost and measured results: README.md and results/README.md.
"""
