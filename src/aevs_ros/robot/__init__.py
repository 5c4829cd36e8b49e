"""The gantry without ROS: kinematics (gantry), limits, watchdog and control step (safety), and
the driver's parameter values turned into those (parameters).

The gantry_driver node only adapts these to topics, services and parameters.
"""
from .gantry import DEFAULT_JOINT_NAMES, N_JOINTS, GantryModel, WristConditioning, damped_solve
from .parameters import config_from_parameters, initial_joint_positions, with_live_values
from .safety import (CommandWatchdog, GantryController, GantryStatus, JointLimits, SafetyConfig,
                     StepResult, WorkspaceBox)

__all__ = [
    'DEFAULT_JOINT_NAMES', 'N_JOINTS', 'GantryModel', 'WristConditioning', 'damped_solve',
    'CommandWatchdog', 'GantryController', 'GantryStatus',
    'JointLimits', 'SafetyConfig', 'StepResult', 'WorkspaceBox', 'config_from_parameters',
    'initial_joint_positions', 'with_live_values',
]
