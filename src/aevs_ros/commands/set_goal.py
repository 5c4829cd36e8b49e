"""`aevs set-goal`: give the running servo_node its goal image (service set_goal_image)."""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import NoReturn

#: Exit codes. A missing answer is not a refusal: the servo may have received the request and
#: applied it (seen with 20 concurrent calls: all 20 goals processed, 2 answers never arrived).
ACCEPTED, REFUSED, USAGE_ERROR, NO_ANSWER, NO_SERVICE = 0, 1, 2, 3, 4

DESCRIPTION = f"""\
Call the servo's set_goal_image service: with --image, that image file (converted to mono8
grey; the servo centre-crops and resizes it like a camera image); without, the camera's
current frame becomes the goal. Prints the servo's answer.

exit codes:
  {ACCEPTED}  the servo accepted the goal
  {REFUSED}  the servo refused it (its reason is printed)
  {USAGE_ERROR}  bad option: the image cannot be read, the timeout is not a positive number
  {NO_ANSWER}  the request was sent but no answer came within --timeout: the servo may still
     have applied it (check /servo/status)
  {NO_SERVICE}  no service within --timeout (is servo_node running?): nothing was sent

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
                        help='wait this long for the service, then as long for its answer '
                             '(default %(default)s s)')
    parser.add_argument('--service', default='/set_goal_image', help='service name (default %(default)s)')
    parser.set_defaults(func=run)


def run(args) -> int:
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        print(f'aevs set-goal: error: --timeout needs a finite number of seconds > 0, got {args.timeout:g}',
              file=sys.stderr)
        return USAGE_ERROR
    request_image = None
    if args.image:
        import cv2

        pixels = cv2.imread(args.image, cv2.IMREAD_GRAYSCALE)
        if pixels is None:
            print(f'aevs set-goal: cannot read {args.image} as an image', file=sys.stderr)
            return USAGE_ERROR
        from ..nodes.image_conversions import array_to_image_msg
        request_image = array_to_image_msg(pixels, encoding='mono8')
    code, message = call_set_goal(request_image, args.service, args.timeout)
    if code in (ACCEPTED, REFUSED):
        print(f"aevs set-goal: {'accepted' if code == ACCEPTED else 'REFUSED'}: {message}")
    else:
        print(f'aevs set-goal: {message}', file=sys.stderr)
    _end_process(code)


def _end_process(code: int) -> NoReturn:
    """Exit with the decided code without tearing the ROS node down.

    rclpy's destroy_node can spin forever inside the DDS layer while holding the GIL (one of
    20 concurrent calls did, at 94 % CPU), so no Python timeout can bound it; the answer is
    already printed and the operating system frees what the process holds.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def call_set_goal(image, service: str = '/set_goal_image', timeout: float = 10.0) -> tuple[int, str]:
    """(exit code, message) of one set_goal_image call; image None = the current camera frame.

    ACCEPTED / REFUSED carry the servo's message; NO_SERVICE and NO_ANSWER say what was
    waited for, and how long. The node lives until the process ends (see _end_process).
    """
    import rclpy
    from aevs_msgs.srv import SetGoalImage

    rclpy.init()
    node = rclpy.create_node('aevs_set_goal')
    client = node.create_client(SetGoalImage, service)
    if not client.wait_for_service(timeout_sec=timeout):
        return NO_SERVICE, f'service {service} not available after {timeout:g} s (is servo_node running?)'
    request = SetGoalImage.Request()
    if image is not None:
        request.image = image
    future = client.call_async(request)
    rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
    if not future.done():
        return NO_ANSWER, (f'no answer from {service} within {timeout:g} s; the servo may still have '
                           'applied the goal (check /servo/status)')
    response = future.result()
    return (ACCEPTED if response.success else REFUSED), response.message
