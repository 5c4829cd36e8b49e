"""The fault-injection matrix of `aevs bench faults` (bench/faults.py) over the running sim graph,
one test per row so that a failure names its fault. Each row asserts its own outcome (halt,
fault reason, refusal, recovery) and the checks every row shares: no NaN or inf on
/joint_states, /servo/twist and /gantry/camera_pose, no Traceback in any node's output, every
node alive at the end. Rows of one group share one graph in a ROS domain of their own (the
rows restore what they break), so the file runs in about a minute.
"""
import pytest

from aevs_ros.bench.faults import ROWS, MatrixRunner


@pytest.fixture(scope='module')
def matrix(tmp_path_factory):
    """Runs the rows in file order: a group's graph starts at its first row and stops before the next group's."""
    with MatrixRunner(log_dir=tmp_path_factory.mktemp('fault_logs')) as runner:
        yield runner


@pytest.mark.slow
@pytest.mark.parametrize('row', ROWS, ids=[row.key for row in ROWS])
def test_fault_row(matrix, row):
    result = matrix.run(row)
    assert result['passed'], (f"{row.fault}: expected {row.expected}\n  observed: {result['observed']}\n"
                              f"  failed: {result['failures']}\n  node logs: {matrix.log_dir / row.group}")
