"""The core must run without ROS: no module under aevs_ros.core imports rclpy or *_msgs."""
import ast
from pathlib import Path

import aevs_ros.core

CORE = Path(aevs_ros.core.__file__).parent


def imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_core_imports_no_ros():
    offenders = [f"{path.relative_to(CORE)}: {module}"
                 for path in CORE.rglob("*.py") for module in imported_modules(path)
                 if module.split(".")[0] in ("rclpy", "launch", "launch_ros") or module.split(".")[0].endswith("_msgs")]
    assert not offenders, offenders
    assert len(list(CORE.rglob("*.py"))) >= 10
