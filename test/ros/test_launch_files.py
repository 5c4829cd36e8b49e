"""Launch files and graph.py: everything they name exists, and overrides win over the presets.

Always run: the launch files are parsed with ast (the `launch` package is not on PyPI), the
graphs' executables must be console scripts of setup.py, their parameter files must exist and
be ROS parameter files, and `aevs launch` resolves executables the way `ros2 run` does.
With `launch` importable and aevs_ros installed by colcon, servo_sim.launch.py is run for real:
its exit status follows the outcome, keep_running keeps the graph up, and no temporary file
is left behind.
"""
import ast
import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import rclpy
import yaml
from rclpy.context import Context

from aevs_ros import graph
from aevs_ros import graph_processes
from aevs_ros.commands import launch as launch_command

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))
NODE_PARAMETERS = {'sim_scenario': ['json_path', 'timeout', 'exit_when_done'], 'servo_node': ['method'],
                   'gantry_driver': ['backend', 'initial_camera_pose'], 'planar_renderer': ['scene_path']}


def console_scripts():
    text = (ROOT / 'setup.py').read_text()
    return dict(re.findall(r"'(\w+) = ([\w.:]+)'", text))


def graph_of(path):
    """The GRAPH constant of a launch file."""
    tree = ast.parse(path.read_text())
    return next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                and getattr(node.targets[0], 'id', '') == 'GRAPH')


def test_there_is_a_launch_file_per_graph_installed_by_setup_py():
    assert sorted(graph_of(path) for path in LAUNCH_FILES) == sorted(graph.GRAPHS)
    assert "'launch/*.launch.py'" in (ROOT / 'setup.py').read_text()
    assert all(fnmatch.fnmatch(f'launch/{path.name}', 'launch/*.launch.py') for path in LAUNCH_FILES)


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda path: path.name)
def test_launch_file_returns_its_graph_description(path):
    text = path.read_text()
    assert 'graph.launch_description(GRAPH)' in text
    assert all(f' {name}' in text for name in graph.GRAPH_ARGUMENTS[graph_of(path)]), 'documented arguments'


@pytest.mark.parametrize('name', graph.GRAPHS)
def test_graph_arguments_are_build_graph_options(name):
    names = graph.GRAPH_ARGUMENTS[name]
    assert len(names) == len(set(names)) and set(names) <= set(graph.LAUNCH_ARGUMENTS)
    assert {'params_file', 'method', 'model'} <= set(names)
    graph.build_graph(name, **{argument: '' for argument in names})


@pytest.mark.parametrize('name', graph.GRAPHS)
def test_graph_executables_and_parameter_files_exist(name):
    scripts = console_scripts()
    for spec in graph.build_graph(name):
        assert spec.package == 'aevs_ros'
        assert spec.executable in scripts, f'{spec.executable} is not a console script of setup.py'
        module, function = scripts[spec.executable].split(':')
        assert importlib.util.find_spec(module) is not None, module
        for path in spec.parameter_files:
            data = yaml.safe_load(Path(path).read_text())
            assert data and all('ros__parameters' in section for section in data.values()), path
        assert graph_processes.resolve_executable(spec.package, spec.executable)


def test_config_files_of_the_graphs_are_ros_parameter_files():
    paths = {Path(path) for name in graph.GRAPHS for spec in graph.build_graph(name)
             for path in spec.parameter_files}
    assert {path.name for path in paths} >= {'servo.yaml', 'renderer.yaml', 'sim.yaml', 'real.yaml'}
    for path in sorted(paths):
        data = yaml.safe_load(path.read_text())
        assert isinstance(data, dict) and data, path
        for key, section in data.items():
            assert isinstance(section, dict) and set(section) == {'ros__parameters'}, f'{path.name}: {key}'


def test_sim_start_pose_is_the_goal_moved_by_the_offset():
    from aevs_ros.core import se3

    specs = {spec.executable: spec for spec in graph.build_graph('sim')}
    scenario = graph.preset_parameters(graph.config_file('sim.yaml'), 'sim_scenario')
    start = se3.pose_from_list(specs['gantry_driver'].parameters['initial_camera_pose'])
    goal = se3.pose_from_list(scenario['goal_pose'])
    translation, rotation = se3.pose_error(start, goal)
    assert 0.04 < translation < 0.06 and 4.0 < rotation < 6.0  # the issue's ~5 cm and 5 deg
    assert specs['gantry_driver'].parameters['backend'] == 'sim'
    assert specs['sim_scenario'].ends_graph


def test_overrides_win_over_the_presets(tmp_path):
    """What a node sees with the arguments `aevs launch` gives it, and the launch files."""
    scene = tmp_path / 'scene.png'
    scene.write_bytes(b'')  # build_graph only checks that it exists
    specs = graph.build_graph('sim', method='dct', scene=str(scene), json=str(tmp_path / 'o.json'),
                              timeout=5.0, keep_running=True)
    for spec in specs:
        for arguments in (spec.ros_arguments(), launch_file_arguments(spec)):
            context = Context()
            rclpy.init(args=['node', *arguments], context=context)
            try:
                node = rclpy.create_node('unnamed', context=context)
                for parameter in NODE_PARAMETERS[spec.executable]:
                    node.declare_parameter(parameter, graph.preset_parameters(spec.parameter_files[-1], spec.name)
                                           .get(parameter, _default(parameter)))
                    value = node.get_parameter(parameter).value
                    if parameter in spec.parameters:
                        expected = spec.parameters[parameter]
                        assert list(value) == expected if isinstance(expected, list) else value == expected, \
                            (spec.name, parameter, value)
                assert node.get_name() == spec.name
                node.destroy_node()
            finally:
                context.try_shutdown()


def _default(parameter):
    return {'json_path': '', 'timeout': 1.0, 'exit_when_done': True, 'method': '', 'backend': '',
            'initial_camera_pose': [0.0] * 7, 'scene_path': ''}[parameter]


def launch_file_arguments(spec):
    """The arguments launch_ros builds from Node(name=..., ros_arguments=...): the
    ros_arguments first, then its own --ros-args with the node name."""
    return ['--ros-args', *spec.parameter_arguments(), '--ros-args', '-r', f'__node:={spec.name}']


def test_both_readers_give_a_node_the_same_parameter_arguments():
    """Files first, then the overrides (later arguments win), in `aevs launch` and the launch files."""
    for spec in [*graph.build_graph('real'), *graph.build_graph('sim', json='/tmp/o.json', timeout=3.0)]:
        arguments = spec.parameter_arguments()
        assert spec.ros_arguments() == ['--ros-args', '-r', f'__node:={spec.name}', *arguments]
        flags, values = arguments[0::2], arguments[1::2]
        assert flags == ['--params-file'] * len(spec.parameter_files) + ['-p'] * len(spec.parameters)
        assert values[:len(spec.parameter_files)] == list(spec.parameter_files)


def test_keep_running_is_a_sim_launch_flag():
    assert 'keep_running' in graph.GRAPH_ARGUMENTS['sim'] and 'keep_running' not in graph.GRAPH_ARGUMENTS['real']
    assert graph.LAUNCH_ARGUMENTS['keep_running'][0] == 'false' and 'keep_running' in graph.FLAG_ARGUMENTS
    ending = {spec.name: spec.ends_graph for spec in graph.build_graph('sim', keep_running=True)}
    assert not any(ending.values())
    scenario = next(spec for spec in graph.build_graph('sim', keep_running=True) if spec.name == 'sim_scenario')
    assert scenario.parameters['exit_when_done'] is False


def test_parameter_files_with_namespaces_and_parameter_groups_are_accepted(tmp_path):
    """read_parameter_file rejects what is not a parameter file, not the nesting ROS allows."""
    path = tmp_path / 'nested.yaml'
    path.write_text('robot1:\n  servo_node:\n    ros__parameters:\n      limits: {linear: 0.1, angular: 0.2}\n'
                    '/**:\n  ros__parameters:\n    use_sim_time: false\n')
    data = graph.read_parameter_file(path)
    assert data['robot1']['servo_node']['ros__parameters']['limits'] == {'linear': 0.1, 'angular': 0.2}
    for name in ('sim.yaml', 'real.yaml', *graph.NODE_CONFIG.values(), *graph.REAL_NODE_CONFIG.values()):
        graph.read_parameter_file(graph.config_file(name))


def test_parameter_text_keeps_types():
    assert graph.parameter_text(1.0) == '1.0' and graph.parameter_text(2) == '2'
    assert graph.parameter_text(True) == 'true' and graph.parameter_text('') == '""'
    assert graph.parameter_text([0.0, 1]) == '[0.0,1]'


def test_executables_are_found_where_ros2_run_looks_first(tmp_path, monkeypatch):
    fake = tmp_path / 'lib' / 'aevs_ros' / 'servo_node'
    fake.parent.mkdir(parents=True)
    fake.write_text('#!/bin/sh\n')
    fake.chmod(0o755)
    monkeypatch.setenv('AMENT_PREFIX_PATH', f"{tmp_path}{os.pathsep}{os.environ.get('AMENT_PREFIX_PATH', '')}")
    assert graph_processes.resolve_executable('aevs_ros', 'servo_node') == [str(fake)]
    assert graph_processes.resolve_executable('aevs_ros', 'sim_scenario')  # venv bin or python -m
    with pytest.raises(FileNotFoundError, match='no_such_node'):
        graph_processes.resolve_executable('aevs_ros', 'no_such_node')


def test_cli_choices_match_the_graph():
    assert launch_command.GRAPHS == graph.GRAPHS


def test_aevs_launch_print_and_graph_png(tmp_path, capsys):
    from aevs_ros.cli import main

    assert main(['launch', 'sim', '--print', '--method', 'dct']) == 0
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 4 and any('servo_node:method:="dct"' in line for line in printed)
    assert main(['launch', 'real', '--graph-png', str(tmp_path / 'real.png')]) == 0
    assert main(['launch', 'sim', '--graph-png', str(tmp_path / 'sim.png')]) == 0
    assert (tmp_path / 'sim.png').read_bytes()[:4] == b'\x89PNG'
    assert main(['launch', 'sim', '--params', str(tmp_path / 'missing.yaml')]) == 2


def _launch_with_colcon_install():
    """Why the servo_sim.launch.py run must be skipped, or None."""
    if importlib.util.find_spec('launch') is None or importlib.util.find_spec('launch_ros') is None:
        return 'ROS 2 `launch` / `launch_ros` are not installed (not on PyPI); run on a ROS 2 install'
    try:
        from ament_index_python.packages import get_package_prefix
        prefix = get_package_prefix('aevs_ros')
    except Exception as exc:  # noqa: BLE001 - any lookup failure means: not installed for launch_ros
        return f'aevs_ros is not in the ament index ({exc})'
    if not Path(prefix, 'lib', 'aevs_ros', 'servo_node').is_file():
        return f'no {prefix}/lib/aevs_ros/servo_node: build aevs_ros with colcon for launch_ros to find it'
    return None


needs_launch = pytest.mark.skipif(_launch_with_colcon_install() is not None,
                                  reason=str(_launch_with_colcon_install()))
SIM_NODES = {'planar_renderer', 'gantry_driver', 'servo_node', 'sim_scenario'}
LAUNCH_TIMEOUT_S = 120.0


def failing_preset(tmp_path):
    """config/sim.yaml where the start (4.7 cm off) is already beyond ``max_distance``: the
    scenario reports "diverged" (exit code 1) as soon as the goal is set. A short ``timeout``
    would do too, but on a busy machine it can expire before the first camera pose (exit 2)."""
    data = yaml.safe_load(graph.config_file('sim.yaml').read_text())
    data['sim_scenario']['ros__parameters']['max_distance'] = 0.001
    path = tmp_path / 'too_far.yaml'
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """A temporary folder for this test alone: every temporary file the launch makes lands
    there (tempfile.tempdir, TMPDIR for `ros2 launch`), and it must be empty afterwards."""
    folder = tmp_path / 'tmp'
    folder.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(folder))
    monkeypatch.setenv('TMPDIR', str(folder))
    yield folder
    assert sorted(path.name for path in folder.iterdir()) == [], 'temporary files left behind'


def run_sim_launch(arguments, while_running=None):
    """servo_sim.launch.py run by launch's LaunchService in this process, as `ros2 launch` runs
    it; returns what run() returns, which is `ros2 launch`'s exit status.
    ``while_running(service)`` runs in a thread meanwhile."""
    from launch import LaunchService
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    service = LaunchService(argv=[])
    service.include_launch_description(IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(ROOT / 'launch' / 'servo_sim.launch.py')),
        launch_arguments=arguments.items()))
    timed_out = threading.Event()
    timer = threading.Timer(LAUNCH_TIMEOUT_S, lambda: (timed_out.set(), service.shutdown()))
    timer.start()
    helper = threading.Thread(target=while_running, args=(service,), daemon=True) if while_running else None
    if helper:
        helper.start()
    try:
        code = service.run()
    finally:
        timer.cancel()
    if helper:
        helper.join(10.0)
    assert not timed_out.is_set(), f'the launch did not end within {LAUNCH_TIMEOUT_S:g} s'
    return code


@pytest.mark.slow
@needs_launch
def test_servo_sim_launch_file_converges(ros_domain_id, tmp_path, private_tmp):
    out = tmp_path / 'sim.json'
    assert run_sim_launch({'json': str(out)}) == 0
    outcome = json.loads(out.read_text())
    assert outcome['converged'] and outcome['final_translation_error_m'] < 1e-3
    assert outcome['final_rotation_error_deg'] < 0.1


@pytest.mark.slow
@needs_launch
@pytest.mark.parametrize('runner', ['LaunchService', 'ros2 launch'])
def test_servo_sim_launch_fails_when_the_scenario_does_not_converge(runner, ros_domain_id, tmp_path,
                                                                    private_tmp):
    out = tmp_path / 'sim.json'
    arguments = {'params_file': str(failing_preset(tmp_path)), 'json': str(out)}
    if runner == 'LaunchService':
        code = run_sim_launch(arguments)
    else:
        if importlib.util.find_spec('ros2launch') is None or shutil.which('ros2') is None:
            pytest.skip('the `ros2` command with its launch verb (ros2cli, ros2launch) is not installed')
        result = subprocess.run(['ros2', 'launch', 'aevs_ros', 'servo_sim.launch.py',
                                 *(f'{name}:={value}' for name, value in arguments.items())],
                                capture_output=True, text=True, timeout=LAUNCH_TIMEOUT_S)
        code, output = result.returncode, result.stdout + result.stderr
        assert 'sim_scenario finished with exit code 1' in output, output
    assert code == 1
    outcome = json.loads(out.read_text())
    assert not outcome['converged'] and outcome['stop_reason'].startswith('diverged')


@pytest.mark.slow
@needs_launch
def test_keep_running_keeps_the_sim_graph_up_after_the_outcome(ros_context, tmp_path, private_tmp):
    out = tmp_path / 'sim.json'
    seen_after_outcome = set()
    probe = rclpy.create_node('launch_probe', context=ros_context)

    def after_the_outcome(service):
        try:
            deadline = time.monotonic() + LAUNCH_TIMEOUT_S - 20
            while not out.is_file() and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(3.0)  # without keep_running the graph would be torn down by now
            end = time.monotonic() + 10.0
            while time.monotonic() < end and not SIM_NODES <= seen_after_outcome:
                seen_after_outcome.update(probe.get_node_names())
                time.sleep(0.2)
        finally:
            service.shutdown()

    try:
        code = run_sim_launch({'json': str(out), 'keep_running': 'true'}, after_the_outcome)
    finally:
        probe.destroy_node()
    assert json.loads(out.read_text())['converged']
    assert SIM_NODES <= seen_after_outcome, seen_after_outcome
    assert code == 0  # stopped by a shutdown request, as Ctrl-C does
