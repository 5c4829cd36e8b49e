"""The gantry driver's flat parameter values (config/gantry.yaml) -> the kinematic model and the
safety settings, live updates of the tunable ones, and a simulated gantry's start joints.

Poses are ``[x, y, z, qx, qy, qz, qw]`` lists (core.se3.pose_from_list); every problem raises
ConfigurationError with the reason. No ROS: the node hands over plain values.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping

import numpy as np

from aevs_ros.core.errors import ConfigurationError
from aevs_ros.core.se3 import pose_from_list

from .gantry import N_JOINTS, GantryModel
from .safety import JointLimits, SafetyConfig, WorkspaceBox, finite_vector


def config_from_parameters(values: Mapping) -> tuple[GantryModel, SafetyConfig]:
    """The model and safety settings from the driver's parameter values (see config/gantry.yaml).

    Poses are ``[x, y, z, qx, qy, qz, qw]`` lists; raises ConfigurationError with the reason.
    """
    model = GantryModel(
        wrist_axes=values['wrist_axes'],
        wrist_mount=pose_from_list(values['wrist_mount'], 'wrist_mount'),
        flange=pose_from_list(values['flange'], 'flange'),
        tool_T_camera=pose_from_list(values['tool_T_camera'], 'tool_T_camera'),
        world_T_base=pose_from_list(values['world_T_base'], 'world_T_base'),
        joint_names=tuple(values['joint_names']))
    limits = JointLimits(values['position_min'], values['position_max'],
                         values['max_velocity'], values['max_acceleration'])
    safety = SafetyConfig(
        limits=limits,
        workspace=WorkspaceBox(values['workspace_min'], values['workspace_max']),
        command_timeout=float(values['command_timeout']),
        singularity_slowdown=float(values['singularity_slowdown']),
        singularity_halt=float(values['singularity_halt']),
        max_damping=float(values['max_damping']))
    return model, safety


def initial_joint_positions(model: GantryModel, safety: SafetyConfig,
                            joint_positions=(), camera_pose=()) -> np.ndarray:
    """Start positions of a simulated gantry: the joint positions if given, else IK of the pose.

    Refuses (ConfigurationError) a start outside the joint limits or the workspace box.
    """
    limits = safety.limits
    if len(joint_positions):
        q = finite_vector(joint_positions, N_JOINTS, 'initial_joint_positions').copy()
        if np.any(q < limits.position_min) or np.any(q > limits.position_max):
            raise ConfigurationError(f'initial_joint_positions {q.tolist()} are outside the '
                                     'joint limits')
    else:
        q = model.inverse_kinematics(pose_from_list(camera_pose, 'initial_camera_pose'),
                                     limits.position_min, limits.position_max)
    position = model.world_T_camera(q)[:3, 3]
    if not safety.workspace.contains(position, 1e-9):
        raise ConfigurationError(
            f'the initial camera position {np.round(position, 4).tolist()} is outside the '
            f'workspace box {safety.workspace.minimum.tolist()}..{safety.workspace.maximum.tolist()}')
    return q


def with_live_values(safety: SafetyConfig, values: Mapping) -> SafetyConfig:
    """``safety`` with the live-tunable settings in ``values`` replaced (validated)."""
    limits = safety.limits
    limit_names = {'position_min': 'position_min', 'position_max': 'position_max',
                   'max_velocity': 'velocity', 'max_acceleration': 'acceleration'}
    limit_changes = {field_name: values[name] for name, field_name in limit_names.items()
                     if name in values}
    if limit_changes:
        limits = replace(limits, **limit_changes)
    workspace = safety.workspace
    if 'workspace_min' in values or 'workspace_max' in values:
        workspace = WorkspaceBox(values.get('workspace_min', workspace.minimum),
                                 values.get('workspace_max', workspace.maximum))
    scalars = {name: float(values[name]) for name in
               ('command_timeout', 'singularity_slowdown', 'singularity_halt', 'max_damping')
               if name in values}
    return replace(safety, limits=limits, workspace=workspace, **scalars)
