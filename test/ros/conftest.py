"""Fixtures for tests over real ROS 2 middleware.

Each test gets its own ROS domain, discovery limited to this machine, and logs in a
temporary folder; the variables are set in os.environ so that node processes a test starts
inherit them. `ros_context` is an initialised rclpy context for the test,
`ros_executor` spins in a background thread and destroys the nodes added to it, and
`spun_node` makes nodes spun by it.
"""
import contextlib
import fcntl
import itertools
import os
import tempfile
import threading

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

# Domain ids that are safe on Linux with the default DDS ports.
DOMAIN_IDS = range(1, 102)
JOIN_TIMEOUT_S = 5.0
_tests_so_far = itertools.count()


@pytest.fixture(scope='session')
def ros_log_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('ros_log')


@pytest.fixture
def ros_domain_id(monkeypatch, ros_log_dir):
    """A domain id no other test on this machine uses meanwhile, set in os.environ."""
    with _reserved_domain_id() as domain_id:
        monkeypatch.setenv('ROS_DOMAIN_ID', str(domain_id))
        monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
        monkeypatch.setenv('ROS_LOG_DIR', str(ros_log_dir))
        yield domain_id


@pytest.fixture
def ros_context(ros_domain_id):
    context = Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    try:
        yield context
    finally:
        context.try_shutdown()


@pytest.fixture
def ros_executor(ros_context, request):
    """An executor spinning in a thread; the test adds its nodes with `add_node`.

    Single-threaded unless the test is marked `multithreaded_executor` (a blocking action
    execute callback needs a second thread): on this 2-core machine a 2-thread executor in
    a background thread delivered 100 Hz topics at 5-15 Hz (seen 2026-11-25).

    Teardown stops and joins the thread before destroying the nodes: tearing down a
    still-spinning executor can abort the process.
    """
    if request.node.get_closest_marker('multithreaded_executor'):
        executor = MultiThreadedExecutor(num_threads=2, context=ros_context)
    else:
        executor = SingleThreadedExecutor(context=ros_context)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        yield executor
    finally:
        nodes = executor.get_nodes()  # shutdown() forgets them
        executor.shutdown(timeout_sec=JOIN_TIMEOUT_S)
        thread.join(JOIN_TIMEOUT_S)
        for node in nodes:
            node.destroy_node()


@pytest.fixture
def spun_node(ros_context, ros_executor):
    """Factory: `spun_node(name, **node_options)` makes a node that `ros_executor` spins."""
    def make_node(name, **node_options):
        node = rclpy.create_node(name, context=ros_context, **node_options)
        ros_executor.add_node(node)
        return node
    return make_node


@contextlib.contextmanager
def _reserved_domain_id():
    """Holds an exclusive lock file for a domain id, so concurrent test runs pick others.

    Successive tests of one run start their search at different ids, so a test never
    shares a domain with a process left over from the previous one.
    """
    lock_dir = os.path.join(tempfile.gettempdir(), 'aevs_ros_domain_ids')
    os.makedirs(lock_dir, exist_ok=True)
    start = os.getpid() + next(_tests_so_far)
    for offset in range(len(DOMAIN_IDS)):
        domain_id = DOMAIN_IDS[(start + offset) % len(DOMAIN_IDS)]
        with open(os.path.join(lock_dir, str(domain_id)), 'w') as lock_file:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            yield domain_id
            return
    raise RuntimeError(f'every ROS domain id in {DOMAIN_IDS} is in use by other tests')
