"""ROS domains for graphs a process starts beside others (tests, soak, fault injection).

Each graph gets a domain id that no other test or benchmark on this machine holds meanwhile
(an exclusive lock file per id), discovery limited to this machine and its logs in a folder
of its own: nothing here imports rclpy, the variables are for the processes started inside.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path

#: Domain ids that are safe on Linux with the default DDS ports.
DOMAIN_IDS = range(1, 102)
LOCK_DIR = Path(tempfile.gettempdir(), 'aevs_ros_domain_ids')


@contextlib.contextmanager
def reserved_domain_id(start: int):
    """The first free domain id from ``start`` on (wrapping), held until the block ends.

    Callers start at different ids (their pid plus a count) so that successive graphs never
    share a domain with a process left over from the previous one.
    """
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    for offset in range(len(DOMAIN_IDS)):
        domain_id = DOMAIN_IDS[(start + offset) % len(DOMAIN_IDS)]
        with open(LOCK_DIR / str(domain_id), 'w') as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield domain_id
            return
    raise RuntimeError(f'every ROS domain id in {DOMAIN_IDS} is in use by other tests or benchmarks')


def local_domain_variables(domain_id: int, log_dir) -> dict[str, str]:
    """The environment of a graph in ``domain_id``, discovering only this machine."""
    return {'ROS_DOMAIN_ID': str(domain_id), 'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
            'ROS_LOG_DIR': str(log_dir)}


@contextlib.contextmanager
def environment(**variables):
    """Set ``variables`` in os.environ for the processes started inside; restored on exit."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
