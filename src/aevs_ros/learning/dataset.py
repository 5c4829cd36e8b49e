"""Training views of a planar scene, drawn as in the paper (Sec. IV-A, Fig. 2), and the
training pairs of Siame-se(3).

A focus point is drawn near the scene centre, a camera position in a box above the
scene; the optical axis points at the focus point and the camera is rolled about it
at random. The defaults cover the two test sets of the paper: look-at starts (goal
(0, 0, 0.6) + [-0.6, 0.6] x [-0.6, 0.6] x [-0.15, 0.15] m, looking at the centre
+- 10 cm) and screw-motion starts (0.3-0.9 m high, any roll).

Views are kept as uint8 (N, h, w) arrays: 20k views of 128x128 take 330 MB. Several
scenes share the count equally (scene_views, scene_pairs), each from its own seed.

A Siame-se(3) pair is a goal view and a current view around it, labelled with the pose of the
current camera in the goal camera's frame (t, θu); config.PairSampling says where they are
drawn and why.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from aevs_ros.core import se3
from aevs_ros.core.camera import PinholeCamera
from aevs_ros.core.errors import SceneError
from aevs_ros.core import scene_catalog
from aevs_ros.core.scene import PlanarScene
from aevs_ros.learning.config import PairSampling, TrainConfig, ViewSampling

#: Draws per kept view before giving up on a sampling box that keeps missing the scene.
MAX_DRAWS_PER_VIEW = 20


def sample_poses(sampling: ViewSampling, count: int, rng: np.random.Generator) -> np.ndarray:
    """count camera poses world_T_camera (count, 4, 4) looking at random focus points."""
    half_focus = sampling.focus_half_extent_m
    focus = np.zeros((count, 3))
    focus[:, :2] = rng.uniform(-half_focus, half_focus, (count, 2))
    eyes = np.column_stack([
        rng.uniform(-sampling.camera_half_extent_m, sampling.camera_half_extent_m, (count, 2)),
        rng.uniform(sampling.camera_height_min_m, sampling.camera_height_max_m, count)])
    rolls = np.radians(rng.uniform(-sampling.max_roll_deg, sampling.max_roll_deg, count))
    return np.stack([se3.look_at(eye, target, roll) for eye, target, roll in zip(eyes, focus, rolls)])


def render_views(scene: PlanarScene, camera: PinholeCamera, count: int, seed: int,
                 sampling: ViewSampling = ViewSampling(), progress: bool = True,
                 description: str = "views"):
    """(images uint8 (count, h, w), poses (count, 4, 4)), the same for the same seed.

    Poses are drawn in vectorised batches; those seeing less than
    sampling.min_visible_fraction of the scene are replaced by further draws.
    """
    rng = np.random.default_rng(seed)
    images = np.empty((count, camera.height, camera.width), np.uint8)
    poses = np.empty((count, 4, 4))
    kept = draws = 0
    with tqdm(total=count, desc=description, unit="img", disable=not progress) as bar:
        while kept < count:
            if draws > MAX_DRAWS_PER_VIEW * count:
                raise SceneError(
                    f"only {kept} of {draws} drawn views see at least "
                    f"{sampling.min_visible_fraction:.0%} of the scene: shrink the camera box")
            batch = sample_poses(sampling, count - kept, rng)
            draws += len(batch)
            for pose in batch:
                view = scene.render(camera, pose)
                if view.visible_fraction < sampling.min_visible_fraction:
                    continue
                images[kept] = np.rint(view.image * 255)
                poses[kept] = pose
                kept += 1
                bar.update()
    return images, poses


def sample_pair_poses(sampling: PairSampling, count: int, rng: np.random.Generator):
    """(goal poses, current poses), world_T_camera (count, 4, 4) each, as PairSampling says."""
    goals, currents = np.empty((count, 4, 4)), np.empty((count, 4, 4))
    for index in range(count):
        x, y = rng.uniform(-sampling.goal_half_extent_m, sampling.goal_half_extent_m, 2)
        roll = rng.uniform(-np.pi, np.pi)
        eye, target = np.array([x, y, sampling.goal_height_m]), np.array([x, y, 0.0])
        goal = se3.look_at(eye, target, roll)
        if rng.uniform() < sampling.look_at_share:
            radius = sampling.look_at_target_radius_m * np.sqrt(rng.uniform())  # uniform over the disc
            angle = rng.uniform(0.0, 2 * np.pi)
            half_extent = np.asarray(sampling.look_at_half_extent_m)
            start = se3.look_at(eye + rng.uniform(-half_extent, half_extent),
                                target + (radius * np.cos(angle), radius * np.sin(angle), 0.0),
                                roll + np.radians(rng.uniform(-1, 1) * sampling.look_at_max_roll_deg))
        else:
            start = se3.displaced(goal, (0.0, 0.0, rng.uniform(-1, 1) * sampling.screw_max_translation_m,
                                         0.0, 0.0, rng.uniform(-1, 1) * sampling.screw_max_rotation_deg))
        relative = se3.pose_vector(se3.inverse(goal) @ start)
        jitter = sampling.path_jitter * rng.normal(size=6)
        jitter[:3] *= np.linalg.norm(relative[:3])
        jitter[3:] *= np.linalg.norm(relative[3:])
        goals[index] = goal
        currents[index] = goal @ se3.pose_from_vector(rng.uniform() * (relative + jitter))
    return goals, currents


def render_pairs(scene: PlanarScene, camera: PinholeCamera, count: int, seed: int,
                 sampling: PairSampling = PairSampling(), progress: bool = True,
                 description: str = "pairs"):
    """(current views uint8 (count, h, w), goal views uint8 (count, h, w), labels float32
    (count, 6)): the label of pair i is (t, θu) of current camera i in goal camera i's frame.
    The same for the same seed; pairs where either view sees less than
    sampling.min_visible_fraction of the scene are replaced by further draws."""
    rng = np.random.default_rng(seed)
    currents = np.empty((count, camera.height, camera.width), np.uint8)
    goals = np.empty_like(currents)
    labels = np.empty((count, 6), np.float32)
    kept = draws = 0
    with tqdm(total=count, desc=description, unit="pair", disable=not progress) as bar:
        while kept < count:
            if draws > MAX_DRAWS_PER_VIEW * count:
                raise SceneError(f"only {kept} of {draws} drawn pairs see at least "
                                 f"{sampling.min_visible_fraction:.0%} of the scene in both views")
            goal_poses, current_poses = sample_pair_poses(sampling, count - kept, rng)
            draws += len(goal_poses)
            for goal_pose, current_pose in zip(goal_poses, current_poses):
                goal, current = scene.render(camera, goal_pose), scene.render(camera, current_pose)
                if min(goal.visible_fraction, current.visible_fraction) < sampling.min_visible_fraction:
                    continue
                goals[kept], currents[kept] = np.rint(goal.image * 255), np.rint(current.image * 255)
                labels[kept] = se3.pose_vector(se3.inverse(goal_pose) @ current_pose)
                kept += 1
                bar.update()
    return currents, goals, labels


def load_scenes(config: TrainConfig) -> list[PlanarScene]:
    """The scenes config.scene names (scene_catalog entries; folders and sets expanded)."""
    scenes = []
    for entry in config.scene_entries() or [None]:
        path, width = (entry["path"], entry.get("width_m", config.scene_width_m)) if isinstance(entry, dict) \
            else (entry, config.scene_width_m)
        for single in scene_catalog.expand(path) if path is not None else [None]:
            scenes.append(PlanarScene.load(single, width))
    return scenes


def scene_views(scenes: list[PlanarScene], camera: PinholeCamera, count: int, seed: int,
                sampling: ViewSampling = ViewSampling(), progress: bool = True,
                description: str = "views"):
    """render_views over several scenes: count shared equally (the first ones take the
    remainder), scene i drawn from the i-th seed of ``seed``; one scene is render_views itself."""
    return _shared_among_scenes(render_views, "views", scenes, camera, count, seed, sampling, progress,
                                description)


def scene_pairs(scenes: list[PlanarScene], camera: PinholeCamera, count: int, seed: int,
                sampling: PairSampling = PairSampling(), progress: bool = True,
                description: str = "pairs"):
    """render_pairs over several scenes, shared as scene_views shares views (both views of a
    pair are of the same scene)."""
    return _shared_among_scenes(render_pairs, "pairs", scenes, camera, count, seed, sampling, progress,
                                description)


def _shared_among_scenes(render, what: str, scenes, camera, count, seed, sampling, progress, description):
    """``render`` (render_views or render_pairs, which draw ``what``) for each scene's share of
    ``count``, its arrays concatenated."""
    if len(scenes) == 1:
        return render(scenes[0], camera, count, seed, sampling, progress, description)
    if count < len(scenes):
        raise SceneError(f"{count} {what} cannot cover {len(scenes)} scenes")
    shares = [count // len(scenes) + (index < count % len(scenes)) for index in range(len(scenes))]
    seeds = np.random.SeedSequence(int(seed)).generate_state(len(scenes))
    parts = [render(scene, camera, share, int(scene_seed), sampling, progress, f"{description} of {scene.name}")
             for scene, share, scene_seed in zip(scenes, shares, seeds)]
    return tuple(np.concatenate(arrays) for arrays in zip(*parts))
