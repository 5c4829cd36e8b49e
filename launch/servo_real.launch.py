"""The servo on a real robot: camera_node + gantry_driver (hardware backend) + servo_node.

    ros2 launch aevs_ros servo_real.launch.py params_file:=/path/my_robot.yaml method:=aevs

Arguments: params_file, method, model (see `ros2 launch ... --show-args`). The graph is
described once, in aevs_ros/graph.py, which `aevs launch real` reads too. Adapt
config/gantry_real.yaml and config/camera.yaml to the robot first; set the goal with
`aevs set-goal` or the /servo_to_image action. It runs until Ctrl-C (exit status 0); a node
that dies on its own stops the graph with exit status 1.
"""
from aevs_ros import graph

GRAPH = 'real'


def generate_launch_description():
    return graph.launch_description(GRAPH)
