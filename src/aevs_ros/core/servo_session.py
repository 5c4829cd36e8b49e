"""Everything between a camera frame and ``Servo.step``, free of ROS.

A :class:`ServoSession` owns the core :class:`~aevs_ros.core.servo.Servo` and decides, for
each frame, which camera took it (camera_info's intrinsics, else the fallback), fits it to
the features' input size (centre crop to the aspect ratio, then resize), builds the feature
for that camera (again when the camera changes) and checks that the goal was taken by the
same camera: a goal image belongs to the camera that took it, and servoing towards a view of
another geometry ends somewhere else while reporting CONVERGED.

Nothing is locked in by a first frame or goal: the input size is the one configured, else
the model's, else the current camera's; an unusable frame faults and the next good one recovers.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from .camera import PinholeCamera, default_camera
from .errors import AevsError, ConfigurationError, InvalidImageError
from .features.base import Feature
from .features.registry import make_feature, model_input_shape
from .photometric import DEFAULT_BORDER
from .servo import ZERO_TWIST, Fault, Servo, ServoCommand, ServoConfig, ServoState

#: smallest servo input side [px]: the derivative filter's border leaves nothing useful below it
MIN_INPUT_SIDE = 8 * DEFAULT_BORDER


@dataclass(frozen=True)
class SessionConfig:
    method: str
    model_path: str | None = None
    depth: float = 0.6
    feature_dim: int = 0  #: 0: the family's default
    input_shape: tuple[int, int] | None = None  #: (h, w); None: the model's, else the camera's
    #: [fx, fy, cx, cy] of the raw frames until camera_info is known; zeros: the default camera
    camera_fallback: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    servo: ServoConfig = field(default_factory=ServoConfig)


@dataclass(frozen=True)
class Goal:
    image: np.ndarray  #: at the servo's input size
    camera: PinholeCamera  #: the camera of ``image`` (after crop and resize)
    #: for a goal taken by the servo's own camera (no camera_info of its own): the raw frame
    #: size then. Its intrinsics follow that camera's (fallback, then camera_info) while the
    #: size stays; None for a goal that came with its own camera_info
    own_camera_shape: tuple[int, int] | None = None


def fit_image(image: np.ndarray, camera: PinholeCamera, shape,
              what: str = 'camera image') -> tuple[np.ndarray, PinholeCamera]:
    """Centre-crop ``image`` to the aspect ratio of ``shape`` (h, w), then resize it to ``shape``.

    Returns the image and its camera; raises InvalidImageError if the image is smaller.
    """
    height, width = shape
    if image.shape == (height, width):
        return image, camera
    rows, cols = image.shape
    if rows < height or cols < width:
        raise InvalidImageError(f'{what} {cols}x{rows} is smaller than the servo input {width}x{height}: '
                                'cannot adapt it (set input_width/input_height, or use another camera mode)')
    crop_w, crop_h = min(cols, round(rows * width / height)), min(rows, round(cols * height / width))
    left, top = (cols - crop_w) // 2, (rows - crop_h) // 2
    image = image[top:top + crop_h, left:left + crop_w]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return resized, camera.center_crop(crop_w, crop_h).scaled(width, height)


def same_camera(a: PinholeCamera, b: PinholeCamera) -> bool:
    """Same size and intrinsics up to rounding (crop and resize arithmetic)."""
    return a.shape == b.shape and np.allclose((a.fx, a.fy, a.cx, a.cy), (b.fx, b.fy, b.cx, b.cy),
                                              rtol=1e-6, atol=1e-6)


def describe(camera: PinholeCamera) -> str:
    return f'{camera.width}x{camera.height} fx {camera.fx:.1f} fy {camera.fy:.1f} cx {camera.cx:.1f} cy {camera.cy:.1f}'


class ServoSession:
    """The servo of one camera stream: frames, goals, pause; never raises into the loop.

    Not thread-safe: one thread (the node's servo loop) calls it.
    """

    def __init__(self, config: SessionConfig, log=lambda message: None):
        self.config = config
        self.log = log
        #: the model's input size, read (and the model file validated) now: ModelError at start
        self.model_shape = model_input_shape(config.method, config.model_path)
        if self.model_shape is not None:
            self._make_feature(default_camera(self.model_shape[1], self.model_shape[0]))  # loads the whole model once
        if config.input_shape is not None and min(config.input_shape) < MIN_INPUT_SIDE:
            raise ConfigurationError(f'servo input {config.input_shape[1]}x{config.input_shape[0]} is smaller than '
                                     f'{MIN_INPUT_SIDE}x{MIN_INPUT_SIDE}')
        self.servo: Servo | None = None
        self.goal: Goal | None = None
        self.paused = False
        self.frame: tuple[np.ndarray, PinholeCamera] | None = None  #: the last good frame, fitted
        self.raw_camera: PinholeCamera | None = None  #: camera of the last good raw frame
        self._failed_camera: tuple[PinholeCamera, str] | None = None  #: a camera no feature fits

    # -- state ---------------------------------------------------------------------------------
    @property
    def state(self) -> ServoState:
        if self.paused:
            return ServoState.PAUSED
        return self.servo.state if self.servo is not None else ServoState.IDLE

    @property
    def iteration(self) -> int:
        return self.servo.iteration if self.servo is not None else 0

    @property
    def feature(self) -> Feature | None:
        return self.servo.feature if self.servo is not None else None

    # -- frames ----------------------------------------------------------------------------------
    def step(self, image: np.ndarray, info_camera: PinholeCamera | None) -> tuple[ServoCommand, np.ndarray | None]:
        """One control step for a raw grey frame; returns the command and the fitted image."""
        try:
            fitted, camera, raw_camera = self._fit(image, info_camera, 'camera image')
            self._ensure_feature(camera, raw_camera.shape)
            self.frame, self.raw_camera = (fitted, camera), raw_camera
        except AevsError as exc:
            return self.fault(str(exc)), None
        if self.goal is not None and not same_camera(self.goal.camera, camera):
            return self.fault(f'the goal image was taken with another camera ({describe(self.goal.camera)}) '
                              f'than the current one ({describe(camera)}): set a new goal'), fitted
        command = self.servo.step(fitted)
        return command, fitted

    def fault(self, reason: str, fault: Fault = Fault.UNUSABLE_INPUT) -> ServoCommand:
        """Zero twist and FAULT with ``reason``; a pause holds, the next good step leaves it."""
        if self.servo is None:
            return ServoCommand(ZERO_TWIST.copy(), ServoState.FAULT, 0, reason=reason, fault=fault)
        command = self.servo.fault(reason, fault)
        self._apply_pause()
        return command

    # -- goal, pause, settings -------------------------------------------------------------------
    def set_goal(self, image: np.ndarray | None, camera: PinholeCamera | None = None) -> ServoCommand:
        """Make a view the goal: ``None`` = the current frame; else a raw image of ``camera``.

        Without ``camera`` the image is taken to come from the servo's camera, either as the
        camera sends it or already at the servo's input size. Raises AevsError with the reason
        when the goal is refused (the previous goal stays).
        """
        if self.frame is None or self.servo is None:
            raise AevsError('no camera frame yet: the servo does not know its camera')
        current_image, current_camera = self.frame
        own_camera_shape = self.raw_camera.shape if camera is None else None
        if image is None:
            goal = Goal(current_image, current_camera, own_camera_shape)
        else:
            if camera is None:
                camera = self._goal_camera(image.shape, current_camera)
            elif camera.shape != image.shape:
                raise InvalidImageError(f'goal image is {image.shape[1]}x{image.shape[0]} but its camera_info says '
                                        f'{camera.width}x{camera.height}')
            if not np.isfinite(image).all():
                raise InvalidImageError('goal image holds NaN or infinite values')
            fitted, fitted_camera = fit_image(image, camera, current_camera.shape, 'goal image')
            if not same_camera(fitted_camera, current_camera):
                raise InvalidImageError(f'goal image was taken with another camera ({describe(fitted_camera)} at '
                                        f'the servo input) than the current one ({describe(current_camera)})')
            goal = Goal(fitted, fitted_camera, own_camera_shape)
        self.servo.set_goal(goal.image)
        self.goal = goal
        self._apply_pause()
        return ServoCommand(ZERO_TWIST.copy(), self.state, 0, reason='new goal image')

    def stop(self, reason: str) -> ServoCommand:
        """Forget the goal (IDLE, zero twist), keeping the feature and the pause."""
        self.goal = None
        if self.servo is not None:
            self.servo = Servo(self.servo.feature, self.config.servo)
            self._apply_pause()
        return ServoCommand(ZERO_TWIST.copy(), self.state, 0, reason=reason)

    def pause(self, paused: bool) -> ServoCommand:
        self.paused = paused
        self._apply_pause()
        return ServoCommand(ZERO_TWIST.copy(), self.state, self.iteration, reason='paused' if paused else 'resumed')

    def reconfigure(self, servo_config: ServoConfig) -> None:
        self.config = replace(self.config, servo=servo_config)
        if self.servo is not None:
            self.servo.reconfigure(servo_config)
            self._apply_pause()

    # -- cameras and features --------------------------------------------------------------------
    def _raw_camera(self, shape, info_camera: PinholeCamera | None) -> PinholeCamera:
        """Intrinsics of a raw frame of ``shape``: camera_info's, else the fallback."""
        if info_camera is not None:
            if info_camera.shape != shape:
                raise InvalidImageError(f'camera image is {shape[1]}x{shape[0]} but camera_info says '
                                        f'{info_camera.width}x{info_camera.height}')
            return info_camera
        fx, fy, cx, cy = self.config.camera_fallback
        if fx > 0 and fy > 0:
            return PinholeCamera(shape[1], shape[0], fx, fy, cx, cy)
        return default_camera(shape[1], shape[0])

    def _input_shape(self, raw_shape) -> tuple[int, int]:
        return self.config.input_shape or self.model_shape or tuple(raw_shape)

    def _fit(self, image: np.ndarray, info_camera, what: str):
        """(fitted image, its camera, the raw frame's camera); InvalidImageError if unusable."""
        if image.ndim != 2:
            raise InvalidImageError(f'{what}: expected a single-channel image, got shape {image.shape}')
        if not np.isfinite(image).all():
            raise InvalidImageError(f'{what} holds NaN or infinite values')
        shape = self._input_shape(image.shape)
        if min(shape) < MIN_INPUT_SIDE:
            raise InvalidImageError(f'{what} {image.shape[1]}x{image.shape[0]} is smaller than '
                                    f'{MIN_INPUT_SIDE}x{MIN_INPUT_SIDE}, the smallest servo input')
        raw_camera = self._raw_camera(image.shape, info_camera)
        return (*fit_image(image, raw_camera, shape, what), raw_camera)

    def _goal_camera(self, shape, current_camera: PinholeCamera) -> PinholeCamera:
        """The camera of a goal image sent without camera_info: the servo's own."""
        if shape == current_camera.shape:
            return current_camera
        if self.raw_camera is not None and shape == self.raw_camera.shape:
            return self.raw_camera
        raw = f', {self.raw_camera.width}x{self.raw_camera.height} as the camera sends them' if self.raw_camera else ''
        raise InvalidImageError(f'goal image is {shape[1]}x{shape[0]}: expected the servo input '
                                f'{current_camera.width}x{current_camera.height}{raw} (or send its camera_info)')

    def _ensure_feature(self, camera: PinholeCamera, raw_shape) -> None:
        """The feature for ``camera``, built on a camera change; the goal follows if it was
        taken by this camera (same geometry, or our own camera at the same size)."""
        if self.servo is not None and self.servo.feature.camera == camera:
            return
        if self._failed_camera is not None and self._failed_camera[0] == camera:
            raise AevsError(self._failed_camera[1])  # not rebuilt (a model reload) at every frame
        try:
            feature = self._make_feature(camera)
        except AevsError as exc:
            self._failed_camera = (camera, str(exc))
            raise
        self._failed_camera = None
        self.servo = Servo(feature, self.config.servo)
        self.log(f'{feature.name}: {feature.dim} features of {describe(camera)}')
        goal = self.goal
        if goal is not None and not same_camera(goal.camera, camera) and goal.own_camera_shape == tuple(raw_shape):
            self.goal = goal = Goal(goal.image, camera, goal.own_camera_shape)
            self.log('the camera intrinsics changed, not its size: the goal taken with it follows')
        if goal is not None and same_camera(goal.camera, camera):
            self.servo.set_goal(goal.image)
        self._apply_pause()

    def _make_feature(self, camera: PinholeCamera) -> Feature:
        dim = self.config.feature_dim
        return make_feature(self.config.method, camera, self.config.depth, model_path=self.config.model_path,
                            **({'dim': dim} if dim else {}))

    def _apply_pause(self) -> None:
        if self.servo is not None:
            self.servo.pause(self.paused)
