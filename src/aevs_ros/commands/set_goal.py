"""`aevs set-goal`: give the running servo_node its goal image (service set_goal_image)."""
from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Call the servo's set_goal_image service: with --image, that image file (converted to mono8
grey; the servo centre-crops and resizes it like a camera image); without, the camera's
current frame becomes the goal. Prints the servo's answer; exit code 0 when it accepted.

examples:
  aevs set-goal                       # "stay here": the current view is the goal
  aevs set-goal --image goal.png      # servo towards a saved view
"""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        'set-goal', help="set the running servo's goal image (default: the current camera frame)",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--image', metavar='PATH', help='goal image file (any format OpenCV reads)')
    parser.add_argument('--timeout', type=float, default=10.0, metavar='S',
                        help='wait this long for the service and its answer (default %(default)s s)')
    parser.add_argument('--service', default='/set_goal_image', help='service name (default %(default)s)')
    parser.set_defaults(func=run)


def run(args) -> int:
    request_image = None
    if args.image:
        import cv2

        pixels = cv2.imread(args.image, cv2.IMREAD_GRAYSCALE)
        if pixels is None:
            print(f'aevs set-goal: cannot read {args.image} as an image', file=sys.stderr)
            return 2
        from ..nodes.image_conversions import array_to_image_msg
        request_image = array_to_image_msg(pixels, encoding='mono8')
    success, message = call_set_goal(request_image, args.service, args.timeout)
    print(f"aevs set-goal: {'accepted' if success else 'REFUSED'}: {message}")
    return 0 if success else 1


def call_set_goal(image, service: str = '/set_goal_image', timeout: float = 10.0) -> tuple[bool, str]:
    """(success, message) of one set_goal_image call; image None = the current camera frame."""
    import rclpy
    from aevs_msgs.srv import SetGoalImage

    rclpy.init()
    node = rclpy.create_node('aevs_set_goal')
    try:
        client = node.create_client(SetGoalImage, service)
        if not client.wait_for_service(timeout_sec=timeout):
            return False, f'service {service} not available after {timeout:g} s (is servo_node running?)'
        request = SetGoalImage.Request()
        if image is not None:
            request.image = image
        future = client.call_async(request)
        rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
        if not future.done():
            return False, f'no answer from {service} within {timeout:g} s'
        response = future.result()
        return bool(response.success), response.message
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
