"""`aevs bench landscape` on a coarse grid: a PNG, and DVS's cost is lowest at the goal."""
import json

import numpy as np

from aevs_ros.bench.landscape import descent_basin_fraction
from aevs_ros.cli import main


def test_coarse_landscape(tmp_path):
    code = main(["bench", "landscape", "--methods", "dvs,dct", "--points", "7", "--extent", "0.05",
                 "--size", "64", "--out", str(tmp_path)])
    assert code == 0
    assert (tmp_path / "landscape.png").stat().st_size > 1000
    report = json.loads((tmp_path / "landscape.json").read_text())
    dvs = report["methods"]["dvs"]
    assert dvs["minimum_at_goal"] and dvs["minimum_at_m"] == [0.0, 0.0]
    assert np.array(dvs["cost"]).shape == (7, 7)


def test_descent_basin_fraction():
    bowl = np.add.outer(np.arange(-2, 3) ** 2, np.arange(-2, 3) ** 2).astype(float)
    assert descent_basin_fraction(bowl, (2, 2)) == 1.0
    bowl[0, 0] = -1.0  # a second, deeper pit in a corner captures the cells next to it
    assert 0 < descent_basin_fraction(bowl, (2, 2)) < 1
