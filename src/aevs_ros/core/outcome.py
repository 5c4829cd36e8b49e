"""The JSON outcome that every command reporting a servo run writes (one schema for all)."""
from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import numpy as np

from . import se3

#: A run counts as converged when the servo stopped at the goal within these (ground truth).
CONVERGED_TRANSLATION_M = 0.01
CONVERGED_ROTATION_DEG = 1.0


class StopReason(Enum):
    """Why a servo run ended (the outcome's ``stop``), next to the free text ``stop_reason``."""

    CONVERGED = "converged"  #: the servo declared convergence
    BUDGET_EXHAUSTED = "budget_exhausted"  #: the iteration budget or the time limit ran out
    OUT_OF_VIEW = "out_of_view"  #: too little of the scene in view
    DIVERGING = "diverging"  #: the servo faulted: its feature error kept growing
    TOO_FAR = "too_far"  #: the camera went too far from the goal
    STALLED = "stalled"  #: neither the error nor the camera moved: a local minimum
    FAULT = "fault"  #: the servo faulted for another reason
    ERROR = "error"  #: the run could not be simulated at all


def servo_outcome(method: str, start_pose: np.ndarray, final_pose: np.ndarray, goal_pose: np.ndarray,
                  iterations: int, wall_time_s: float, servo_converged: bool, stop_reason: str,
                  stop: StopReason, **extra) -> dict:
    """Outcome of one servo run, judged against the ground-truth goal pose.

    ``converged`` needs both the servo's own verdict and a final error under
    CONVERGED_TRANSLATION_M / CONVERGED_ROTATION_DEG.
    """
    start_t, start_r = se3.pose_error(start_pose, goal_pose)
    final_t, final_r = se3.pose_error(final_pose, goal_pose)
    converged = bool(servo_converged and final_t < CONVERGED_TRANSLATION_M
                     and final_r < CONVERGED_ROTATION_DEG)
    outcome = {
        "method": method,
        "converged": converged,
        "iterations": int(iterations),
        "wall_time_s": float(wall_time_s),
        "start_translation_error_m": start_t,
        "start_rotation_error_deg": start_r,
        "final_translation_error_m": final_t,
        "final_rotation_error_deg": final_r,
        "stop_reason": stop_reason,
        "stop": StopReason(stop).value,
    }
    outcome.update(extra)
    return outcome


def outcome_from_simulation(result) -> dict:
    """Outcome of a core ``simulator.SimResult``."""
    return servo_outcome(result.method, result.poses[0], result.poses[-1], result.goal_pose,
                         result.iterations, result.wall_time_s, result.servo_converged,
                         result.stop_reason, result.stop)


def write_json(data: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def format_outcome(outcome: dict) -> str:
    """One human-readable block for the terminal."""
    verdict = "CONVERGED" if outcome["converged"] else "NOT converged"
    return (f"{outcome['method']}: {verdict} after {outcome['iterations']} iterations "
            f"({outcome['wall_time_s']:.2f} s) - {outcome['stop_reason']}\n"
            f"  start error: {outcome['start_translation_error_m'] * 100:.2f} cm, "
            f"{outcome['start_rotation_error_deg']:.2f} deg\n"
            f"  final error: {outcome['final_translation_error_m'] * 1000:.4f} mm, "
            f"{outcome['final_rotation_error_deg']:.4f} deg")
