"""aevs_msgs over real DDS: the status message, the goal service and the servo action."""
import threading
import time

import pytest

from aevs_msgs.action import ServoToImage
from aevs_msgs.msg import ServoStatus
from aevs_msgs.srv import SetGoalImage
from rclpy.action import ActionClient, ActionServer
from sensor_msgs.msg import Image

TIMEOUT_S = 10.0


def wait_for(future, timeout=TIMEOUT_S):
    """The result of an rclpy future completed by the spinning executor."""
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    assert done.wait(timeout), 'no answer in time'
    return future.result()


def small_image():
    image = Image(height=2, width=3, encoding='mono8', step=3)
    image.data = bytes(range(6))
    return image


def test_servo_state_constants():
    states = [ServoStatus.STATE_IDLE, ServoStatus.STATE_SERVOING, ServoStatus.STATE_CONVERGED,
              ServoStatus.STATE_PAUSED, ServoStatus.STATE_FAULT]
    assert states == [0, 1, 2, 3, 4]


def test_status_is_published_and_received(spun_node):
    node = spun_node('status_probe')
    received = []
    arrived = threading.Event()

    def on_status(message):
        received.append(message)
        arrived.set()

    node.create_subscription(ServoStatus, 'servo/status', on_status, 10)
    publisher = node.create_publisher(ServoStatus, 'servo/status', 10)
    status = ServoStatus(method='ae', iteration=7, feature_error_norm=0.25,
                         state=ServoStatus.STATE_SERVOING, state_name='SERVOING',
                         reason='')
    status.header.frame_id = 'camera_optical_frame'
    status.velocity.linear.z = 0.01
    for _ in range(int(TIMEOUT_S / 0.1)):  # publish until discovery has matched the two ends
        publisher.publish(status)
        if arrived.wait(0.1):
            break
    assert received, 'no status received'
    assert received[0] == status


def test_set_goal_image_service(spun_node):
    node = spun_node('goal_probe')
    goals = []

    def set_goal(request, response):
        goals.append(request.image)
        response.success = request.image.height > 0
        response.message = 'goal set' if response.success else 'no camera frame yet'
        return response

    node.create_service(SetGoalImage, 'servo/set_goal_image', set_goal)
    client = node.create_client(SetGoalImage, 'servo/set_goal_image')
    assert client.wait_for_service(timeout_sec=TIMEOUT_S)

    response = wait_for(client.call_async(SetGoalImage.Request(image=small_image())))
    assert response.success and response.message == 'goal set'
    assert goals[0] == small_image()

    response = wait_for(client.call_async(SetGoalImage.Request()))  # empty: current frame
    assert not response.success and goals[1].height == 0


@pytest.mark.multithreaded_executor
def test_servo_to_image_action(spun_node):
    # two nodes: the server's execute callback blocks its node's (exclusive) callback group
    server_node, client_node = spun_node('servo_action_server'), spun_node('servo_action_client')
    received_iterations = set()

    def servo(goal_handle):
        for iteration, error in enumerate([0.5, 0.1], start=1):
            feedback = ServoToImage.Feedback(
                state=ServoStatus.STATE_SERVOING, state_name='SERVOING', iteration=iteration,
                feature_error_norm=error)
            feedback.velocity.angular.z = error
            # feedback is a topic: repeat until the client has it (discovery may lag)
            for _ in range(int(TIMEOUT_S / 0.05)):
                goal_handle.publish_feedback(feedback)
                if iteration in received_iterations:
                    break
                time.sleep(0.05)
        goal_handle.succeed()
        return ServoToImage.Result(converged=True, iterations=2, final_feature_error=0.1,
                                   reason='converged')

    ActionServer(server_node, ServoToImage, 'servo_to_image', servo)
    client = ActionClient(client_node, ServoToImage, 'servo_to_image')
    assert client.wait_for_server(timeout_sec=TIMEOUT_S)

    feedback = []

    def on_feedback(message):
        feedback.append(message.feedback)
        received_iterations.add(message.feedback.iteration)

    goal_handle = wait_for(client.send_goal_async(ServoToImage.Goal(image=small_image()),
                                                  feedback_callback=on_feedback))
    assert goal_handle.accepted
    result = wait_for(goal_handle.get_result_async()).result

    assert result == ServoToImage.Result(converged=True, iterations=2,
                                         final_feature_error=0.1, reason='converged')
    assert received_iterations == {1, 2}
    assert feedback[-1].velocity.angular.z == 0.1

