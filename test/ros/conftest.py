"""Fixtures for tests over real ROS 2 middleware.

Each test gets its own ROS domain, discovery limited to this machine, and logs in a
temporary folder; the variables are set in os.environ so that node processes a test starts
inherit them. `ros_context` is an initialised rclpy context for the test,
`ros_executor` spins in a background thread and destroys the nodes added to it, and
`spun_node` makes nodes spun by it.
"""
import itertools
import os
import threading

import pytest
import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

from aevs_ros.ros_domain import local_domain_variables, reserved_domain_id

JOIN_TIMEOUT_S = 5.0
_tests_so_far = itertools.count()


@pytest.fixture(scope='session')
def ros_log_dir(tmp_path_factory):
    return tmp_path_factory.mktemp('ros_log')


@pytest.fixture
def ros_domain_id(monkeypatch, ros_log_dir):
    """A domain id no other test on this machine uses meanwhile, set in os.environ."""
    with reserved_domain_id(os.getpid() + next(_tests_so_far)) as domain_id:
        for name, value in local_domain_variables(domain_id, ros_log_dir).items():
            monkeypatch.setenv(name, value)
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
