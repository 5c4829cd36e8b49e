"""Closed-loop DVS in the core simulation: exact convergence from a small displacement."""
import json

import pytest

from aevs_ros.core import se3
from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import SceneError
from aevs_ros.core.features import make_feature
from aevs_ros.core.outcome import StopReason, outcome_from_simulation
from aevs_ros.core.scene import PlanarScene
from aevs_ros.core.simulator import SimConfig, simulate

GOAL = se3.look_at((0, 0, 0.6), (0, 0, 0))


@pytest.fixture(scope="module")
def scene():
    return PlanarScene.load()


def test_dvs_converges_from_2cm_2deg(scene):
    camera = default_camera(128)
    start = se3.displaced(GOAL, (0.015, -0.012, 0.008, 1.5, -1.2, 0.8))
    t0, r0 = se3.pose_error(start, GOAL)
    assert 0.015 < t0 < 0.025 and 1.5 < r0 < 2.5
    result = simulate(scene, camera, make_feature("dvs", camera, 0.6), GOAL, start)
    final_t, final_r = result.final_error
    assert result.servo_converged, result.stop_reason
    assert final_t < 1e-4 and final_r < 0.01, (final_t, final_r)
    outcome = outcome_from_simulation(result)
    assert outcome["converged"] and outcome["iterations"] == result.iterations
    json.dumps(outcome)  # serialisable as it is
    assert final_t < 0.01 * result.start_error[0]


def test_simulation_stops_when_the_scene_leaves_the_view(scene):
    camera = default_camera(64)
    start = se3.look_at((0.7, 0.0, 0.6), (0.7, 0.0, 0.0))  # mostly past the scene's right edge
    result = simulate(scene, camera, make_feature("dvs", camera, 0.6), GOAL, start,
                      sim_config=SimConfig(max_iterations=50))
    assert not result.servo_converged
    assert "out of view" in result.stop_reason and result.stop is StopReason.OUT_OF_VIEW


def test_goal_that_sees_no_scene_is_an_error(scene):
    camera = default_camera(64)
    with pytest.raises(SceneError, match="goal view"):
        simulate(scene, camera, make_feature("dvs", camera, 0.6), se3.look_at((0, 0, 0.6), (0, 0, 2)), GOAL)


def test_a_servo_that_makes_no_progress_is_stopped_as_stalled(scene):
    """A local minimum stand-in: a gain so low that neither the error nor the camera moves."""
    from dataclasses import replace

    from aevs_ros.core.simulator import SIMULATED_SERVO

    camera = default_camera(64)
    start = se3.displaced(GOAL, (0.02, 0.0, 0.0, 0.0, 0.0, 0.0))
    result = simulate(scene, camera, make_feature("dvs", camera, 0.6), GOAL, start,
                      replace(SIMULATED_SERVO, gain=1e-6), SimConfig(max_iterations=200, stall_window=50),
                      record_images=False)
    assert result.stop is StopReason.STALLED and result.stop_reason.startswith("stalled"), result.stop_reason
    assert result.iterations == 51
    moving = simulate(scene, camera, make_feature("dvs", camera, 0.6), GOAL, start,
                      replace(SIMULATED_SERVO, gain=0.05), SimConfig(max_iterations=80, stall_window=50),
                      record_images=False)
    assert moving.stop is StopReason.BUDGET_EXHAUSTED, moving.stop_reason  # slow, not stalled
