"""The node graphs of aevs_ros, described once.

Two readers: ``launch/servo_sim.launch.py`` / ``launch/servo_real.launch.py`` (the standard
``launch_ros`` API, for ``ros2 launch`` on a ROS 2 install) and ``aevs launch`` (node
processes, where ``launch`` is absent). Both get the same list of :class:`NodeSpec` from
:func:`build_graph`, so the graphs cannot drift apart.

- ``sim``: planar_renderer (synthetic camera) + gantry_driver (sim backend, started at the
  scenario's start pose) + servo_node + sim_scenario (sets the goal, reports the outcome).
- ``real``: camera_node + gantry_driver (hardware backend, from config) + servo_node.

Running the nodes as processes is graph_processes.py's, drawing them graph_picture.py's.

Every node reads its own ``config/<node>.yaml`` and then the scenario preset
(``config/sim.yaml`` or ``config/real.yaml``, or the ``params_file`` given), whose values win;
the options of :data:`LAUNCH_ARGUMENTS` are applied last, as parameter overrides. Both readers
give a node the same ``--ros-args`` (:meth:`NodeSpec.parameter_arguments`), so no temporary
parameter file is written. A preset that cannot be used (not YAML, sections that are not
mappings, no ``goal_pose``) raises ``ValueError`` naming the file and the key.
"""
from __future__ import annotations

import json as _json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from .core import scene_catalog, se3
from .core.features.registry import FEATURE_FAMILIES, LEARNED_FAMILIES

PACKAGE = 'aevs_ros'
GRAPHS = ('sim', 'real')

#: Arguments of both launch files and options of `aevs launch`: name -> (default, description).
LAUNCH_ARGUMENTS = {
    'params_file': ('', 'scenario preset, a ROS parameter file (default: config/sim.yaml or '
                        'config/real.yaml)'),
    'method': ('', f"feature family of the servo: {', '.join(FEATURE_FAMILIES)} (default: the preset's)"),
    'model': ('', f"model file of {'/'.join(LEARNED_FAMILIES)} (default: the preset's, else the shipped one)"),
    'scene': ('', 'sim: scene image file or skimage:NAME (default: the preset\'s, else the bundled poster)'),
    'json': ('', 'sim: write the outcome JSON to this path'),
    'keep_running': ('false', 'sim: true keeps the nodes running after the outcome, until Ctrl-C'),
}
#: Launch arguments that are switches: 'true' or 'false' (`aevs launch --keep-running`).
FLAG_ARGUMENTS = ('keep_running',)

#: The launch arguments of each graph (``scene``, ``json``, ``keep_running``: simulation only).
GRAPH_ARGUMENTS = {'sim': ('params_file', 'method', 'model', 'scene', 'json', 'keep_running'),
                   'real': ('params_file', 'method', 'model')}

#: Parameter files of each executable, in config/ (the preset is read after them).
NODE_CONFIG = {
    'servo_node': 'servo.yaml',
    'planar_renderer': 'renderer.yaml',
    'gantry_driver': 'gantry.yaml',  # the sim backend
    'camera_node': 'camera.yaml',
    'sim_scenario': 'renderer.yaml',  # renders the goal view with the renderer's camera and scene
}
#: ... except on the real robot.
REAL_NODE_CONFIG = {**NODE_CONFIG, 'gantry_driver': 'gantry_real.yaml'}
DEFAULT_PRESET = {'sim': 'sim.yaml', 'real': 'real.yaml'}
#: the renderer's parameters sim_scenario renders its goal with (its camera: camera_info)
RENDERED_SCENE = ('scene_path', 'scene_width', 'blur_sigma', 'frame_id')


@dataclass(frozen=True)
class NodeSpec:
    """One node of a graph: what `ros2 run` / launch_ros' ``Node`` need to start it."""

    executable: str
    name: str
    parameter_files: tuple[str, ...] = ()  #: absolute paths, later files win
    parameters: dict = field(default_factory=dict)  #: overrides, applied after the files
    remappings: tuple[tuple[str, str], ...] = ()
    package: str = PACKAGE
    #: the graph is done when this node exits; its exit code is the graph's verdict
    ends_graph: bool = False

    def ros_arguments(self) -> list[str]:
        """The node's command-line arguments: ``--ros-args -r __node:=... --params-file ...``."""
        args = ['--ros-args', '-r', f'__node:={self.name}', *self.parameter_arguments()]
        for source, target in self.remappings:
            args += ['-r', f'{source}:={target}']
        return args

    def parameter_arguments(self) -> list[str]:
        """``--params-file`` for each file, then ``-p node:name:=value`` for each override.

        Later arguments win, so the overrides come last; they name the node because a plain
        ``-p`` applies to ``/**`` and would lose to the files' sections for this node. The
        launch files pass these as launch_ros ``ros_arguments``: a ``parameters`` dict would
        go to a temporary file that launch_ros never deletes, under ``/**`` on older versions.
        """
        args = []
        for path in self.parameter_files:
            args += ['--params-file', str(path)]
        for name, value in self.parameters.items():
            args += ['-p', f'{self.name}:{name}:={parameter_text(value)}']
        return args


def parameter_text(value) -> str:
    """A value as the YAML text of ``-p name:=value`` (types kept: 1.0 stays a double)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float, np.integer, np.floating)):
        return repr(float(value)) if isinstance(value, (float, np.floating)) else str(int(value))
    if isinstance(value, (list, tuple, np.ndarray)):
        return '[' + ','.join(parameter_text(item) for item in value) + ']'
    return _json.dumps(str(value))  # a double-quoted YAML string, empty ones included


def config_dir() -> Path:
    from . import share_dir
    return share_dir() / 'config'


def config_file(name: str) -> Path:
    return config_dir() / name


def build_graph(graph: str, params_file: str = '', method: str = '', model: str = '', scene: str = '',
                json: str = '', keep_running: bool = False, timeout: float = 0.0) -> list[NodeSpec]:
    """The nodes of the ``sim`` or ``real`` graph; empty options keep the preset's values.

    ``keep_running`` (sim) lets the other nodes run on after sim_scenario has reported;
    ``timeout`` [s] (sim, 0 = the preset's) bounds the scenario.
    """
    if graph not in GRAPHS:
        raise ValueError(f'unknown graph {graph!r}: choose one of {", ".join(GRAPHS)}')
    preset = str(Path(params_file).expanduser().resolve()) if params_file else str(
        config_file(DEFAULT_PRESET[graph]))
    if not Path(preset).is_file():
        raise FileNotFoundError(f'parameter file not found: {preset}')
    sections = read_parameter_file(preset)  # a broken preset fails here, not in every node
    model = _existing_file(model, 'model')
    scene = scene if scene.startswith(scene_catalog.PREFIX) else _existing_file(scene, 'scene image')

    def spec(executable, parameters=None, **kwargs):
        files = (str(config_file((REAL_NODE_CONFIG if graph == 'real' else NODE_CONFIG)[executable])), preset)
        return NodeSpec(executable, executable, files, dict(parameters or {}), **kwargs)

    servo = {key: value for key, value in (('method', method), ('model_path', model)) if value}
    if graph == 'real':
        return [spec('camera_node'), spec('gantry_driver'), spec('servo_node', servo)]
    scenario = node_parameters(sections, 'sim_scenario')
    try:
        start = start_pose(scenario)
    except ValueError as exc:
        raise ValueError(f'{preset}: sim_scenario: {exc}') from None
    scene_parameters = {'scene_path': scene} if scene else {}
    renderer = node_parameters(sections, 'planar_renderer')  # a preset may give the renderer its own scene
    scenario_overrides = {**{key: renderer[key] for key in RENDERED_SCENE
                             if key in renderer and renderer[key] != scenario.get(key)}, **scene_parameters}
    if json:
        scenario_overrides['json_path'] = str(Path(json).expanduser().resolve())
    if keep_running:
        scenario_overrides['exit_when_done'] = False
    if timeout:
        scenario_overrides['timeout'] = float(timeout)
    choice = _sim_model_choice(sections, method, model, scene)
    if choice is not None:
        servo['model_path'] = str(choice.path or '')
        scenario_overrides['model_choice'] = choice.reason
    return [
        spec('planar_renderer', scene_parameters),
        spec('gantry_driver', {'backend': 'sim', 'initial_camera_pose': se3.pose_to_list(start)}),
        spec('servo_node', servo),
        spec('sim_scenario', scenario_overrides, ends_graph=not keep_running),
    ]


def _sim_model_choice(sections: dict, method: str, model: str, scene: str):
    """The shipped model the servo of the sim graph uses (resources.choose_model for the rendered
    scene), or None where the servo's method reads no model or its model is named."""
    from .core.features.registry import family
    from .resources import choose_model

    servo = {**node_parameters(read_parameter_file(str(config_file(NODE_CONFIG['servo_node']))), 'servo_node'),
             **node_parameters(sections, 'servo_node')}
    method = method or servo.get('method', 'dvs')
    if model or servo.get('model_path') or not family(method).needs_model:
        return None
    return choose_model(method, rendered_scene(sections, scene).fingerprint)


def rendered_scene(sections: dict, scene: str):
    """The PlanarScene planar_renderer will render: ``scene``, else its preset's, else its own file's."""
    from .core.scene import PlanarScene

    rendered = {**node_parameters(read_parameter_file(str(config_file(NODE_CONFIG['planar_renderer']))),
                                  'planar_renderer'), **node_parameters(sections, 'planar_renderer')}
    return PlanarScene.load(scene or rendered.get('scene_path') or None, rendered.get('scene_width', 0.8))


def _existing_file(path: str, what: str) -> str:
    """``path`` made absolute (the nodes may run elsewhere), '' kept; a missing file fails here."""
    if not path:
        return ''
    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise FileNotFoundError(f'{what} file not found: {resolved}')
    return str(resolved)


class GraphFailed(RuntimeError):
    """A node of a launched graph failed. Raised inside ``launch``, it makes
    ``LaunchService.run()`` (the exit status of ``ros2 launch``) return 1: launch has no
    other way to report a failure."""


def launch_description(graph: str):
    """The ``launch`` description of a graph: what both launch files return.

    Its arguments are :data:`GRAPH_ARGUMENTS`; the nodes come from :func:`build_graph` when
    the launch runs, so ``ros2 launch`` and ``aevs launch`` start the same processes. In
    simulation, sim_scenario's exit (its verdict) ends the launch.
    """
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    names = GRAPH_ARGUMENTS[graph]
    arguments = [DeclareLaunchArgument(name, default_value=LAUNCH_ARGUMENTS[name][0],
                                       description=LAUNCH_ARGUMENTS[name][1],
                                       **({'choices': ['true', 'false']} if name in FLAG_ARGUMENTS else {}))
                 for name in names]
    return LaunchDescription([*arguments, OpaqueFunction(function=_launch_nodes, args=[graph, names])])


def _launch_nodes(context, graph: str, names):
    """launch_ros Node actions of the graph, with the launch arguments' values as options."""
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    options = {name: LaunchConfiguration(name).perform(context) for name in names}
    options.update((name, options[name] == 'true') for name in FLAG_ARGUMENTS if name in options)
    return [
        Node(package=spec.package, executable=spec.executable, name=spec.name, output='screen',
             ros_arguments=spec.parameter_arguments(), remappings=list(spec.remappings),
             on_exit=_on_node_exit(spec))
        for spec in build_graph(graph, **options)
    ]


def _on_node_exit(spec: NodeSpec):
    """What ``launch`` does when a node exits, as `aevs launch` does: the node that ends the
    graph shuts it down (0) or fails it; any other node exiting on its own fails the graph.
    Exits during the shutdown are the teardown's, not failures."""
    def on_exit(event, context):
        from launch.actions import Shutdown

        if context.is_shutdown:
            return None
        if spec.ends_graph and event.returncode == 0:
            return Shutdown(reason=f'{spec.name} finished (exit code 0)')
        if spec.ends_graph:
            raise GraphFailed(f'{spec.name} finished with exit code {event.returncode} (0 = success); '
                              'stopping the graph')
        raise GraphFailed(f'{spec.name} exited unexpectedly with code {event.returncode}; stopping the graph')
    return on_exit


def read_parameter_file(path) -> dict:
    """The sections of a ROS parameter file; ValueError naming the file and what is wrong with it
    (not YAML, or a section that is not a mapping), so a broken preset is one line, not a
    traceback."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except UnicodeDecodeError as exc:
        raise ValueError(f'{path}: not a text file ({exc.reason} at byte {exc.start})') from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = f' at line {mark.line + 1}, column {mark.column + 1}' if mark else ''
        problem = getattr(exc, 'problem', None) or ' '.join(str(exc).split())
        raise ValueError(f'{path}: not valid YAML{where}: {problem}') from None
    data = {} if data is None else data
    _check_sections(path, data, ())
    return data


def _check_sections(path, section, keys: tuple) -> None:
    """Every level of a parameter file is a mapping (node names, namespaces, ros__parameters)."""
    if not isinstance(section, dict):
        where = ' > '.join(keys) if keys else 'the top level'
        expected = ('parameter names and values' if keys and keys[-1] == 'ros__parameters'
                    else 'node names (or namespaces) to {ros__parameters: ...}')
        raise ValueError(f'{path}: {where} must be a mapping of {expected}, got {type(section).__name__} '
                         f'{section!r:.60}')
    if keys and keys[-1] == 'ros__parameters':
        return
    for key, value in section.items():
        _check_sections(path, value, (*keys, str(key)))


def preset_parameters(path, node_name: str) -> dict:
    """The parameters a ROS parameter file gives ``node_name`` (``/**`` first, then its own)."""
    return node_parameters(read_parameter_file(path), node_name)


def node_parameters(sections: dict, node_name: str) -> dict:
    """The parameters the sections of a parameter file give ``node_name`` (``/**`` first)."""
    merged = {}
    for key in ('/**', node_name, '/' + node_name, '/**/' + node_name):
        merged.update((sections.get(key) or {}).get('ros__parameters') or {})
    return merged


def start_pose(scenario: dict) -> np.ndarray:
    """The scenario's start pose: its goal pose displaced by ``start_offset`` (goal camera frame)."""
    if 'goal_pose' not in scenario:
        raise ValueError('no goal_pose: give [x, y, z, qx, qy, qz, qw] in its ros__parameters')
    goal = se3.pose_from_list(scenario['goal_pose'], 'goal_pose')
    offset = scenario.get('start_offset', [0.0] * 6)
    numbers = se3.finite_numbers(offset, 6)
    start = None if numbers is None else se3.displaced(goal, numbers)
    if start is None or not np.isfinite(start).all():
        raise ValueError(f'start_offset needs 6 finite numbers [dx, dy, dz (m), rx, ry, rz (deg)], got {offset!r}')
    return start
