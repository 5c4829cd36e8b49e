"""`aevs test`: run the project's test suite with pytest."""
import argparse
from pathlib import Path
import sys

from aevs_ros import source_root

DESCRIPTION = """\
Run the test suite (the checkout's test/ folder) with pytest. Options and paths after
`test` go to pytest unchanged.

examples:
  aevs test                      # everything: core, simulation, learning, ROS 2 nodes
  aevs test test/core -x -q      # one folder, stop at the first failure
  aevs test -k servo             # tests whose name matches "servo"
  aevs test -- --help            # pytest's own help
"""

PYTEST_NO_TESTS_COLLECTED = 5


def add_parser(subparsers):
    parser = subparsers.add_parser(
        'test', help='run the test suite with pytest (extra options go to pytest)',
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=run, forwards_extra_args=True)


def run(args):
    import pytest

    root = source_root()
    if root is None:
        print('aevs test: the tests live in the source checkout; run ./aevs test there',
              file=sys.stderr)
        return 2
    pytest_args = list(args.extra_args)
    if pytest_args[:1] == ['--']:
        pytest_args = pytest_args[1:]
    if not _names_what_to_test(pytest_args):
        pytest_args.append(str(root / 'test'))
    exit_code = int(pytest.main(['--rootdir', str(root), *pytest_args]))
    if exit_code == PYTEST_NO_TESTS_COLLECTED:
        print('aevs test: no tests were collected', file=sys.stderr)
        return 1
    return exit_code


def _names_what_to_test(pytest_args):
    """Whether the arguments name test files or folders (else the whole test/ folder runs)."""
    return any(not arg.startswith('-') and Path(arg.split('::')[0]).exists()
               for arg in pytest_args)
