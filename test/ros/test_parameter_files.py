"""config/<node>.yaml says what the node's parameter table says: one source for each default.

The tables (nodes/*.py PARAMETERS, servo_node's from core.servo.ServoConfig) are the source;
each node's own file must name only declared parameters and give each its table default, so a
user reading the YAML is not misled. The real graph's files (camera.yaml, gantry_real.yaml)
describe an example camera and robot to adapt: they must name declared parameters only.
"""
import importlib

import pytest

from aevs_ros import graph
from aevs_ros.core.servo import ServoConfig

#: the files that hold a node's defaults (sim_scenario reads the renderer's, camera.yaml is the real graph's)
OWN_FILES = {node: file for node, file in graph.NODE_CONFIG.items() if node not in ('sim_scenario', 'camera_node')}
EXAMPLE_FILES = {'camera_node': 'camera.yaml', 'gantry_driver': 'gantry_real.yaml'}


def table(node: str) -> dict:
    module = importlib.import_module(f'aevs_ros.nodes.{node}')
    return {param.name: param.default for param in module.PARAMETERS}


def file_values(name: str, node: str) -> dict:
    return graph.node_parameters(graph.read_parameter_file(graph.config_file(name)), node)


@pytest.mark.parametrize('node, name', sorted(OWN_FILES.items()))
def test_a_node_file_gives_every_parameter_its_table_default(node, name):
    defaults, values = table(node), file_values(name, node)
    assert not set(values) - set(defaults), f'{name} sets parameters {node} does not declare'
    differing = {key: (value, defaults[key]) for key, value in values.items()
                 if not _same(value, defaults[key])}
    assert not differing, f'{name} (file, table): {differing}'


@pytest.mark.parametrize('node, name', sorted(EXAMPLE_FILES.items()))
def test_the_real_graph_files_name_only_declared_parameters(node, name):
    assert not set(file_values(name, node)) - set(table(node))


def test_servo_node_takes_the_servo_law_defaults_from_servo_config():
    defaults = table('servo_node')
    for name, value in vars(ServoConfig()).items():
        assert _same(defaults[name], getattr(value, 'value', value)), name


@pytest.mark.parametrize('preset', sorted(graph.DEFAULT_PRESET.values()))
def test_presets_name_only_declared_parameters(preset):
    sections = graph.read_parameter_file(graph.config_file(preset))
    for node in sorted(set(graph.NODE_CONFIG) | {'camera_node'}):
        own = {key: value for key, value in ((sections.get(node) or {}).get('ros__parameters') or {}).items()}
        assert not set(own) - set(table(node)), f'{preset}: {node}'


def _same(a, b) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b
