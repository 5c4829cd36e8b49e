"""The layers of aevs_ros import downwards only, and the ROS-free ones import no ROS.

core  <-  learning, robot  <-  graph (+ graph_processes, graph_picture), nodes  <-  bench  <-  commands  <-  cli
(resources, the shipped models, sits on core alone.)
Every import is read from the source with ast, relative ones resolved against the module's
package, including imports inside functions (a lazy import is still a dependency).
"""
import ast
from pathlib import Path

import pytest

import aevs_ros

PACKAGE = Path(aevs_ros.__file__).parent
_GRAPH = {'graph', 'graph_processes', 'graph_picture'}
_ABOVE_LEARNING = {'nodes', 'bench', 'commands', 'cli'}
#: each part of aevs_ros (a subpackage or a top-level module) and the parts it must never import
FORBIDDEN = {
    'core': {'learning', 'robot', 'resources', 'ros_domain'} | _GRAPH | _ABOVE_LEARNING,
    'learning': {'robot', 'ros_domain'} | _GRAPH | _ABOVE_LEARNING,
    'robot': {'learning', 'ros_domain'} | _GRAPH | _ABOVE_LEARNING,
    'resources': {'learning', 'robot'} | _GRAPH | _ABOVE_LEARNING,
    'graph': {'learning', 'robot', 'graph_processes', 'graph_picture'} | _ABOVE_LEARNING,
    'graph_processes': {'learning', 'robot'} | _ABOVE_LEARNING,
    'graph_picture': {'learning', 'robot'} | _ABOVE_LEARNING,
    'nodes': {'learning', 'graph_processes', 'graph_picture', 'bench', 'commands', 'cli'},
    'bench': {'commands', 'cli'},
    'commands': {'cli'},
}
#: parts that must run without ROS: no rclpy, launch or message packages
ROS_FREE = ('core', 'learning', 'robot')


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imported_modules(path: Path):
    """Every module ``path`` imports, absolute (``from . import x`` yields ``package.x``)."""
    name = module_name(path)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                module = '.'.join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            yield module
            yield from (f'{module}.{alias.name}' for alias in node.names)  # `from pkg import submodule`


def part(module: str) -> str | None:
    """The part of aevs_ros a module belongs to ('core', 'graph', ...), None outside aevs_ros."""
    names = module.split('.')
    if names[0] != 'aevs_ros' or len(names) < 2:
        return None
    return names[1]


def sources():
    return sorted(PACKAGE.rglob('*.py'))


def test_the_import_reader_resolves_relative_imports():
    features = PACKAGE / 'core' / 'features' / 'autoencoder.py'
    assert 'aevs_ros.core.network.model' in set(imported_modules(features))
    assert 'aevs_ros.core.features.base' in set(imported_modules(features))


@pytest.mark.parametrize('layer', sorted(FORBIDDEN))
def test_no_layer_imports_a_higher_one(layer):
    offenders = sorted({f'{path.relative_to(PACKAGE)}: {module}'
                        for path in sources() if part(module_name(path)) == layer
                        for module in imported_modules(path) if part(module) in FORBIDDEN[layer]})
    assert not offenders, offenders


@pytest.mark.parametrize('layer', ROS_FREE)
def test_ros_free_layers_import_no_ros(layer):
    paths = [path for path in sources() if part(module_name(path)) == layer]
    offenders = [f'{path.relative_to(PACKAGE)}: {module}' for path in paths for module in imported_modules(path)
                 if module.split('.')[0] in ('rclpy', 'launch', 'launch_ros', 'ament_index_python', 'tf2_ros')
                 or module.split('.')[0].endswith('_msgs')]
    assert not offenders, offenders
    assert paths


def test_every_part_has_rules():
    parts = {part(module_name(path)) for path in sources()} - {None}
    assert parts - set(FORBIDDEN) <= {'cli', 'ros_domain'}, parts - set(FORBIDDEN)
