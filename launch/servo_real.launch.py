"""The servo on a real robot: camera_node + gantry_driver (hardware backend) + servo_node.

    ros2 launch aevs_ros servo_real.launch.py params_file:=/path/my_robot.yaml method:=aevs

The same graph as `aevs launch real` (both read aevs_ros/graph.py). Adapt
config/gantry_real.yaml and config/camera.yaml to the robot first; set the goal with
`aevs set-goal` or the /servo_to_image action.
"""
import tempfile

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from aevs_ros import graph

GRAPH = 'real'


def generate_launch_description():
    arguments = [
        DeclareLaunchArgument('params_file', default_value='',
                              description=graph.LAUNCH_ARGUMENTS['params_file'][1]),
        DeclareLaunchArgument('method', default_value='', description=graph.LAUNCH_ARGUMENTS['method'][1]),
        DeclareLaunchArgument('model', default_value='', description=graph.LAUNCH_ARGUMENTS['model'][1]),
    ]
    names = [argument.name for argument in arguments]
    return LaunchDescription([*arguments, OpaqueFunction(function=make_nodes, args=[names])])


def make_nodes(context, names):
    options = {name: LaunchConfiguration(name).perform(context) for name in names}
    overrides = tempfile.mkdtemp(prefix='aevs_launch_')
    return [
        Node(package=spec.package, executable=spec.executable, name=spec.name, output='screen',
             parameters=[path for path in (*spec.parameter_files, spec.overrides_file(overrides)) if path],
             remappings=list(spec.remappings))
        for spec in graph.build_graph(GRAPH, **options)
    ]
