"""Sub-commands of `aevs`, one module each (see aevs_ros.cli).

Each module exposes `add_parser(subparsers)`, which registers its parser with a one-line
`help`, a `description` with an example, and `set_defaults(func=run)` where
`run(args) -> int` is the exit code. A command that forwards unknown options to another
program (like `aevs test` to pytest) also sets `forwards_extra_args=True` and reads them
from `args.extra_args`. Every module is imported on each `aevs` call: import heavy
libraries (torch, rclpy) inside `run`, not at module level.
"""
