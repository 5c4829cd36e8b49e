"""The packaging files agree with each other and with the tree, for colcon and for pip."""
import ast
import configparser
from pathlib import Path
import re
import shutil
import subprocess

from catkin_pkg.package import parse_package
import pytest
import setuptools  # noqa: F401  (provides distutils on every Python version)
from distutils.core import run_setup

ROOT = Path(__file__).resolve().parents[1]
MSGS = ROOT / 'src' / 'aevs_msgs'
NODES = ('servo_node', 'planar_renderer', 'camera_node', 'gantry_driver', 'sim_scenario')


@pytest.fixture(scope='module')
def distribution():
    """setup.py's configuration, as colcon and pip see it from the repository root."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(ROOT)
        return run_setup('setup.py', stop_after='init')


@pytest.mark.parametrize('package_dir, name', [(ROOT, 'aevs_ros'), (MSGS, 'aevs_msgs')])
def test_package_xml_is_valid(package_dir, name):
    warnings = []
    package = parse_package(package_dir / 'package.xml', warnings=warnings)
    assert warnings == []
    assert package.name == name


def test_setup_py_matches_package_xml(distribution):
    package = parse_package(ROOT / 'package.xml')
    assert (distribution.get_name(), distribution.get_version()) == (package.name, package.version)
    assert package.get_build_type() == 'ament_python'
    assert 'aevs_msgs' in [dependency.name for dependency in package.exec_depends]


def test_console_scripts_name_existing_functions(distribution):
    scripts = dict(re.fullmatch(r'(\S+) = (\S+)', entry).groups()
                   for entry in distribution.entry_points['console_scripts'])
    assert set(scripts) == {'aevs', *NODES}
    for script, target in scripts.items():
        module, function = target.split(':')
        path = ROOT / 'src' / Path(*module.split('.')).with_suffix('.py')
        assert path.is_file(), f'{script}: {path} does not exist'
        defined = {node.name for node in ast.parse(path.read_text()).body
                   if isinstance(node, ast.FunctionDef)}
        assert function in defined, f'{script}: {path} defines no {function}()'


def test_data_files_exist_and_install_under_share(distribution):
    for destination, files in distribution.data_files:
        assert destination.startswith(('share/aevs_ros', 'share/ament_index/'))
        for file in files:
            assert (ROOT / file).is_file(), file
    installed = {Path(destination, Path(file).name).as_posix()
                 for destination, files in distribution.data_files for file in files}
    assert {'share/ament_index/resource_index/packages/aevs_ros',
            'share/aevs_ros/package.xml'} <= installed


def test_every_python_folder_is_a_package():
    """A folder without __init__.py imports fine from the checkout (as a namespace package)
    but find_packages leaves it out of colcon and pip installs."""
    package = ROOT / 'src' / 'aevs_ros'
    folders = [package, *(path for path in package.rglob('*')
                          if path.is_dir() and path.name != '__pycache__')]
    assert [folder for folder in folders
            if any(folder.glob('*.py')) and not (folder / '__init__.py').is_file()] == []


def test_colcon_installs_executables_where_ros2_run_looks(tmp_path):
    config = configparser.ConfigParser()
    config.read(ROOT / 'setup.cfg')
    assert config['develop']['script_dir'] == '$base/lib/aevs_ros'
    assert config['install']['install_scripts'] == '$base/lib/aevs_ros'

    colcon = shutil.which('colcon')
    assert colcon, 'colcon is not on PATH (run the tests with ./aevs test)'
    subprocess.run(
        [colcon, '--log-base', tmp_path / 'log', 'build', '--paths', ROOT,
         '--build-base', tmp_path / 'build', '--install-base', tmp_path / 'install'],
        check=True, capture_output=True, timeout=120)
    prefix = tmp_path / 'install' / 'aevs_ros'
    assert {'aevs', *NODES} <= {path.name for path in (prefix / 'lib' / 'aevs_ros').iterdir()}
    assert (prefix / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'aevs_ros').is_file()
    assert (prefix / 'share' / 'aevs_ros' / 'package.xml').is_file()


def test_cmake_generates_every_interface_file():
    listed = set(re.findall(r'"((?:msg|srv|action)/\w+\.\w+)"',
                            (MSGS / 'CMakeLists.txt').read_text()))
    present = {path.relative_to(MSGS).as_posix()
               for folder in ('msg', 'srv', 'action') for path in (MSGS / folder).iterdir()}
    assert listed == present
