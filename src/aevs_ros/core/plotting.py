"""Figures of a servo run: trajectory, pose and feature errors, images and differences."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .simulator import SimResult


def _figure_module():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def per_axis_errors(result: SimResult) -> np.ndarray:
    """(n, 6): goal-frame translation [mm] and rotation-vector [deg] of every pose."""
    from scipy.spatial.transform import Rotation

    from .se3 import inverse

    goal_inv = inverse(result.goal_pose)
    rows = []
    for pose in result.poses:
        relative = goal_inv @ pose
        rows.append(np.concatenate([relative[:3, 3] * 1000,
                                    np.degrees(Rotation.from_matrix(relative[:3, :3]).as_rotvec())]))
    return np.array(rows)


def plot_servo_run(result: SimResult, path: str | Path, title: str = "") -> Path:
    """One PNG: 3-D camera path, per-axis pose error, feature error, start/goal/final images."""
    plt = _figure_module()
    fig = plt.figure(figsize=(15, 8.5))
    grid = fig.add_gridspec(2, 5, height_ratios=[1.1, 1.0])

    path_ax = fig.add_subplot(grid[0, 0:2], projection="3d")
    positions = np.array([pose[:3, 3] for pose in result.poses])
    path_ax.plot(*positions.T, color="tab:blue", label="camera path")
    path_ax.scatter(*positions[0], color="tab:red", label="start")
    path_ax.scatter(*result.goal_pose[:3, 3], color="tab:green", marker="*", s=120, label="goal")
    path_ax.set_xlabel("X [m]"), path_ax.set_ylabel("Y [m]"), path_ax.set_zlabel("Z [m]")
    path_ax.set_title("camera trajectory (world frame)")
    path_ax.legend(loc="upper left", fontsize=8)

    errors = per_axis_errors(result)
    trans_ax = fig.add_subplot(grid[0, 2])
    rot_ax = fig.add_subplot(grid[0, 3])
    for axis, name in enumerate("xyz"):
        trans_ax.plot(errors[:, axis], label=f"t{name}")
        rot_ax.plot(errors[:, 3 + axis], label=f"θ{name}")
    trans_ax.set_title("translation error [mm] (goal frame)")
    rot_ax.set_title("rotation error [deg] (goal frame)")
    for ax in (trans_ax, rot_ax):
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("iteration")
        ax.legend(fontsize=8)

    feature_ax = fig.add_subplot(grid[0, 4])
    if result.feature_errors:
        feature_ax.semilogy(np.maximum(result.feature_errors, 1e-12))
    feature_ax.set_title(f"feature error ‖s - s*‖ ({result.method})")
    feature_ax.set_xlabel("iteration")

    panels = [("start", result.start_image), ("goal", result.goal_image), ("final", result.final_image)]
    for column, (name, image) in enumerate(panels):
        ax = fig.add_subplot(grid[1, column])
        if image is not None:
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{name} image")
        ax.axis("off")
    for column, (name, image) in enumerate([("start - goal", result.start_image),
                                            ("final - goal", result.final_image)], start=3):
        ax = fig.add_subplot(grid[1, column])
        if image is not None and result.goal_image is not None:
            ax.imshow(image - result.goal_image, cmap="seismic", vmin=-1, vmax=1)
        ax.set_title(name)
        ax.axis("off")

    start_t, start_r = result.start_error
    final_t, final_r = result.final_error
    fig.suptitle(title or (f"{result.method}: {result.stop_reason} after {result.iterations} iterations - "
                           f"error {start_t * 100:.1f} cm / {start_r:.1f}° → "
                           f"{final_t * 1000:.4f} mm / {final_r:.4f}°"))
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
