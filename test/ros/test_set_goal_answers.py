"""`aevs set-goal` over real DDS: each kind of answer (accepted, refused, none in time, no
service) has its own exit code, and a missing answer is never reported as a refusal.

The command runs in subprocesses, as a user runs it; the set_goal_image server is a plain
rclpy service in the test process whose answer each test chooses, so the cases where no
answer comes can be produced on purpose.
"""
import subprocess
import sys
import threading

import pytest
from aevs_msgs.srv import SetGoalImage

from aevs_ros.commands.set_goal import ACCEPTED, NO_ANSWER, NO_SERVICE, REFUSED, USAGE_ERROR

AEVS_SET_GOAL = [sys.executable, '-c', 'import sys; from aevs_ros.cli import main; sys.exit(main())',
                 'set-goal']


class GoalServer:
    """A set_goal_image server that records the requests and answers as told: at once, or
    after ``delay_s`` unless ``release`` is set first (so a test need not wait it out)."""

    def __init__(self, node, success=True, message='goal set', delay_s=0.0):
        self.success, self.message, self.delay_s = success, message, delay_s
        self.requests, self.lock, self.release = [], threading.Lock(), threading.Event()
        node.create_service(SetGoalImage, 'set_goal_image', self.on_request)

    def on_request(self, request, response):
        with self.lock:
            self.requests.append(request)
        self.release.wait(self.delay_s)
        response.success, response.message = self.success, self.message
        return response

    def count(self):
        with self.lock:
            return len(self.requests)


def set_goal(*args, timeout_s=60):
    return subprocess.run([*AEVS_SET_GOAL, *map(str, args)], capture_output=True, text=True, timeout=timeout_s)


@pytest.fixture
def goal_image(tmp_path):
    import cv2
    import numpy as np

    path = tmp_path / 'goal.png'
    cv2.imwrite(str(path), np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8))
    return path


def test_accepted_and_refused_answers(spun_node, goal_image):
    server = GoalServer(spun_node('goal_server'))
    result = set_goal('--image', goal_image)
    assert result.returncode == ACCEPTED, result.stdout + result.stderr
    assert result.stdout.strip() == 'aevs set-goal: accepted: goal set' and result.stderr == ''
    assert server.count() == 1 and server.requests[0].image.width == 64

    server.success, server.message = False, 'goal image is 8x8, smaller than the input'
    result = set_goal()  # the current frame: an empty image
    assert result.returncode == REFUSED, result.stdout + result.stderr
    assert result.stdout.strip() == 'aevs set-goal: REFUSED: goal image is 8x8, smaller than the input'
    assert server.count() == 2 and server.requests[1].image.width == 0


def test_a_late_answer_is_no_answer_not_a_refusal(spun_node):
    server = GoalServer(spun_node('slow_goal_server'), delay_s=30.0)
    try:
        result = set_goal('--timeout', 8)  # 8 s to find the service (discovery on a busy machine)
    finally:
        server.release.set()
    assert result.returncode == NO_ANSWER, result.stdout + result.stderr
    assert 'REFUSED' not in result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        'aevs set-goal: no answer from /set_goal_image within 8 s; the servo may still have applied '
        'the goal (check /servo/status)']
    assert server.count() == 1  # the request did arrive


def test_no_service_is_its_own_exit_code(ros_domain_id):
    result = set_goal('--timeout', 1)
    assert result.returncode == NO_SERVICE, result.stdout + result.stderr
    assert 'not available after 1 s' in result.stderr and result.stdout == ''


def test_exit_codes_are_distinct_and_documented():
    codes = (ACCEPTED, REFUSED, USAGE_ERROR, NO_ANSWER, NO_SERVICE)
    assert len(set(codes)) == len(codes) and ACCEPTED == 0
    text = subprocess.run([*AEVS_SET_GOAL, '--help'], capture_output=True, text=True, timeout=60).stdout
    for code in codes:
        assert f'\n  {code}  ' in text, text


@pytest.mark.slow
def test_concurrent_calls_are_never_reported_refused(spun_node, goal_image):
    """The issue's load: 20 `aevs set-goal --image` at once against a server that accepts all.

    Every client must end accepted, or (if its answer is lost) with NO_ANSWER; a lost answer
    is never REFUSED, and no client gets more accepted answers than requests that arrived.
    """
    server = GoalServer(spun_node('busy_goal_server'))
    clients = [subprocess.Popen([*AEVS_SET_GOAL, '--image', str(goal_image), '--timeout', '60'],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(20)]
    results = []
    for client in clients:
        out, err = client.communicate(timeout=240)
        results.append((client.returncode, out, err))
    codes = [code for code, _, _ in results]
    assert set(codes) <= {ACCEPTED, NO_ANSWER}, results
    assert all('no answer' in err for code, _, err in results if code == NO_ANSWER), results
    assert codes.count(ACCEPTED) <= server.count() <= 20
