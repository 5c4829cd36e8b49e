"""The Table I test sets: deterministic, within the stated ranges, filtered by visibility."""
import numpy as np

from aevs_ros.bench import cases as test_sets
from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.scene import PlanarScene

GOAL_EYE = np.array([0.0, 0.0, 0.6])


def optical_axis_hit(pose):
    """Where the camera's optical axis meets the scene plane Z = 0."""
    axis = pose[:3, 2]
    return pose[:3, 3] - pose[2, 3] / axis[2] * axis


def roll_about_axis_deg(pose):
    """Roll relative to the zero-roll look-at pose with the same eye and target."""
    reference = se3.look_at(pose[:3, 3], optical_axis_hit(pose))
    relative = se3.inverse(reference) @ pose
    return np.degrees(np.arctan2(relative[1, 0], relative[0, 0]))


def test_generators_are_deterministic():
    for test in test_sets.TEST_SETS:
        first, second = test_sets.make_cases(test, 30), test_sets.make_cases(test, 30)
        for a, b in zip(first, second):
            assert a.index == b.index
            np.testing.assert_array_equal(a.start_pose, b.start_pose)
            np.testing.assert_array_equal(a.goal_pose, b.goal_pose)


def test_look_at_cases_within_ranges():
    cases = test_sets.look_at_cases(200)
    assert [case.index for case in cases] == list(range(200))
    prefix = test_sets.look_at_cases(20)
    np.testing.assert_array_equal(prefix[-1].start_pose, cases[19].start_pose)
    for case in cases:
        np.testing.assert_allclose(case.goal_pose, se3.look_at(GOAL_EYE, (0, 0, 0)))
        offset = case.start_pose[:3, 3] - GOAL_EYE
        assert np.all(np.abs(offset) <= np.array(test_sets.LOOK_AT_START_HALF_EXTENT_M) + 1e-12)
        hit = optical_axis_hit(case.start_pose)
        assert np.hypot(hit[0], hit[1]) <= test_sets.LOOK_AT_TARGET_NOISE_RADIUS_M + 1e-9
        assert abs(roll_about_axis_deg(case.start_pose)) <= test_sets.LOOK_AT_MAX_ROLL_DEG + 1e-6
    start_errors = np.array([se3.pose_error(case.start_pose, case.goal_pose) for case in cases])
    assert 0.35 < start_errors[:, 0].mean() < 0.6  # the paper: 47 +- 15 cm, 37 +- 11 deg
    assert 25 < start_errors[:, 1].mean() < 50


def test_screw_cases_within_ranges():
    full = test_sets.screw_cases(500)
    assert len(full) == 500 and len({case.goal_pose.tobytes() for case in full}) == test_sets.SCREW_GOALS
    for case in full:
        goal, start = case.goal_pose, case.start_pose
        assert abs(goal[2, 3] - 0.6) < 1e-12 and np.all(np.abs(goal[:2, 3]) <= 0.2)
        np.testing.assert_allclose(goal[:3, 2], [0, 0, -1], atol=1e-12)  # looking straight down
        relative = se3.inverse(goal) @ start
        np.testing.assert_allclose(relative[:2, 3], 0, atol=1e-12)  # along the optical axis only
        np.testing.assert_allclose(relative[:3, 2], [0, 0, 1], atol=1e-12)  # about the optical axis only
        assert np.isclose(test_sets.SCREW_TRANSLATIONS_M, relative[2, 3]).any()
        angle = np.degrees(np.arctan2(relative[1, 0], relative[0, 0]))
        assert np.isclose(test_sets.SCREW_ROTATIONS_DEG, angle).any()
    subset = test_sets.screw_cases(40)
    assert len(subset) == 40 and len({case.goal_pose.tobytes() for case in subset}) > 5
    by_index = {case.index: case for case in full}
    for case in subset:
        np.testing.assert_array_equal(case.start_pose, by_index[case.index].start_pose)


def test_keep_visible_drops_views_off_the_scene():
    camera, scene = default_camera(32), PlanarScene.load()
    cases = test_sets.look_at_cases(3)
    far = test_sets.ServoCase("look_at", 99, cases[0].goal_pose, se3.look_at((3.0, 0, 0.6), (3.0, 0, 0)))
    kept, dropped = test_sets.keep_visible(cases + [far], scene, camera)
    assert dropped == [far] and len(kept) == 3
