"""The simulated servo: planar_renderer + gantry_driver (sim) + servo_node + sim_scenario.

    ros2 launch aevs_ros servo_sim.launch.py method:=aevs json:=/tmp/sim.json

Arguments: params_file, method, model, scene, json (see `ros2 launch ... --show-args`).
The graph is described once, in aevs_ros/graph.py, which `aevs launch sim` reads too:
sim_scenario sets the goal, waits for convergence, reports the outcome (and writes it to
`json`), and its exit ends the launch.
"""
from aevs_ros import graph

GRAPH = 'sim'


def generate_launch_description():
    return graph.launch_description(GRAPH)
