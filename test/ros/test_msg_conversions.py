"""geometry_msgs <-> arrays: the one spelling of twist and pose fields."""
import numpy as np
import pytest
from geometry_msgs.msg import Pose, Twist

from aevs_ros.core import se3
from aevs_ros.core.errors import ConfigurationError
from aevs_ros.nodes.msg_conversions import array_to_twist, matrix_to_pose, pose_to_matrix, twist_to_array


def test_twists_keep_their_order_both_ways():
    velocity = np.array([0.1, -0.2, 0.3, -0.4, 0.5, -0.6])
    twist = array_to_twist(velocity)
    assert (twist.linear.x, twist.linear.z, twist.angular.x, twist.angular.z) == (0.1, 0.3, -0.4, -0.6)
    np.testing.assert_array_equal(twist_to_array(twist), velocity)
    assert np.isnan(twist_to_array(array_to_twist([np.nan] * 6))).all()  # judged by the receiver


def test_poses_round_trip_and_a_non_unit_quaternion_is_refused():
    pose = se3.look_at((0.1, -0.2, 0.6), (0.0, 0.05, 0.0), roll=0.3)
    np.testing.assert_allclose(pose_to_matrix(matrix_to_pose(pose)), pose, atol=1e-12)
    zero = Pose()
    zero.orientation.w = 0.0
    with pytest.raises(ConfigurationError, match='unit quaternion'):
        pose_to_matrix(zero)
    assert isinstance(array_to_twist(np.zeros(6)), Twist)
