"""Bounded polling shared by the ROS tests: every wait ends, so a hung node fails a test."""
import time

TIMEOUT_S = 10.0


def wait_until(predicate, timeout=TIMEOUT_S, period=0.005):
    """True as soon as ``predicate()`` is, False once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return False
