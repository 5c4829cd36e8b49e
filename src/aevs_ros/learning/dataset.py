"""Training views of a planar scene, drawn as in the paper (Sec. IV-A, Fig. 2).

A focus point is drawn near the scene centre, a camera position in a box above the
scene; the optical axis points at the focus point and the camera is rolled about it
at random. The defaults cover the two test sets of the paper: look-at starts (goal
(0, 0, 0.6) + [-0.6, 0.6] x [-0.6, 0.6] x [-0.15, 0.15] m, looking at the centre
+- 10 cm) and screw-motion starts (0.3-0.9 m high, any roll).

Views are kept as uint8 (N, h, w) arrays: 20k views of 128x128 take 330 MB. Several
scenes share the count equally (scene_views), each from its own seed.
"""

from __future__ import annotations

import numpy as np
from tqdm import tqdm

from aevs_ros.core import se3
from aevs_ros.core.camera import PinholeCamera
from aevs_ros.core.errors import SceneError
from aevs_ros.core import scene_catalog
from aevs_ros.core.scene import PlanarScene
from aevs_ros.learning.config import TrainConfig, ViewSampling

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
    if len(scenes) == 1:
        return render_views(scenes[0], camera, count, seed, sampling, progress, description)
    if count < len(scenes):
        raise SceneError(f"{count} views cannot cover {len(scenes)} scenes")
    shares = [count // len(scenes) + (index < count % len(scenes)) for index in range(len(scenes))]
    seeds = np.random.SeedSequence(int(seed)).generate_state(len(scenes))
    parts = [render_views(scene, camera, share, int(scene_seed), sampling, progress,
                          f"{description} of {scene.name}")
             for scene, share, scene_seed in zip(scenes, shares, seeds)]
    return np.concatenate([images for images, _ in parts]), np.concatenate([poses for _, poses in parts])
