"""aevs_ros: visual servoing in the latent space of an autoencoder, on ROS 2.

`core/` is ROS-free (NumPy, OpenCV, PyTorch); `nodes/` adapts it to ROS 2;
`cli.py` is the `aevs` command.
"""
import os
from pathlib import Path

__version__ = '0.1.0'


def source_root():
    """The checkout this package runs from (set by ./aevs as AEVS_ROOT), or None once installed.

    Found from the package location too, so that a plain `pytest` in the checkout works.
    """
    if os.environ.get('AEVS_ROOT'):
        return Path(os.environ['AEVS_ROOT'])
    candidate = Path(__file__).resolve().parents[2]
    if (candidate / 'package.xml').is_file() and (candidate / 'src' / 'aevs_ros').is_dir():
        return candidate
    return None


def share_dir():
    """Where config/, launch/ and models/ are read from.

    The checkout when running from source, so edits take effect without a reinstall (the
    editable install's share/aevs_ros is a copy made at set-up time); otherwise the ament
    share directory of an installed package.
    """
    root = source_root()
    if root is not None:
        return root
    from ament_index_python.packages import get_package_share_directory
    return Path(get_package_share_directory('aevs_ros'))
