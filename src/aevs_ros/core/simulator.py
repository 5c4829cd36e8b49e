"""Closed-loop servoing against the planar scene: render, features, control, integrate."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import se3
from .camera import PinholeCamera
from .errors import SceneError
from .features.base import Feature
from .imperfections import CameraImperfections, ImperfectCamera
from .outcome import StopReason
from .scene import PlanarScene
from .servo import Fault, Servo, ServoConfig, ServoState


#: The servo law of the simulations (demo, table1, sweeps): ServoConfig's defaults with the
#: speed limits and convergence thresholds of the paper's simulated evaluation. No robot bounds
#: the camera's speed there, and noise-free float images let the servo settle ten times closer
#: than a camera's 8-bit frames through ROS do.
SIMULATED_SERVO = ServoConfig(max_linear_velocity=0.5, max_angular_velocity=1.0,
                              convergence_translation=1e-6, convergence_rotation=1e-6)


@dataclass(frozen=True)
class SimConfig:
    dt: float = 1 / 30  #: control period [s] (a 30 Hz camera)
    max_iterations: int = 1500
    #: stop (failed) when fewer of the view's pixels than this see the scene
    min_visible_fraction: float = 0.5
    #: stop (failed) when the camera is farther than this from the goal [m]
    max_translation_error: float = 2.0
    #: stop (failed, "stalled") when over this many iterations (10 s at 30 Hz; 0 = never) the
    #: feature error fell by under 1 % and the camera moved under stall_motion: a local
    #: minimum, which would otherwise spend the whole iteration budget
    stall_window: int = 300
    stall_motion: tuple[float, float] = (1e-3, 0.1)  #: [m], [deg]


@dataclass
class SimResult:
    method: str
    goal_pose: np.ndarray
    poses: list = field(default_factory=list)  #: world_T_camera at every iteration, start first
    velocities: list = field(default_factory=list)
    feature_errors: list = field(default_factory=list)
    servo_converged: bool = False  #: the servo declared convergence (no ground truth used)
    stop_reason: str = ""
    stop: StopReason | None = None  #: the kind of ``stop_reason``
    wall_time_s: float = 0.0
    goal_image: np.ndarray | None = None
    start_image: np.ndarray | None = None
    final_image: np.ndarray | None = None

    @property
    def iterations(self) -> int:
        return len(self.velocities)

    @property
    def start_error(self) -> tuple[float, float]:
        return se3.pose_error(self.poses[0], self.goal_pose)

    @property
    def final_error(self) -> tuple[float, float]:
        return se3.pose_error(self.poses[-1], self.goal_pose)


def simulate(scene: PlanarScene, camera: PinholeCamera, feature: Feature, goal_pose: np.ndarray,
             start_pose: np.ndarray, servo_config: ServoConfig = SIMULATED_SERVO,
             sim_config: SimConfig = SimConfig(), record_images: bool = True,
             imperfections: CameraImperfections | None = None, seed: int = 0) -> SimResult:
    """Servo from ``start_pose`` to the view rendered at ``goal_pose``; returns the trajectory.

    ``imperfections`` degrade every current image (not the goal's), as a real camera would;
    ``seed`` makes their noise reproducible.
    """
    goal_view = scene.render(camera, goal_pose)
    if goal_view.visible_fraction < sim_config.min_visible_fraction:
        raise SceneError(f"the goal view sees only {goal_view.visible_fraction:.0%} of the scene")
    servo = Servo(feature, servo_config)
    servo.set_goal(goal_view.image)
    result = SimResult(feature.name, goal_pose, poses=[start_pose])
    if record_images:
        result.goal_image = goal_view.image
    imperfect = ImperfectCamera(imperfections, camera, seed) if imperfections and imperfections.active else None
    pose, velocity = start_pose, np.zeros(6)
    started = time.perf_counter()
    for _ in range(sim_config.max_iterations):
        view = scene.render(camera, pose)
        image = view.image if imperfect is None else imperfect.apply(
            view.image, pose, velocity, feature.depth, sim_config.dt)
        if record_images and result.start_image is None:
            result.start_image = image
        if view.visible_fraction < sim_config.min_visible_fraction:
            result.stop, result.stop_reason = (StopReason.OUT_OF_VIEW,
                                               f"scene out of view ({view.visible_fraction:.0%} visible)")
            break
        command = servo.step(image)
        if command.state is ServoState.FAULT:
            result.stop = StopReason.DIVERGING if command.fault is Fault.DIVERGING else StopReason.FAULT
            result.stop_reason = f"fault: {command.reason}"
            break
        result.feature_errors.append(command.error_norm)
        result.velocities.append(command.velocity)
        if command.state is ServoState.CONVERGED:
            result.servo_converged, result.stop, result.stop_reason = True, StopReason.CONVERGED, "converged"
            break
        velocity = command.velocity
        pose = se3.integrate(pose, velocity, sim_config.dt)
        result.poses.append(pose)
        if np.linalg.norm(pose[:3, 3] - goal_pose[:3, 3]) > sim_config.max_translation_error:
            result.stop, result.stop_reason = StopReason.TOO_FAR, "diverged: camera too far from the goal"
            break
        if _stalled(result, sim_config):
            result.stop = StopReason.STALLED
            result.stop_reason = f"stalled: no progress in {sim_config.stall_window} iterations"
            break
    else:
        result.stop = StopReason.BUDGET_EXHAUSTED
        result.stop_reason = f"iteration budget of {sim_config.max_iterations} exhausted"
    result.wall_time_s = time.perf_counter() - started
    if record_images:
        result.final_image = scene.render(camera, pose).image
    return result


def _stalled(result: SimResult, config: SimConfig) -> bool:
    """Neither the feature error nor the camera has moved over the last stall_window steps."""
    window = config.stall_window
    if not window or len(result.feature_errors) <= window:
        return False
    errors = result.feature_errors
    if errors[-1] < 0.99 * errors[-1 - window]:
        return False
    translation, rotation = se3.pose_error(result.poses[-1], result.poses[-1 - window])
    return translation < config.stall_motion[0] and rotation < config.stall_motion[1]
