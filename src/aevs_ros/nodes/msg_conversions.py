"""geometry_msgs <-> the core's arrays: twists as (6,) [v, w], poses as 4x4 world_T_camera.

The one place the nodes (and the benchmarks that talk to them) spell out message fields;
poses are read with the core's single parser (core.se3.pose_from_list).
"""
from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Pose, Twist

from aevs_ros.core import se3


def twist_to_array(twist: Twist) -> np.ndarray:
    """(6,) [vx, vy, vz, wx, wy, wz] of a Twist, as it is (NaN included: callers judge it)."""
    return np.array([twist.linear.x, twist.linear.y, twist.linear.z,
                     twist.angular.x, twist.angular.y, twist.angular.z])


def array_to_twist(velocity) -> Twist:
    """A Twist of a (6,) [v, w] array."""
    twist = Twist()
    (twist.linear.x, twist.linear.y, twist.linear.z,
     twist.angular.x, twist.angular.y, twist.angular.z) = (float(v) for v in velocity)
    return twist


def pose_to_matrix(pose: Pose) -> np.ndarray:
    """The 4x4 pose of a Pose (ConfigurationError for a non-unit quaternion or NaN)."""
    p, q = pose.position, pose.orientation
    return se3.pose_from_list([p.x, p.y, p.z, q.x, q.y, q.z, q.w])


def matrix_to_pose(matrix: np.ndarray) -> Pose:
    """A Pose of a 4x4 pose."""
    x, y, z, qx, qy, qz, qw = se3.pose_to_list(matrix)
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = x, y, z
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = qx, qy, qz, qw
    return pose
