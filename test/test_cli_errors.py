"""Bad options and broken presets end `aevs` with one line naming the culprit, never a traceback.

Each case runs the real command in a subprocess: exit code 2, exactly one line on stderr that
names the option, file or key at fault (and what it expects), no 'Traceback' anywhere.
"""
import subprocess
import sys

import pytest

AEVS = [sys.executable, '-c', 'import sys; from aevs_ros.cli import main; sys.exit(main())']
SIM_SCENARIO = ('sim_scenario:\n  ros__parameters:\n    goal_pose: [0.0, 0.0, 0.6, 1.0, 0.0, 0.0, 0.0]\n'
                '    timeout: 5.0\n')


def run_aevs(*args, cwd=None):
    return subprocess.run([*AEVS, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd)


def assert_one_line_error(result, *named):
    """Exit code 2, one stderr line containing every string of ``named``, no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert 'Traceback' not in result.stdout + result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    for text in named:
        assert text in lines[0], (text, lines[0])
    return lines[0]


# -- aevs demo: options checked before anything is rendered -------------------------------------

DEMO_OPTIONS = {  # arguments -> what the error line must name
    '--start nan,0,0,0,0,0': ['--start', '6 comma-separated finite numbers', 'DX,DY,DZ,RX,RY,RZ'],
    '--start garbage': ['--start', '6 comma-separated finite numbers', "'garbage'"],
    '--start 0.1,0.1': ['--start', '6 comma-separated'],
    '--start 0,0,0,0,0,1e308': ['--start', 'no valid camera pose'],
    '--goal 0,0,inf,0': ['--goal', '4 comma-separated finite numbers', 'X,Y,Z,ROLL'],
    '--goal 0,0,1e300,0': ['--goal', 'no valid camera pose'],
    '--scene-width nan': ['--scene-width', '> 0'],
    '--gain inf': ['--gain', '> 0'],
    '--iterations 0': ['--iterations', 'at least 1'],
    '--size 100000000': ['--size', 'from 16 to 2048'],
}


@pytest.mark.parametrize('args', DEMO_OPTIONS)
def test_demo_rejects_unusable_options(args, tmp_path):
    result = run_aevs('demo', '--method', 'dvs', '--json', tmp_path / 'o.json', '--plot', '', *args.split())
    assert_one_line_error(result, 'aevs demo: error:', *DEMO_OPTIONS[args])
    assert not (tmp_path / 'o.json').exists()


def test_demo_names_an_output_it_cannot_write(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('')
    result = run_aevs('demo', '--method', 'dvs', '--size', '32', '--iterations', '1', '--plot', '',
                      '--json', blocker / 'demo.json')
    assert_one_line_error(result, '--json', str(blocker / 'demo.json'))


# -- aevs launch: the preset is checked before any node starts ------------------------------------

PRESETS = {
    'no_goal_pose': ('sim_scenario:\n  ros__parameters:\n    timeout: 5.0\n', ['sim_scenario', 'no goal_pose']),
    'goal_pose_of_text': (SIM_SCENARIO.replace('[0.0, 0.0, 0.6, 1.0, 0.0, 0.0, 0.0]', 'above'),
                          ['goal_pose', '[x, y, z, qx, qy, qz, qw]']),
    'start_offset_nan': (SIM_SCENARIO + '    start_offset: [.nan, 0, 0, 0, 0, 0]\n',
                         ['start_offset', '6 finite numbers']),
    'start_offset_short': (SIM_SCENARIO + '    start_offset: [0.01, 0.02]\n', ['start_offset']),
    'unclosed_list': ('sim_scenario:\n  ros__parameters:\n    goal_pose: [0.0, 0.6\n',
                      ['not valid YAML', 'line 4']),
    'bad_indentation': ('sim_scenario:\n  ros__parameters:\n    timeout: 5.0\n   gain: 1\n',
                        ['not valid YAML', 'line 4']),
    'top_level_list': ('- sim_scenario\n- servo_node\n', ['the top level must be a mapping', 'list']),
    'section_is_a_number': (SIM_SCENARIO + 'servo_node: 3\n', ['servo_node must be a mapping', 'int']),
    'parameters_are_a_list': (SIM_SCENARIO + 'servo_node:\n  ros__parameters: [gain, 2.0]\n',
                              ['servo_node > ros__parameters must be a mapping of parameter names']),
}


@pytest.mark.parametrize('name', PRESETS)
def test_launch_sim_rejects_a_broken_preset(name, tmp_path):
    text, named = PRESETS[name]
    preset = tmp_path / f'{name}.yaml'
    preset.write_text(text)
    result = run_aevs('launch', 'sim', '--params', preset, '--print')
    assert_one_line_error(result, 'aevs launch: error:', str(preset), *named)
    assert result.stdout == ''  # no node command printed


def test_launch_without_print_fails_before_starting_nodes(tmp_path):
    preset = tmp_path / 'broken.yaml'
    preset.write_text(PRESETS['no_goal_pose'][0])
    result = run_aevs('launch', 'sim', '--params', preset)
    assert_one_line_error(result, str(preset), 'no goal_pose')
    assert 'started' not in result.stdout


def test_launch_real_checks_its_preset_too(tmp_path):
    preset = tmp_path / 'robot.yaml'
    preset.write_bytes(b'servo_node:\n  ros__parameters:\n    method: \xff\n')
    result = run_aevs('launch', 'real', '--params', preset, '--print')
    assert_one_line_error(result, str(preset), 'not a text file')


LAUNCH_OPTIONS = {  # arguments -> what the error line must name
    '--timeout nan': ['--timeout', 'finite'],
    '--timeout -3': ['--timeout', '>= 0'],
    '--scene no_such_scene.png': ['scene image file not found', 'no_such_scene.png'],
    '--model no_such_model.pt': ['model file not found', 'no_such_model.pt'],
}


@pytest.mark.parametrize('args', LAUNCH_OPTIONS)
def test_launch_rejects_unusable_options(args, tmp_path):
    result = run_aevs('launch', 'sim', '--print', *args.split(), cwd=tmp_path)
    assert_one_line_error(result, 'aevs launch: error:', *LAUNCH_OPTIONS[args])


# -- aevs set-goal: option errors exit 2 before any ROS call ------------------------------------

@pytest.mark.parametrize('timeout', ['nan', '0', '-1'])
def test_set_goal_rejects_a_timeout_that_is_not_positive(timeout):
    result = run_aevs('set-goal', '--timeout', timeout)
    assert_one_line_error(result, 'aevs set-goal: error:', '--timeout', '> 0')
