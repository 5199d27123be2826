"""Balance figures: files written in both formats, PNG at 300 dpi, content drawn from the tables.

Reference values: the PNG ``pHYs`` chunk read by Pillow (300 dpi = 11811 pixels per metre, which
Pillow reports as 299.9994); the SVG text must name every covariate row of the input table and
the threshold in the legend.
"""

from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image

from cit_bayes.report.balance_figures import love_plot, propensity_overlap_plot

SUMMARY = pd.DataFrame(
    {
        "covariate": ["age", "stage", "stage", "bone_metastasis"],
        "level": ["", "III", "IV", ""],
        "kind": ["numeric", "level", "level", "binary"],
        "max_smd_unweighted": [0.31, 0.25, 0.42, 0.18],
        "max_smd_weighted": [0.02, 0.04, 0.01, 0.03],
        "pair_max_unweighted": ["a vs b"] * 4,
        "pair_max_weighted": ["a vs b"] * 4,
    }
)


def test_love_plot_writes_png_and_svg(tmp_path):
    png, svg = love_plot(SUMMARY, tmp_path / "figures" / "love_plot", threshold=0.1)
    assert png == tmp_path / "figures" / "love_plot.png" and svg.suffix == ".svg"
    with Image.open(png) as image:
        assert image.info["dpi"][0] == pytest.approx(300, abs=0.01)
    text = svg.read_text()
    for label in ["age", "stage: III", "stage: IV", "bone_metastasis", "|SMD| = 0.1"]:
        assert label in text


def test_overlap_plot_accepts_weights_csv_layout(tmp_path):
    frame = pd.DataFrame(
        {
            "arm": ["x", "x", "y", "y", "z", "z"],
            "propensity_x": [0.6, 0.5, 0.2, 0.3, 0.1, 0.2],
            "propensity_y": [0.2, 0.3, 0.6, 0.4, 0.2, 0.2],
            "propensity_z": [0.2, 0.2, 0.2, 0.3, 0.7, 0.6],
        }
    )
    png, svg = propensity_overlap_plot(frame, tmp_path / "overlap.png")
    assert png.exists() and svg.exists()
    text = svg.read_text()
    for label in ["propensity of x", "propensity of y", "propensity of z", "actual arm z"]:
        assert label in text
