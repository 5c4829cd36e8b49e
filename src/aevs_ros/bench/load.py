"""CPU load for benchmarks: N busy processes competing for the cores while a measurement runs.

`aevs bench loop --load N` and `aevs bench soak --load N` use it to see how the servo copes
with a machine that has other work to do. The processes run at normal priority (what another
user's job would get) and are always killed when the block ends; each one also stops on its
own when its parent is gone or after ``max_seconds``, so none can outlive a crashed benchmark.
"""
from __future__ import annotations

import subprocess
import sys
from contextlib import contextmanager

#: Arithmetic until the parent goes away (it is re-parented) or the time bound passes; both are
#: checked every ~10 ms of work so the check costs nothing measurable.
_SPIN = """\
import os, sys, time
parent, end = os.getppid(), time.monotonic() + float(sys.argv[1])
x = 0
while os.getppid() == parent and time.monotonic() < end:
    for i in range(100000):
        x = (x + i * i) % 1000003
"""
#: how long a busy process may live at most [s]
MAX_SECONDS = 3600.0
KILL_WAIT_S = 5.0


@contextmanager
def busy_processes(count: int, max_seconds: float = MAX_SECONDS):
    """Start ``count`` processes spinning on arithmetic; yields their pids; kills them on exit."""
    if count < 0:
        raise ValueError(f'the number of busy processes must be >= 0, got {count}')
    processes = []
    try:
        for _ in range(count):
            processes.append(subprocess.Popen([sys.executable, '-c', _SPIN, str(max_seconds)],
                                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL))
        yield [process.pid for process in processes]
    finally:
        for process in processes:
            process.kill()  # a no-op for one that already ended
        for process in processes:
            process.wait(KILL_WAIT_S)


def load_argument(text: str) -> int:
    """argparse type of --load: a number of busy processes, >= 0."""
    import argparse

    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError(f'expected a number of busy processes >= 0, got {text!r}')
    return count
