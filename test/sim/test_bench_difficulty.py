"""`aevs bench difficulty`: the batch sampler keeps the paper's distributions inside the gantry's
reach, reproducibly, and a tiny run writes the JSON contract, the table and the figures."""
import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from aevs_ros.bench.difficulty import (FOCUS_NOISE_M, MAX_ROLL_DEG, GantryReach, batch_label,
                                       difficulty_cases, difficulty_goal)
from aevs_ros.cli import main
from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.scene import PlanarScene

MIN_VISIBLE = 0.5


@pytest.fixture(scope="module")
def sampling():
    return GantryReach.from_parameter_file(), PlanarScene.load(), default_camera(32)


def _draw(sampling, sigma_cm, count, seed=7):
    reach, scene, camera = sampling
    return difficulty_cases(sigma_cm, count, reach, scene, camera, MIN_VISIBLE, seed)


def _offsets(cases):
    return np.array([case.start_pose[:3, 3] - case.goal_pose[:3, 3] for case in cases])


def test_offsets_follow_the_batch_sigma_with_half_of_it_on_z(sampling):
    for sigma_cm in (2, 5):  # far from the workspace walls: the Gaussian is not truncated
        cases, redraws = _draw(sampling, sigma_cm, 400)
        offsets = _offsets(cases)
        assert len(cases) == 400 and redraws["unreachable"] == 0
        np.testing.assert_allclose(offsets.std(axis=0), np.array([1, 1, 0.5]) * sigma_cm / 100, rtol=0.12)
        np.testing.assert_allclose(offsets.mean(axis=0), 0, atol=0.25 * sigma_cm / 100)
    assert all(np.allclose(case.goal_pose, difficulty_goal()) for case in cases)
    np.testing.assert_allclose(difficulty_goal()[:3, 3], [0, 0, 0.6])


def test_wide_batches_stay_inside_the_gantry_workspace(sampling):
    reach = sampling[0]
    cases, redraws = _draw(sampling, 40, 60)
    assert redraws["unreachable"] > 0  # sigma 40 cm on a +-40 cm box: many draws refused
    box = reach.safety.workspace
    assert all(box.contains(case.start_pose[:3, 3]) and reach.reaches(case.start_pose) for case in cases)
    assert _offsets(cases)[:, :2].std() > 0.15  # still wide, not collapsed to the centre
    outside = se3.look_at(box.maximum + [0.05, 0, 0], (0, 0, 0))
    assert not reach.reaches(outside)


def test_start_views_overlap_the_goal_view_and_roll_within_30_degrees(sampling):
    _, scene, camera = sampling
    cases, _ = _draw(sampling, 20, 80)
    rolls = []
    for case in cases:
        eye, axis = case.start_pose[:3, 3], case.start_pose[:3, 2]
        focus = eye - eye[2] / axis[2] * axis  # where the optical axis meets the scene plane
        assert np.all(np.abs(focus[:2]) <= FOCUS_NOISE_M + 1e-9)
        assert scene.visible_fraction(camera, case.start_pose) >= MIN_VISIBLE
        unrolled = se3.look_at(eye, focus)
        roll = Rotation.from_matrix(unrolled[:3, :3].T @ case.start_pose[:3, :3]).as_rotvec()
        np.testing.assert_allclose(roll[:2], 0, atol=1e-9)  # a rotation about the optical axis only
        rolls.append(np.degrees(roll[2]))
    assert max(np.abs(rolls)) <= MAX_ROLL_DEG and max(rolls) > 20 and min(rolls) < -20


def test_batches_are_reproducible_and_independent_of_the_count(sampling):
    first, _ = _draw(sampling, 10, 12)
    again, _ = _draw(sampling, 10, 5)
    other_seed, _ = _draw(sampling, 10, 5, seed=8)
    assert all(np.array_equal(a.start_pose, b.start_pose) for a, b in zip(first, again))
    assert not np.allclose(first[0].start_pose, other_seed[0].start_pose)
    assert {case.test for case in first} == {batch_label(10)} == {"sigma_10cm"}
    assert [case.index for case in first] == list(range(12))


@pytest.mark.slow
def test_a_tiny_run_writes_the_json_contract_table_and_figures(tmp_path):
    out = tmp_path / "difficulty"
    assert main(["bench", "difficulty", "--cases", "2", "--sigmas", "2,10", "--methods", "dvs",
                 "--iterations", "30", "--size", "64", "--workers", "2", "--out", str(out)]) == 0
    report = json.loads((out / "difficulty.json").read_text())
    assert report["sigmas_cm"] == [2, 10] and report["cases_per_batch"] == 2
    for sigma in ("2", "10"):
        summary = report["results"][sigma]["dvs"]
        assert summary["cases"] == 2 and 0 <= summary["converged_rate"] <= 1
        assert {"converged", "median_end_error_mm", "median_end_error_deg", "stop_reasons"} <= summary.keys()
        assert report["batches"][sigma]["sigma_z_m"] == pytest.approx(int(sigma) / 200)
    records = report["records"]
    assert len(records) == 4 and all(0 < r["iterations"] <= 30 for r in records)
    assert all(len(r["start_position_m"]) == 3 and "positions_m" not in r for r in records)
    assert "| 10 (5) |" in (out / "difficulty.md").read_text()
    for name in ("difficulty.png", "difficulty_paths.png"):
        assert (out / name).stat().st_size > 1000
