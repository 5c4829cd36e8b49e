"""The servo: goal, one step per image, and the state machine the ROS node reports.

Kept free of ROS (the moveit_servo split): the node feeds images and publishes what ``step``
returns. Any fault yields a zero twist and a reason, never an exception into the loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, IntEnum

import numpy as np

from .coarse_start import CoarseStart
from .control import InteractionChoice, clamp_twist, levenberg_marquardt
from .errors import AevsError, ConfigurationError
from .features.base import Feature, FeatureSample
from .photometric import check_image
from .image_normalization import (NOISE_STEP, SATURATION_SMOOTHING, SATURATION_STEP, Normalization, clip_like,
                                  extra_noise_sigma, noise_energy, saturated_fraction)
from .roll_aid import RollAid
from .static_occlusion import StaticOcclusion, fill_from_goal

ZERO_TWIST = np.zeros(6)
#: a goal whose interaction matrix has sigma_min / sigma_max below this cannot constrain the six
#: degrees of freedom (a uniform or one-directional image; README has what real scenes give)
MIN_GOAL_INVERSE_CONDITION = 1e-6


class ServoState(IntEnum):
    """Values match the STATE_* constants of aevs_msgs/ServoStatus."""

    IDLE = 0  #: no goal yet
    SERVOING = 1
    CONVERGED = 2  #: at the goal: zero twist until a new goal or a disturbance
    PAUSED = 3
    FAULT = 4  #: zero twist; ``reason`` says why


class Fault(Enum):
    """What kind of FAULT a command reports (``ServoCommand.fault``); ``reason`` gives the
    particulars. Counted by the benchmarks, so rewording a reason changes no statistic."""

    UNUSABLE_INPUT = "unusable_input"  #: an image, its features or its camera cannot be used
    SINGULAR_LAW = "singular_law"  #: the control law gave a non-finite twist
    DIVERGING = "diverging"  #: the feature error grew for divergence_steps steps
    STALE_CAMERA = "stale_camera"  #: no image arrived for image_timeout
    STEP_TIMEOUT = "step_timeout"  #: a step ran longer than step_timeout
    STEP_FAILED = "step_failed"  #: a step raised an unexpected error


@dataclass(frozen=True)
class ServoConfig:
    """The servo's settings; the defaults are servo_node's (config/servo.yaml is checked against
    them). Simulations use core.simulator.SIMULATED_SERVO."""

    gain: float = 10.0  #: lambda [1/s]
    mu: float = 0.01  #: Levenberg-Marquardt damping
    #: damping from step ``mu_switch_iteration`` on (0: never switch). ViSP's photometric
    #: examples drop mu to 1e-4 after a budget/8 steps: past the first, large motion the damping
    #: only slows the crawl along the cost's flat valleys (README "How it works")
    mu_final: float = 1e-4
    mu_switch_iteration: int = 100
    interaction: InteractionChoice = InteractionChoice.MEAN
    max_linear_velocity: float = 0.1  #: [m/s]; larger twists are scaled down as a whole
    max_angular_velocity: float = 0.5  #: [rad/s]
    #: converged when the step the law asks for, |v| / gain, is below these
    convergence_translation: float = 1e-5  #: [m]
    convergence_rotation: float = 1e-5  #: [rad]
    #: leave CONVERGED when the asked-for step grows past this many times the thresholds
    disturbance_factor: float = 20.0
    #: fault when the feature error grew this many steps in a row (0 disables)
    divergence_steps: int = 60
    #: [deg] start a goal by turning about the optical axis when the view is rolled from it by
    #: more than this, then hand over to the law (core.roll_aid); 0: off. Large rolls are what
    #: the law alone loses on screw motions (README "Screw motions")
    roll_aid: float = 20.0
    #: mu is multiplied by this on the tilt (wx, wy), the rotations a failing screw start trades
    #: its roll for; 1 is the paper's law
    tilt_damping: float = 1.0
    #: [px] start a goal on images blurred by a Gaussian of this sigma, then the images
    #: themselves (core.coarse_start); 0: off
    coarse_blur: float = 0.0
    #: match each image's intensities to the goal image's before the features (a light or an
    #: exposure that changed since the goal was taken): none | goal_statistics | histogram.
    #: On by default: with none, a 30 % change of light defeats every family (README "Camera
    #: imperfections")
    normalization: Normalization = Normalization.GOAL_STATISTICS
    #: weight the feature errors by an M-estimator (Tukey), so that the pixels of an occluder or
    #: a highlight stop pulling; dvs only (Feature.error_weights), the other families ignore it
    robust: bool = False
    #: give the pixels that stayed put while the camera moved (something fixed to the camera in
    #: front of the scene: core.static_occlusion) the goal image's values, so they stop pulling
    static_occlusion: bool = False
    #: encode the goal as a camera with the views' pixel noise would shoot it: s* is the mean
    #: features of this many noisy copies of the goal image, the noise sigma estimated from each
    #: view (image_normalization.extra_noise_sigma). A nonlinear encoder (aevs) answers noise
    #: with a bias, so a clean goal's s* is not where noisy views of the goal land; 0: off
    goal_noise_samples: int = 16

    def __post_init__(self):
        if not self.gain > 0:
            raise ConfigurationError(f"gain must be positive, got {self.gain}")
        if not (self.mu >= 0 and self.mu_final >= 0):
            raise ConfigurationError(f"mu and mu_final must be >= 0, got {self.mu}, {self.mu_final}")
        if self.mu_switch_iteration < 0:
            raise ConfigurationError("mu_switch_iteration must be >= 0")
        if not (self.max_linear_velocity > 0 and self.max_angular_velocity > 0):
            raise ConfigurationError("velocity limits must be positive")
        if not (self.convergence_translation > 0 and self.convergence_rotation > 0):
            raise ConfigurationError("convergence thresholds must be positive")
        if self.divergence_steps < 0:
            raise ConfigurationError("divergence_steps must be >= 0")
        if not 0 <= self.roll_aid < 180:
            raise ConfigurationError(f"roll_aid must be in [0, 180) deg, got {self.roll_aid}")
        if not self.tilt_damping > 0:
            raise ConfigurationError(f"tilt_damping must be positive, got {self.tilt_damping}")
        if not self.coarse_blur >= 0:
            raise ConfigurationError(f"coarse_blur must be >= 0, got {self.coarse_blur}")
        if not 0 <= self.goal_noise_samples <= 1000:
            raise ConfigurationError(f"goal_noise_samples must be in [0, 1000], got {self.goal_noise_samples}")
        object.__setattr__(self, "interaction", InteractionChoice(self.interaction))
        try:
            object.__setattr__(self, "normalization", Normalization(self.normalization))
        except ValueError:
            raise ConfigurationError(f"normalization must be one of {', '.join(n.value for n in Normalization)}, "
                                     f"got {self.normalization!r}") from None


@dataclass
class ServoCommand:
    velocity: np.ndarray  #: (6,) camera twist [m/s, rad/s], camera frame
    state: ServoState
    iteration: int
    error_norm: float = float("nan")  #: |s - s*|
    reason: str = ""
    features: np.ndarray | None = None  #: s of the step's image, when the step computed it
    fault: Fault | None = None  #: the kind of FAULT (state FAULT only)


@dataclass
class Servo:
    feature: Feature
    config: ServoConfig = field(default_factory=ServoConfig)

    def __post_init__(self):
        self.goal: FeatureSample | None = None
        self.goal_image: np.ndarray | None = None
        self.state = ServoState.IDLE
        self.iteration = 0
        self._last_error = np.inf
        self._growing_steps = 0
        self._roll_aid: RollAid | None = None
        self._coarse: CoarseStart | None = None
        self._compared_goal_image: np.ndarray | None = None  #: the goal clipped like the views
        self._saturation = 0.0  #: the share of clipped pixels _compared_goal_image matches
        self._running_saturation: float | None = None  #: the views' clipped share, smoothed over frames
        self._goal_noise = 0.0  #: the noise sigma self.goal.s was encoded with
        self._clean_energy: float | None = None  #: noise_energy of _compared_goal_image, once needed
        self._occlusion: StaticOcclusion | None = None  #: finds the still pixels of this goal's run

    @property
    def has_goal(self) -> bool:
        return self.goal is not None

    def set_goal(self, image: np.ndarray) -> None:
        """Make ``image`` the goal view (raises AevsError if it is unusable; the old goal stays).

        L* is always computed, to refuse a goal that cannot constrain the camera (a uniform
        image drives the camera anywhere without ever diverging), and kept only if the law reads it.
        The feature is bound to the goal first (Feature.bind_goal), and back to the old one if
        the new goal is refused.
        """
        self.feature.bind_goal(image)
        try:
            goal = self.feature.compute(image, with_interaction=True)
            _check_finite(goal, "goal image")
            _check_constrains_motion(goal.L)
        except Exception:
            self._bind_compared_goal()
            raise
        if not self.config.interaction.uses_desired:
            goal = FeatureSample(goal.s, None)
        self.goal, self.goal_image = goal, image
        self._compared_goal_image, self._saturation, self._running_saturation = image, 0.0, None
        self._goal_noise, self._clean_energy = 0.0, None
        self._occlusion = None
        self.state, self.iteration = ServoState.SERVOING, 0
        self._last_error, self._growing_steps = np.inf, 0
        self._roll_aid = RollAid(image, self.feature.camera, self.config.roll_aid) if self.config.roll_aid else None
        self._coarse = (CoarseStart(self.feature, image, self.config.coarse_blur, self.config.interaction.uses_desired)
                        if self.config.coarse_blur else None)

    def _bind_compared_goal(self) -> None:
        """Bind the feature to the image the current images are compared with: the blurred goal
        during a coarse start, else the goal (nothing before the first goal)."""
        if self.goal_image is not None:
            self.feature.bind_goal(self._coarse.goal_image if self._coarse else self._compared_goal_image)

    def reconfigure(self, config: ServoConfig) -> None:
        """Take new settings. A new interaction law re-encodes the goal (with L* only if the law
        reads it) and restarts the step count; a pause holds."""
        law_changed = config.interaction is not self.config.interaction
        self.config = config
        if law_changed and self.goal_image is not None:
            paused = self.state is ServoState.PAUSED
            self.set_goal(self.goal_image)
            self.pause(paused)

    def pause(self, paused: bool = True) -> None:
        if paused:
            self.state = ServoState.PAUSED
        elif self.state is ServoState.PAUSED:
            self.state = ServoState.SERVOING if self.has_goal else ServoState.IDLE

    def damping(self) -> float:
        """The Levenberg-Marquardt mu of the current step (see ServoConfig.mu_final); the schedule
        counts the law's steps, not those of a roll phase."""
        law_steps = self.iteration - (self._roll_aid.steps if self._roll_aid else 0)
        switched = 0 < self.config.mu_switch_iteration <= law_steps
        return self.config.mu_final if switched else self.config.mu

    def fault(self, reason: str, fault: Fault = Fault.UNUSABLE_INPUT) -> ServoCommand:
        """Enter FAULT (zero twist); the next good step leaves it."""
        self.state = ServoState.FAULT
        return ServoCommand(ZERO_TWIST.copy(), self.state, self.iteration, reason=reason, fault=fault)

    def step(self, image: np.ndarray) -> ServoCommand:
        """One control step for the newest image."""
        if self.state is ServoState.PAUSED:
            return ServoCommand(ZERO_TWIST.copy(), self.state, self.iteration, reason="paused")
        if not self.has_goal:
            self.state = ServoState.IDLE
            return ServoCommand(ZERO_TWIST.copy(), self.state, self.iteration, reason="no goal image set")
        try:
            image = check_image(image)  # the size is the feature's to check, with its own message
            if not self._coarse:  # with normalization off (or turned off), the goal itself
                self._match_saturation(saturated_fraction(image)
                                       if self.config.normalization is not Normalization.NONE else None)
            still = self._still_pixels(image)
            image = self.config.normalization.apply(image, self._compared_goal_image, still)
            image = fill_from_goal(image, still, self._compared_goal_image)
            if not self._coarse:
                self._match_noise(image)
            roll_twist = self._roll_aid.twist(image, self.config.gain) if self._roll_aid else None
            if roll_twist is not None:
                return self._roll_step(image, roll_twist)
            coarse = self._coarse
            goal = coarse.goal if coarse else self.goal
            current = self.feature.compute(coarse.blur(image) if coarse else image,
                                           with_interaction=self.config.interaction.uses_current,
                                           still_pixels=still)
            _check_finite(current, "features")
            error = current.s - goal.s
            interaction = self.config.interaction.select(current.L, goal.L)
            damping_weights = (1.0, 1.0, 1.0, self.config.tilt_damping, self.config.tilt_damping, 1.0)
            if self.config.robust:
                root = np.sqrt(self.feature.error_weights(error))  # rows scaled by sqrt(w): L^T W L, L^T W e (IRLS)
                raw = levenberg_marquardt(root[:, None] * interaction, root * error, self.config.gain,
                                          self.damping(), damping_weights)
            else:
                raw = levenberg_marquardt(interaction, error, self.config.gain, self.damping(), damping_weights)
        except (AevsError, np.linalg.LinAlgError) as exc:
            return self.fault(str(exc))
        if not np.isfinite(raw).all():
            return self.fault("control law produced a non-finite twist (singular interaction matrix?)",
                              Fault.SINGULAR_LAW)
        self.iteration += 1
        error_norm = float(np.linalg.norm(error))
        if self.config.divergence_steps:
            self._growing_steps = self._growing_steps + 1 if error_norm > self._last_error else 0
            self._last_error = error_norm
            if self._growing_steps >= self.config.divergence_steps:
                command = self.fault(f"diverging: feature error grew for {self._growing_steps} steps",
                                     Fault.DIVERGING)
                command.error_norm = error_norm
                return command
        step_t = np.linalg.norm(raw[:3]) / self.config.gain
        step_r = np.linalg.norm(raw[3:]) / self.config.gain
        if coarse:  # no convergence on blurred images: hand over to the sharp ones instead
            if coarse.finished(step_t, step_r):
                self._coarse, self._last_error, self._growing_steps = None, np.inf, 0
                self._bind_compared_goal()
            self.state = ServoState.SERVOING
            velocity = clamp_twist(raw, self.config.max_linear_velocity, self.config.max_angular_velocity)
            return ServoCommand(velocity, self.state, self.iteration, error_norm, features=current.s)
        at_goal = step_t < self.config.convergence_translation and step_r < self.config.convergence_rotation
        disturbed = (step_t > self.config.disturbance_factor * self.config.convergence_translation
                     or step_r > self.config.disturbance_factor * self.config.convergence_rotation)
        if at_goal or (self.state is ServoState.CONVERGED and not disturbed):
            self.state = ServoState.CONVERGED
            return ServoCommand(ZERO_TWIST.copy(), self.state, self.iteration, error_norm, "at the goal",
                                current.s)
        self.state = ServoState.SERVOING
        velocity = clamp_twist(raw, self.config.max_linear_velocity, self.config.max_angular_velocity)
        return ServoCommand(velocity, self.state, self.iteration, error_norm, features=current.s)

    def _match_saturation(self, fraction: float | None) -> None:
        """Compare the views with a goal clipped where they are (normalization on): a brighter
        light clips the view's brightest pixels, and no intensity mapping gives their texture
        back, so without this the error never vanishes at the goal. The goal's features are
        computed again only when the views' clipped share, smoothed over frames, moved by more
        than SATURATION_STEP; None (normalization off) compares with the goal itself at once."""
        if fraction is None:
            self._running_saturation, fraction = None, 0.0
        else:
            running = self._running_saturation
            fraction = fraction if running is None else running + SATURATION_SMOOTHING * (fraction - running)
            self._running_saturation = fraction
        if abs(fraction - self._saturation) <= SATURATION_STEP:
            return
        compared = clip_like(self.goal_image, fraction)
        self.feature.bind_goal(compared)
        goal = self.feature.compute(compared, with_interaction=self.config.interaction.uses_desired)
        _check_finite(goal, "goal image clipped like the view")
        self.goal, self._compared_goal_image, self._saturation = goal, compared, fraction
        self._clean_energy = None
        self._goal_noise = self._goal_noise if self.config.goal_noise_samples else 0.0
        if self._goal_noise:
            self._encode_noisy_goal(self._goal_noise)

    def _match_noise(self, image: np.ndarray) -> None:
        """Compare the views with a goal that carries their noise (goal_noise_samples on), encoded
        again only when the estimated sigma moved by more than NOISE_STEP of itself; back to the
        clean goal when the option is turned off."""
        sigma = 0.0
        if self.config.goal_noise_samples:
            if self._clean_energy is None:
                self._clean_energy = noise_energy(self._compared_goal_image)
            sigma = extra_noise_sigma(image, self._clean_energy)
        if abs(sigma - self._goal_noise) <= NOISE_STEP * max(sigma, self._goal_noise):
            return
        if sigma:
            self._encode_noisy_goal(sigma)
        else:
            goal = self.feature.compute(self._compared_goal_image, with_interaction=False)
            self.goal, self._goal_noise = FeatureSample(goal.s, self.goal.L), 0.0

    def _encode_noisy_goal(self, sigma: float) -> None:
        """s* as the mean features of goal_noise_samples noisy copies of the goal image, each
        clipped and normalised like the views (the camera clips after the noise); L* stays the
        clean goal's. A view normalised to the goal's spread comes out with its texture fainter
        by k = sqrt(1 - sigma^2 / spread^2), the noise having taken part of the spread, so the
        copies get noise sigma / k before the same normalisation. The copies are drawn from a
        fixed seed, so a goal encodes the same way twice."""
        compared = self._compared_goal_image
        spread = float(compared.std())
        copy_sigma = sigma / np.sqrt(max(1.0 - (sigma / spread) ** 2, 0.25)) if spread > 0 else sigma
        rng = np.random.default_rng(0)
        samples = []
        for _ in range(self.config.goal_noise_samples):
            noisy = np.clip(self.goal_image + rng.normal(0.0, copy_sigma, self.goal_image.shape), 0.0, 1.0)
            copy = self.config.normalization.apply(clip_like(noisy.astype(np.float32), self._saturation), compared)
            samples.append(self.feature.compute(copy, with_interaction=False).s)
        goal = FeatureSample(np.mean(samples, axis=0), self.goal.L)
        _check_finite(goal, "goal image with the views' noise")
        self.goal, self._goal_noise = goal, sigma

    def _still_pixels(self, image: np.ndarray) -> np.ndarray | None:
        """The pixels that stayed put since this goal's first view (static_occlusion on), None
        until they can be trusted or with the option off."""
        if not self.config.static_occlusion:
            self._occlusion = None
            return None
        if self._occlusion is None:
            self._occlusion = StaticOcclusion()
        return self._occlusion.update(image)

    def _roll_step(self, image: np.ndarray, twist: np.ndarray) -> ServoCommand:
        """A step of the roll phase: the aid's twist; the features only for the report."""
        current = self.feature.compute(image, with_interaction=False)
        _check_finite(current, "features")
        self.iteration += 1
        self.state = ServoState.SERVOING
        velocity = clamp_twist(twist, self.config.max_linear_velocity, self.config.max_angular_velocity)
        return ServoCommand(velocity, self.state, self.iteration, float(np.linalg.norm(current.s - self.goal.s)),
                            "turning about the optical axis", current.s)


def _check_finite(sample: FeatureSample, what: str) -> None:
    if not np.isfinite(sample.s).all() or (sample.L is not None and not np.isfinite(sample.L).all()):
        raise AevsError(f"{what} hold NaN or infinite values")


def _check_constrains_motion(interaction: np.ndarray) -> None:
    singular_values = np.linalg.svd(interaction, compute_uv=False)
    largest = float(singular_values[0]) if singular_values.size else 0.0
    ratio = float(singular_values[-1]) / largest if largest > 0 else 0.0
    if ratio < MIN_GOAL_INVERSE_CONDITION:
        raise AevsError(f"goal image has too little texture to servo on: its interaction matrix is "
                        f"rank-deficient (sigma_min/sigma_max {ratio:.1e} < {MIN_GOAL_INVERSE_CONDITION:g}; "
                        "a uniform or one-directional image)")
