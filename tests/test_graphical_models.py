"""The figure of the three graphical models: drawn by `make figures`, each model in its own colour."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402
from matplotlib.patches import Ellipse, FancyArrow, Rectangle  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from gmvae.reporting import graphical_models, plots  # noqa: E402

# The post's colours by the channel that dominates: M2 blue, modified M2 green, GMVAE red.
DOMINANT_CHANNEL = {"m2": 2, "modified_m2": 1, "gmvae": 0}


@pytest.fixture(scope="module")
def artists():
    """{run name: the figure's artists that carry it as gid}."""
    fig = graphical_models.draw_graphical_models()
    found = {}
    for artist in fig.findobj():
        if artist.get_gid():
            found.setdefault(artist.get_gid(), []).append(artist)
    plt.close(fig)
    return found


def test_the_figure_draws_the_three_models_and_nothing_else_in_a_colour(artists):
    assert set(artists) == set(graphical_models.MODELS) == {"m2", "modified_m2", "gmvae"}


@pytest.mark.parametrize("run_name", graphical_models.MODELS)
def test_every_node_arrow_and_title_of_a_model_is_in_its_colour(artists, run_name):
    col = to_rgb(plots.color(run_name))
    assert max(range(3), key=lambda c: col[c]) == DOMINANT_CHANNEL[run_name]
    nodes = [a for a in artists[run_name] if isinstance(a, (Ellipse, Rectangle))]
    arrows = [a for a in artists[run_name] if isinstance(a, FancyArrow)]
    titles = [a for a in artists[run_name] if isinstance(a, Text)]
    # p's and q's variables (the observed x drawn as two rings), p's and q's arrows, the model's title
    n_nodes = len(graphical_models.GENERATIVE[run_name]) + len(graphical_models.INFERENCE) + 2
    assert len(nodes) == n_nodes
    assert len(arrows) == len(graphical_models.GENERATIVE_EDGES[run_name]) + len(graphical_models.INFERENCE_EDGES)
    assert [t.get_text() for t in titles] == [plots.label(run_name)]
    for artist in nodes + arrows:
        assert to_rgb(artist.get_edgecolor()) == pytest.approx(col), artist
    assert to_rgb(titles[0].get_color()) == pytest.approx(col)
