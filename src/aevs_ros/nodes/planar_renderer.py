"""planar_renderer: the simulated camera, the synthetic twin of camera_node.

At a fixed rate it renders the core's PlanarScene from the latest ``gantry/camera_pose``
(world_T_camera of the optical frame) and publishes ``camera/image_raw`` and
``camera/camera_info`` with the same header (sensor-data QoS). Optional imperfections of a
real camera (core/imperfections.py: noise, 8-bit quantisation, an illumination change, a
lighting gradient, a moving specular highlight, an occluder, motion blur at the camera's
velocity estimated from its last two poses), and a latency (images are published ``latency``
seconds after their capture stamp). Nothing is published until a pose is known, unless
``initial_camera_pose`` is given.
"""
from __future__ import annotations

import collections
from dataclasses import replace

import numpy as np
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from ..core import se3
from ..core.camera import DEFAULT_FOCAL_PER_WIDTH, PinholeCamera, default_camera
from ..core.imperfections import IMPERFECTION_NAMES, CameraImperfections, ImperfectCamera
from ..core.scene import DEFAULT_BLUR_SIGMA, PlanarScene
from ..core.se3 import pose_from_list
from . import Param, declare, run
from .image_conversions import gray_to_image_msg
from .msg_conversions import pose_to_matrix

PARAMETERS = (
    Param('scene_path', '', "scene image file or skimage:NAME (core/scene_catalog.py); '' = the bundled poster", read_only=True),
    Param('scene_width', 0.8, 'physical width of the scene image [m]', read_only=True, low=1e-3, high=1e3),
    Param('blur_sigma', DEFAULT_BLUR_SIGMA, 'camera point-spread function, std [px]', read_only=True,
          low=0.0, high=100.0),
    Param('width', 128, 'image width [px]', read_only=True, low=8, high=8192),
    Param('height', 128, 'image height [px]', read_only=True, low=8, high=8192),
    Param('fx', 0.0, f'focal length [px]; 0 = {DEFAULT_FOCAL_PER_WIDTH:g} width (core.camera.default_camera)',
          read_only=True, low=0.0, high=1e6),
    Param('fy', 0.0, 'focal length [px]; 0 = fx', read_only=True, low=0.0, high=1e6),
    Param('cx', -1.0, 'principal point [px]; -1 = the image centre (width - 1) / 2', read_only=True,
          low=-1.0, high=1e5),
    Param('cy', -1.0, 'principal point [px]; -1 = the image centre (height - 1) / 2', read_only=True,
          low=-1.0, high=1e5),
    Param('frame_id', 'camera_optical_frame', 'frame of the images', read_only=True),
    Param('encoding', 'mono8', 'image encoding', read_only=True, choices=('mono8', 'mono16', '32FC1')),
    Param('rate', 30.0, 'frame rate [Hz]', read_only=True, low=0.1, high=1000.0),
    Param('noise_std', 0.0, 'Gaussian pixel noise, std in grey levels of [0, 1] [-]', low=0.0, high=1.0),
    Param('quantization_bits', 0, 'round the intensities to this many bits before encoding; 0 = off',
          read_only=True, low=0, high=16),
    Param('gain', 1.0, 'illumination change against the goal: I -> gain I + offset [-]', read_only=True,
          low=0.01, high=100.0),
    Param('offset', 0.0, 'illumination offset, grey levels of [0, 1] [-]', read_only=True, low=-1.0, high=1.0),
    Param('gradient', 0.0, 'lighting gradient: illumination change from the left to the right edge [-]',
          read_only=True, low=-1.9, high=1.9),
    Param('highlight', 0.0, 'peak intensity of a specular highlight (mirror image of light_position) [-]',
          read_only=True, low=0.0, high=1.0),
    Param('highlight_radius', 0.05, 'radius (1 sigma) of the highlight on the scene plane [m]', read_only=True,
          low=1e-4, high=10.0),
    Param('light_position', [0.3, 0.2, 1.5], 'world position of the light the highlight reflects [m]',
          read_only=True),
    Param('occlusion', 0.0, 'share of the view covered by a dark square [-]', read_only=True, low=0.0, high=0.99),
    Param('occlusion_intensity', 0.1, 'grey level of the occluder [-]', read_only=True, low=0.0, high=1.0),
    Param('occlusion_speed', 0.0, 'view widths per second the occluder slides across; 0 = static [1/s]',
          read_only=True, low=0.0, high=100.0),
    Param('motion_blur_exposure', 0.0, 'exposure time: blur along the image motion during it [s]',
          read_only=True, low=0.0, high=1.0),
    Param('latency', 0.0, 'delay between capture (the stamp) and publication [s]', low=0.0, high=10.0),
    Param('initial_camera_pose', [0.0] * 7, 'pose [x, y, z, qx, qy, qz, qw] to render until a pose '
          'arrives; all zeros = none (publish nothing until then)', read_only=True),
)


def camera_from_parameters(values: dict) -> PinholeCamera:
    """The camera the renderer's parameters describe (sim_scenario builds the same one)."""
    default = default_camera(values['width'], values['height'])
    fx = values['fx'] or default.fx
    cx = values['cx'] if values['cx'] >= 0 else default.cx
    cy = values['cy'] if values['cy'] >= 0 else default.cy
    return PinholeCamera(default.width, default.height, fx, values['fy'] or fx, cx, cy)


def scene_from_parameters(values: dict) -> PlanarScene:
    return PlanarScene.load(values['scene_path'] or None, values['scene_width'], blur_sigma=values['blur_sigma'])


def imperfections_from_parameters(values: dict) -> CameraImperfections:
    """The parameters of the same names as ``CameraImperfections``' fields."""
    return CameraImperfections.from_mapping({name: values[name] for name in IMPERFECTION_NAMES})


def camera_info_msg(camera: PinholeCamera, header: Header) -> CameraInfo:
    info = camera.to_camera_info()
    return CameraInfo(header=header, width=camera.width, height=camera.height,
                      distortion_model=info['distortion_model'], d=info['d'], k=info['k'], r=info['r'],
                      p=info['p'])


class PlanarRenderer(Node):
    def __init__(self, **kwargs):
        super().__init__('planar_renderer', **kwargs)
        self.params = declare(self, PARAMETERS)
        self.camera = camera_from_parameters(self.params)
        self.scene = scene_from_parameters(self.params)
        initial = self.params['initial_camera_pose']
        self.pose = pose_from_list(initial) if any(initial) else None
        self.imperfect = ImperfectCamera(imperfections_from_parameters(self.params), self.camera,
                                         seed=np.random.SeedSequence().entropy)
        self.pose_stamp, self.twist = None, np.zeros(6)  # velocity estimate for the motion blur
        self.pending = collections.deque()  # (capture time, image, info) waiting for the latency
        self.create_subscription(PoseStamped, 'gantry/camera_pose', self.on_pose, qos_profile_sensor_data)
        self.image_pub = self.create_publisher(Image, 'camera/image_raw', qos_profile_sensor_data)
        self.info_pub = self.create_publisher(CameraInfo, 'camera/camera_info', qos_profile_sensor_data)
        self.create_timer(1.0 / self.params['rate'], self.on_timer)
        self.add_on_set_parameters_callback(self.on_set_parameters)  # noise_std, latency: ranges checked
        self.get_logger().info(f'rendering {self.scene.name} ({self.scene.width_m} m wide) at '
                               f"{self.camera.width}x{self.camera.height}, {self.params['rate']} Hz")

    def on_set_parameters(self, parameters) -> SetParametersResult:
        self.params.update((p.name, p.value) for p in parameters if p.name in self.params)
        return SetParametersResult(successful=True)

    def on_pose(self, msg: PoseStamped):
        try:
            pose = pose_to_matrix(msg.pose)
        except ValueError as exc:
            self.get_logger().warning(f'ignoring camera pose: {exc}', throttle_duration_sec=5.0)
            return
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        if self.pose is not None and self.pose_stamp is not None and stamp > self.pose_stamp:
            self.twist = se3.log(se3.inverse(self.pose) @ pose) / (stamp - self.pose_stamp)
        self.pose, self.pose_stamp = pose, stamp

    def on_timer(self):
        now = self.get_clock().now()
        if self.pose is not None:
            image = self.scene.render(self.camera, self.pose).image
            imperfections = self.imperfect.imperfections
            if self.params['noise_std'] != imperfections.noise_std:
                imperfections = self.imperfect.imperfections = replace(imperfections, noise_std=self.params['noise_std'])
            if imperfections.active:
                image = self.imperfect.apply(image, self.pose, self.twist, depth=max(self.pose[2, 3], 1e-3),
                                             dt=1.0 / self.params['rate'])
            header = Header(stamp=now.to_msg(), frame_id=self.params['frame_id'])
            self.pending.append((now, gray_to_image_msg(image, header.stamp, header.frame_id,
                                                        self.params['encoding']),
                                 camera_info_msg(self.camera, header)))
        latency_ns = int(self.params['latency'] * 1e9)
        while self.pending and (now - self.pending[0][0]).nanoseconds >= latency_ns:
            _, image_msg, info_msg = self.pending.popleft()
            self.image_pub.publish(image_msg)
            self.info_pub.publish(info_msg)


def main(args=None) -> int:
    return run(PlanarRenderer, args, num_threads=1)


if __name__ == '__main__':
    raise SystemExit(main())
