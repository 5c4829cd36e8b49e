"""Python packaging of aevs_ros: ament_python for colcon, and `pip install -e .` for ./aevs."""
from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE = 'aevs_ros'
SHARE = os.path.join('share', PACKAGE)


def installed_files(destination, pattern):
    """A data_files entry for the files matching pattern; none while the folder is empty."""
    files = sorted(path for path in glob(pattern) if os.path.isfile(path))
    return [(destination, files)] if files else []


setup(
    name=PACKAGE,
    version='0.1.0',
    description='Visual servoing in the latent space of an autoencoder, on ROS 2',
    license='Apache-2.0',
    maintainer='aevs_ros maintainers',
    maintainer_email='maintainers@aevs-ros.org',
    python_requires='>=3.10',
    package_dir={'': 'src'},
    packages=find_packages('src', include=[PACKAGE, PACKAGE + '.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        (SHARE, ['package.xml']),
        *installed_files(os.path.join(SHARE, 'launch'), 'launch/*.launch.py'),
        *installed_files(os.path.join(SHARE, 'config'), 'config/*.yaml'),
        *installed_files(os.path.join(SHARE, 'models'), 'models/*'),
    ],
    zip_safe=False,
    entry_points={
        'console_scripts': [
            'aevs = aevs_ros.cli:main',
            'servo_node = aevs_ros.nodes.servo_node:main',
            'planar_renderer = aevs_ros.nodes.planar_renderer:main',
            'camera_node = aevs_ros.nodes.camera_node:main',
            'gantry_driver = aevs_ros.nodes.gantry_driver:main',
            'sim_scenario = aevs_ros.nodes.sim_scenario:main',
        ],
    },
)
