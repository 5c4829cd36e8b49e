"""The simulated servo: planar_renderer + gantry_driver (sim) + servo_node + sim_scenario.

    ros2 launch aevs_ros servo_sim.launch.py method:=aevs json:=/tmp/sim.json

The same graph as `aevs launch sim` (both read aevs_ros/graph.py): sim_scenario sets the goal,
waits for convergence, reports the outcome (and writes it to `json`), and its exit ends the
launch.
"""
import tempfile

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, Shutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from aevs_ros import graph

GRAPH = 'sim'


def generate_launch_description():
    arguments = [
        DeclareLaunchArgument('params_file', default_value='',
                              description=graph.LAUNCH_ARGUMENTS['params_file'][1]),
        DeclareLaunchArgument('method', default_value='', description=graph.LAUNCH_ARGUMENTS['method'][1]),
        DeclareLaunchArgument('model', default_value='', description=graph.LAUNCH_ARGUMENTS['model'][1]),
        DeclareLaunchArgument('scene', default_value='', description=graph.LAUNCH_ARGUMENTS['scene'][1]),
        DeclareLaunchArgument('json', default_value='', description=graph.LAUNCH_ARGUMENTS['json'][1]),
    ]
    names = [argument.name for argument in arguments]
    return LaunchDescription([*arguments, OpaqueFunction(function=make_nodes, args=[names])])


def make_nodes(context, names):
    options = {name: LaunchConfiguration(name).perform(context) for name in names}
    overrides = tempfile.mkdtemp(prefix='aevs_launch_')
    return [
        Node(package=spec.package, executable=spec.executable, name=spec.name, output='screen',
             parameters=[path for path in (*spec.parameter_files, spec.overrides_file(overrides)) if path],
             remappings=list(spec.remappings),
             on_exit=Shutdown(reason=f'{spec.name} finished') if spec.ends_graph else None)
        for spec in graph.build_graph(GRAPH, **options)
    ]
