"""ROS-free numerical core of aevs_ros: cameras, poses, rendering, features, control.

Nothing under this package imports rclpy or ROS message packages, so it can be used and
tested without a ROS installation.
"""
