"""gmvae: Rui Shu's 2016 "Gaussian Mixture VAE" post, reproduced with TensorFlow Probability.

Three VAEs with a discrete latent y (K = 10) and a continuous z (64 dimensions) are trained on
dynamically binarized MNIST without labels, and we ask whether y learns the digit classes:

* M2 (Kingma et al. 2014), p(y) p(z) p(x|y,z): q(y|x) becomes uniform and clustering fails, though
  its variational loss is the lowest;
* modified M2, whose first decoder layer is a Gaussian mixture mu(y) + sigma(y) * z: clusters, at a
  higher loss, and turns NaN after a few hundred epochs in the post;
* the real GMVAE, p(y) p(z|y) p(x|z): clusters best (up to 95 % accuracy after 1000 epochs).

The package, by concern; the science at the top imports nothing from the three subpackages:

    config, data, models, loss, train, evaluate, metrics   the science: one run, trained and scored
    runs, machine, quiet_import   what train needs: run folders, hardware and precision, quiet TensorFlow
    reporting/      figures, tables and the post's claims from logs, beside the original's (no TensorFlow)
    reproduction/   profiles, the notebooks' parameters and pipeline, `reproduce`
    speed/          `bench`: the training step against a straightforward port
    cli             python -m gmvae {train, reproduce, figures, bench}

Within the science: train -> loss -> models -> TFP, and train -> evaluate (-> metrics), data, runs, machine.

Start with `python -m gmvae train --model gmvae --epochs 10 --out results/runs/gmvae/seed0`, or the
notebooks in notebooks/. Measured results and their cost: docs/findings.md (each run: results/README.md); a
model of your own: docs/your_own_model.md.
"""


def _version() -> str:
    """The installed distribution's version; in a checkout on sys.path that is not installed, the version in the
    pyproject.toml beside lib/; else "0+unknown"."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gmvae")
    except PackageNotFoundError:
        pass
    import tomllib
    from pathlib import Path

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text())["project"]
    except (OSError, ValueError, KeyError):
        return "0+unknown"
    return str(project["version"]) if project.get("name") == "gmvae" and "version" in project else "0+unknown"


__version__ = _version()
