"""The post's three models as graphical models: for each, the generative model p beside the inference model q.

Drawn with daft (package daft-pgm), each model in its colour (plots.MODEL_COLORS). M2 and modified M2 share p's
dependencies, y and z into x, but modified M2 passes them through the deterministic first decoder layer
h = mu(y) + sigma(y) * z (the square node); the GMVAE draws z from a Gaussian per cluster, y -> z -> x. All three
infer with the same q(y|x) q(z|x, y). The observed x is the filled node, h the square one. Every node, arrow and title
carries its model's run name as gid, so that a test can tell which model each artist belongs to.

No TensorFlow: `python -m gmvae figures` draws it with the other figures.
"""

from __future__ import annotations

from gmvae.reporting import plots  # chooses the backend before daft imports pyplot

import daft  # noqa: E402
import numpy as np  # noqa: E402

FILE_NAME = "graphical_models.png"
MODELS = ("m2", "modified_m2", "gmvae")
# (variable, column, row) in model units: x at the bottom, a side two columns wide (0 to 1).
GENERATIVE = {
    "m2": (("y", 0, 2), ("z", 1, 2), ("x", 0.5, 0)),
    "modified_m2": (("y", 0, 2), ("z", 1, 2), ("h", 0.5, 1), ("x", 0.5, 0)),
    "gmvae": (("y", 0.5, 2), ("z", 0.5, 1), ("x", 0.5, 0)),
}
GENERATIVE_EDGES = {
    "m2": (("y", "x"), ("z", "x")),
    "modified_m2": (("y", "h"), ("z", "h"), ("h", "x")),
    "gmvae": (("y", "z"), ("z", "x")),
}
INFERENCE = (("y", 0, 2), ("z", 1, 2), ("x", 0.5, 0))
INFERENCE_EDGES = (("x", "y"), ("x", "z"), ("y", "z"))
FACTORS = {
    "m2": r"$p(y)\,p(z)\,p(x \mid y, z)$",
    "modified_m2": r"$p(y)\,p(z)\,p(x \mid h)$" "\n" r"$h = \mu(y) + \sigma(y) \odot z$",
    "gmvae": r"$p(y)\,p(z \mid y)\,p(x \mid z)$",
}
INFERENCE_FACTORS = r"$q(y \mid x)\,q(z \mid x, y)$"
KEY = "filled: observed; open: latent; square: deterministic; an arrow points from what a variable depends on"
SIDE_GAP = 2.5      # from p's left column to q's
MODEL_GAP = 5.8     # from one model's p to the next model's
ORIGIN = (-0.9, -1.7)  # the figure's lower left corner and size, in model units: room for the titles and factors
SHAPE = (2 * MODEL_GAP + SIDE_GAP + 1 + 1.8, 4.6)
FILL_LIGHTEN = 0.6  # the observed x: the model's colour this much closer to white
LINE_WIDTH = 1.6


def _side(pgm, run_name: str, side: str, x0: float, nodes, edges) -> None:
    col = plots.color(run_name)
    for name, column, row in nodes:
        style = dict(ec=col, gid=run_name)
        if name == "x":
            style["fc"] = plots.lighter(col, FILL_LIGHTEN)
        pgm.add_node(f"{run_name}:{side}:{name}", f"${name}$", x0 + column, row, observed=name == "x",
                     shape="rectangle" if name == "h" else "ellipse", scale=0.8 if name == "h" else 1.0,
                     plot_params=style)
    for start, end in edges:
        pgm.add_edge(f"{run_name}:{side}:{start}", f"{run_name}:{side}:{end}",
                     plot_params=dict(ec=col, fc=col, head_width=0.12, head_length=0.2, gid=run_name))


def draw_graphical_models():
    """One figure: for each of MODELS, its generative model p beside its inference model q in the model's colour,
    titled with the model's name, each side named and its factorisation below it."""
    pgm = daft.PGM(shape=SHAPE, origin=ORIGIN, grid_unit=1.6, node_unit=0.75, observed_style="outer",
                   line_width=LINE_WIDTH, dpi=plots.SAVE_DPI)
    for i, run_name in enumerate(MODELS):
        _side(pgm, run_name, "p", i * MODEL_GAP, GENERATIVE[run_name], GENERATIVE_EDGES[run_name])
        _side(pgm, run_name, "q", i * MODEL_GAP + SIDE_GAP, INFERENCE, INFERENCE_EDGES)
    with np.errstate(divide="ignore"):  # daft divides by an arrow's zero width where it leaves the square node
        pgm.render()
    ax = pgm.ax

    def text(x, y, s, **kw):  # in model units: the axes span ORIGIN to ORIGIN + SHAPE
        ax.text((x - ORIGIN[0]) / SHAPE[0], (y - ORIGIN[1]) / SHAPE[1], s, transform=ax.transAxes, ha="center", **kw)

    for i, run_name in enumerate(MODELS):
        x0 = i * MODEL_GAP
        text(x0 + (SIDE_GAP + 1) / 2, 2.75, plots.label(run_name), va="bottom", fontsize=15, fontweight="bold",
             color=plots.color(run_name), gid=run_name)
        for at, name, factors in ((x0, "generative p", FACTORS[run_name]),
                                  (x0 + SIDE_GAP, "inference q", INFERENCE_FACTORS)):
            text(at + 0.5, 2.45, name, va="bottom", fontsize=11, color="0.25")
            text(at + 0.5, -0.55, factors, va="top", fontsize=11)
    text(ORIGIN[0] + SHAPE[0] / 2, ORIGIN[1] + 0.05, KEY, va="bottom", fontsize=10, color="0.25")
    return pgm.figure
