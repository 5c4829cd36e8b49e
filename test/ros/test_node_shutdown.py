"""Every node executable stops on SIGINT and on SIGTERM, promptly and without a traceback.

Each node runs as its own process, started the way `aevs launch sim` starts it (graph.py's
command line); a second signal during teardown must not break it either. The time from the
signal to the exit is printed (the teardown deadline in nodes.run is 2 s; the bound asserted
here is generous, for a busy machine).
"""
import signal
import subprocess
import time

import pytest

from aevs_ros import graph
from aevs_ros.graph_processes import command_line

EXIT_BOUND_S = 5.0
READY_TIMEOUT_S = 60.0
#: a line each node logs once it is spinning
READY = {'servo_node': 'servo_node ready', 'planar_renderer': 'rendering', 'gantry_driver': 'sim backend',
         'sim_scenario': 'waiting for'}


def start(executable, tmp_path):
    spec = next(s for s in graph.build_graph('sim') if s.executable == executable)
    log = tmp_path / f'{executable}.log'
    output = open(log, 'w')
    process = subprocess.Popen(command_line(spec), stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while READY[executable] not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f'{executable} not ready:\n{log.read_text()}'
        time.sleep(0.1)
    return process, log, output


@pytest.mark.parametrize('signals', [(signal.SIGINT,), (signal.SIGTERM,), (signal.SIGINT, signal.SIGINT)],
                         ids=['sigint', 'sigterm', 'sigint-twice'])
@pytest.mark.parametrize('executable', sorted(READY))
def test_node_exits_promptly_on_a_signal(ros_domain_id, tmp_path, executable, signals):
    process, log, output = start(executable, tmp_path)
    try:
        sent = time.monotonic()
        for signum in signals:
            process.send_signal(signum)
            time.sleep(0.05)
        code = process.wait(EXIT_BOUND_S)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        output.close()
    text = log.read_text()
    print(f'\n{executable} exited {took:.2f} s after {"+".join(signal.Signals(s).name for s in signals)}')
    assert 'Traceback' not in text, text[-3000:]
    assert code >= 0, f'killed by signal {-code}, not a clean exit:\n{text[-2000:]}'  # run() returned
