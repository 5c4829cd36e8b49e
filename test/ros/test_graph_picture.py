"""graph_picture.NODE_INTERFACES, the hand-kept topic table the graph pictures are drawn from,
says what each node of the sim graph really publishes, subscribes to and serves."""
import subprocess
import time

import pytest

from aevs_ros import graph
from aevs_ros.graph_picture import NODE_INTERFACES
from aevs_ros.graph_processes import command_line, teardown

from test_node_shutdown import READY, READY_TIMEOUT_S

#: topics and services every node has from rclpy itself (parameters, logging)
INFRASTRUCTURE = ('/rosout', '/parameter_events')
DISCOVERY_TIMEOUT_S = 20.0


def _ours(names) -> set:
    return {name for name, _ in names
            if name not in INFRASTRUCTURE and not name.split('/')[-1].endswith(
                ('_parameters', '_parameter_types', '_parameters_atomically', 'list_parameters', 'type_description'))}


@pytest.mark.parametrize('executable', sorted(READY))
def test_the_topic_table_matches_the_running_node(ros_domain_id, spun_node, tmp_path, executable):
    spec = next(s for s in graph.build_graph('sim') if s.executable == executable)
    log = tmp_path / f'{executable}.log'
    with open(log, 'w') as output:
        process = subprocess.Popen(command_line(spec), stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            deadline = time.monotonic() + READY_TIMEOUT_S
            while READY[executable] not in log.read_text():
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            probe = spun_node('topic_table_probe')
            expected = NODE_INTERFACES[executable]
            wanted = {'publishes': set(expected['publishes']), 'subscribes': set(expected['subscribes']),
                      'serves': {name for name in expected.get('serves', []) if '(action)' not in name}}
            deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
            while (executable, '/') not in probe.get_node_names_and_namespaces():
                assert time.monotonic() < deadline, f'{executable} not discovered'
                time.sleep(0.1)
            while True:
                seen = {'publishes': _ours(probe.get_publisher_names_and_types_by_node(executable, '/')),
                        'subscribes': _ours(probe.get_subscriber_names_and_types_by_node(executable, '/')),
                        'serves': _ours(probe.get_service_names_and_types_by_node(executable, '/'))}
                if seen == wanted or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            teardown([process])
    assert seen == wanted
