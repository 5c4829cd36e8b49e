"""The two test sets of the paper's Table I (Sec. IV-B), drawn from fixed seeds.

**look-at**: the goal camera is 0.6 m above the scene centre looking at it. A start camera is
the goal position plus a uniform offset in [-0.6, 0.6] x [-0.6, 0.6] x [-0.15, 0.15] m; it
looks at the scene centre plus a point drawn uniformly in a disc of radius 10 cm, rolled about
its optical axis by a uniform angle in [-5, 5] deg. This gives the paper's mean start error
(about 47 cm and 37 deg).

**screw**: 10 goal cameras 0.6 m above the scene at x, y uniform in [-0.2, 0.2] m, looking
straight down with a uniform random roll in [-180, 180] deg (the paper: "with a random
rotation around the z axis"). Each has 50 starts: a translation along the goal's optical axis
in linspace(-0.3, 0.3, 5) m combined with a rotation about it in linspace(-70, 70, 10) deg.
Asking for fewer cases keeps a seeded random subset of the 500, so a small run still covers
every goal and motion.

Cases are drawn one at a time, so the first N look-at cases are the same whatever the count.
:func:`keep_visible` drops cases whose start or goal view sees too little of the scene.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core import se3
from ..core.camera import PinholeCamera
from ..core.scene import PlanarScene

TEST_SETS = ("look_at", "screw")
DEFAULT_CASES = 500
LOOK_AT_SEED = 2022
SCREW_SEED = 3234

GOAL_HEIGHT_M = 0.6
LOOK_AT_START_HALF_EXTENT_M = (0.6, 0.6, 0.15)
LOOK_AT_TARGET_NOISE_RADIUS_M = 0.10
LOOK_AT_MAX_ROLL_DEG = 5.0
SCREW_GOALS = 10
SCREW_GOAL_HALF_EXTENT_M = 0.2
SCREW_TRANSLATIONS_M = np.linspace(-0.3, 0.3, 5)
SCREW_ROTATIONS_DEG = np.linspace(-70.0, 70.0, 10)
#: Cases whose start or goal view sees less of the scene are dropped: the simulator's default
#: SimConfig.min_visible_fraction, below which a run stops as "scene out of view" at once.
MIN_VISIBLE_FRACTION = 0.5


@dataclass(frozen=True)
class ServoCase:
    test: str  #: "look_at" or "screw"
    index: int  #: position in the full test set (stable across counts)
    goal_pose: np.ndarray  #: world_T_camera
    start_pose: np.ndarray


def look_at_cases(count: int = DEFAULT_CASES, seed: int = LOOK_AT_SEED) -> list[ServoCase]:
    rng = np.random.default_rng(seed)
    goal_eye = np.array([0.0, 0.0, GOAL_HEIGHT_M])
    goal = se3.look_at(goal_eye, (0.0, 0.0, 0.0))
    half_extent = np.array(LOOK_AT_START_HALF_EXTENT_M)
    cases = []
    for index in range(count):
        eye = goal_eye + rng.uniform(-half_extent, half_extent)
        radius = LOOK_AT_TARGET_NOISE_RADIUS_M * np.sqrt(rng.uniform())  # uniform over the disc
        angle = rng.uniform(0.0, 2 * np.pi)
        target = (radius * np.cos(angle), radius * np.sin(angle), 0.0)
        roll = np.radians(rng.uniform(-LOOK_AT_MAX_ROLL_DEG, LOOK_AT_MAX_ROLL_DEG))
        cases.append(ServoCase("look_at", index, goal, se3.look_at(eye, target, roll)))
    return cases


def screw_cases(count: int = DEFAULT_CASES, seed: int = SCREW_SEED) -> list[ServoCase]:
    rng = np.random.default_rng(seed)
    starts_per_goal = len(SCREW_TRANSLATIONS_M) * len(SCREW_ROTATIONS_DEG)
    goals = max(SCREW_GOALS, -(-count // starts_per_goal))
    cases = []
    for _ in range(goals):
        x, y = rng.uniform(-SCREW_GOAL_HALF_EXTENT_M, SCREW_GOAL_HALF_EXTENT_M, 2)
        roll = np.radians(rng.uniform(-180.0, 180.0))
        goal = se3.look_at((x, y, GOAL_HEIGHT_M), (x, y, 0.0), roll)
        for dz in SCREW_TRANSLATIONS_M:
            for rz in SCREW_ROTATIONS_DEG:
                start = se3.displaced(goal, (0.0, 0.0, dz, 0.0, 0.0, rz))
                cases.append(ServoCase("screw", len(cases), goal, start))
    if count < len(cases):
        keep = np.sort(rng.choice(len(cases), count, replace=False))
        cases = [cases[i] for i in keep]
    return cases


def make_cases(test: str, count: int = DEFAULT_CASES) -> list[ServoCase]:
    if test == "look_at":
        return look_at_cases(count)
    if test == "screw":
        return screw_cases(count)
    raise ValueError(f"unknown test set {test!r}: choose one of {', '.join(TEST_SETS)}")


def keep_visible(cases: list[ServoCase], scene: PlanarScene, camera: PinholeCamera,
                 min_visible_fraction: float = MIN_VISIBLE_FRACTION):
    """(kept, dropped): a case is dropped if its start or goal view sees too little scene."""
    kept, dropped = [], []
    for case in cases:
        visible = min(scene.visible_fraction(camera, case.start_pose),
                      scene.visible_fraction(camera, case.goal_pose))
        (kept if visible >= min_visible_fraction else dropped).append(case)
    return kept, dropped
