"""The simulated servo: planar_renderer + gantry_driver (sim) + servo_node + sim_scenario.

    ros2 launch aevs_ros servo_sim.launch.py method:=aevs json:=/tmp/sim.json
    ros2 launch aevs_ros servo_sim.launch.py keep_running:=true   # stay up after the outcome

Arguments: params_file, method, model, scene, json, keep_running (see `ros2 launch ...
--show-args`). The graph is described once, in aevs_ros/graph.py, which `aevs launch sim`
reads too: sim_scenario sets the goal, waits for convergence, reports the outcome (and writes
it to `json`), and its exit ends the launch. The exit status is 0 when the scenario converged
and 1 otherwise (launch reports every failure as 1), or when any node dies on its own.
"""
from aevs_ros import graph

GRAPH = 'sim'


def generate_launch_description():
    return graph.launch_description(GRAPH)
