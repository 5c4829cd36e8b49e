"""A real camera's imperfections, applied to simulated current images (never to the goal).

The renderer draws a clean Lambertian plane under constant light. A real camera adds noise and
8-bit quantisation, lighting that changed since the goal was shot (a global gain and offset, a
gradient across the view), a specular highlight that moves with the camera, objects crossing
the view, and motion blur while the camera moves. ``CameraImperfections`` says which of these
are on and how strong; ``ImperfectCamera`` applies them frame after frame (it holds the random
generator and the moving occluder's phase, so a run is reproducible from its seed).
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import cv2
import numpy as np

from .camera import PinholeCamera
from .errors import ConfigurationError


@dataclass(frozen=True)
class CameraImperfections:
    """Every imperfection off by default; intensities are in the images' [0, 1] units."""

    noise_std: float = 0.0  #: standard deviation of additive Gaussian pixel noise
    quantization_bits: int = 0  #: round to this many bits (8 = an 8-bit camera); 0 = off
    gain: float = 1.0  #: global illumination change against the goal image: I' = gain I + offset
    offset: float = 0.0
    #: lighting gradient: the illumination grows linearly by this fraction from the view's left
    #: edge to its right edge (centred: the middle column keeps its intensity)
    gradient: float = 0.0
    #: peak intensity added by a specular highlight: the mirror image of a light above the
    #: plane, so it moves across the view as the camera moves
    highlight: float = 0.0
    highlight_radius: float = 0.05  #: radius (1 sigma) of the highlight on the plane [m]
    light_position: tuple[float, float, float] = (0.3, 0.2, 1.5)  #: world position of the light [m]
    occlusion: float = 0.0  #: share of the view covered by an occluder (a dark square)
    occlusion_speed: float = 0.0  #: view widths per second the occluder slides across; 0 = static
    occlusion_intensity: float = 0.1
    #: exposure time [s]: the image is blurred along the image motion of its centre during it
    motion_blur_exposure: float = 0.0

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not np.all(np.isfinite(value)):
                raise ConfigurationError(f"camera imperfection {f.name}={value!r} is not finite")
        in_range = {
            "noise_std": self.noise_std >= 0, "gain": self.gain > 0,
            "quantization_bits": 0 <= self.quantization_bits <= 16,
            "gradient": abs(self.gradient) < 2, "highlight": self.highlight >= 0,
            "highlight_radius": self.highlight_radius > 0, "light_position": self.light_position[2] > 0,
            "occlusion": 0 <= self.occlusion < 1, "occlusion_intensity": 0 <= self.occlusion_intensity <= 1,
            "motion_blur_exposure": self.motion_blur_exposure >= 0,
        }
        for name, ok in in_range.items():
            if not ok:
                raise ConfigurationError(f"camera imperfection {name}={getattr(self, name)!r} is out of range")

    @property
    def active(self) -> bool:
        """Whether any imperfection changes the image."""
        return bool(self.noise_std or self.quantization_bits or self.gain != 1.0 or self.offset
                    or self.gradient or self.highlight or self.occlusion or self.motion_blur_exposure)

    @classmethod
    def from_mapping(cls, values: dict) -> "CameraImperfections":
        """From parameter names as the renderer node and the benchmarks spell them."""
        unknown = set(values) - set(IMPERFECTION_NAMES)
        if unknown:
            raise ConfigurationError(f"unknown camera imperfection(s) {sorted(unknown)}: "
                                     f"known are {', '.join(IMPERFECTION_NAMES)}")
        values = dict(values)
        if "light_position" in values:
            if len(values["light_position"]) != 3:
                raise ConfigurationError(f"light_position needs x, y, z, got {values['light_position']!r}")
            values["light_position"] = tuple(float(v) for v in values["light_position"])
        return cls(**values)


#: option names, shared by the renderer node's parameters and the benchmarks' --imperfection
IMPERFECTION_NAMES = tuple(f.name for f in fields(CameraImperfections))


class ImperfectCamera:
    """Applies ``CameraImperfections`` to each new image of one camera."""

    def __init__(self, imperfections: CameraImperfections, camera: PinholeCamera, seed: int = 0):
        self.imperfections = imperfections
        self.camera = camera
        self.rng = np.random.default_rng(seed)
        self.elapsed_s = 0.0

    def apply(self, image: np.ndarray, world_T_camera: np.ndarray | None = None,
              twist: np.ndarray | None = None, depth: float = 0.6, dt: float = 1 / 30) -> np.ndarray:
        """The image the imperfect camera sees instead of the clean ``image`` (float32, [0, 1]).

        ``world_T_camera`` places the highlight, ``twist`` (the camera velocity during the
        exposure) and ``depth`` set the motion blur; ``dt`` advances the moving occluder.
        """
        p = self.imperfections
        out = image.astype(np.float32, copy=True)
        if p.motion_blur_exposure > 0 and twist is not None:
            out = self._motion_blur(out, np.asarray(twist, float), depth)
        if p.gain != 1.0 or p.offset != 0.0:
            out = p.gain * out + p.offset
        if p.gradient:
            x = (np.arange(self.camera.width, dtype=np.float32) - (self.camera.width - 1) / 2) / self.camera.width
            out *= 1.0 + p.gradient * x[None, :]
        if p.highlight and world_T_camera is not None:
            out += self._highlight(world_T_camera)
        if p.occlusion:
            self._occlude(out)
        if p.noise_std:
            out += self.rng.normal(0.0, p.noise_std, out.shape).astype(np.float32)
        np.clip(out, 0.0, 1.0, out=out)
        if p.quantization_bits:
            levels = 2 ** p.quantization_bits - 1
            out = np.round(out * levels) / levels
        self.elapsed_s += dt
        return out.astype(np.float32, copy=False)

    def _motion_blur(self, image: np.ndarray, twist: np.ndarray, depth: float) -> np.ndarray:
        """Blur along the image velocity of the principal point (a line kernel)."""
        cam = self.camera
        vx, vy, _, wx, wy, _ = twist
        # image motion of the point at x = y = 0 and depth Z (the point-feature interaction matrix)
        velocity = np.array([(-vx / depth - wy) * cam.fx, (-vy / depth + wx) * cam.fy])
        displacement = velocity * self.imperfections.motion_blur_exposure
        length = float(np.hypot(*displacement))
        if length < 0.5:
            return image
        size = int(np.ceil(length)) | 1
        kernel = np.zeros((size, size), np.float32)
        half = size // 2
        direction = displacement / length
        for t in np.linspace(-length / 2, length / 2, 4 * size):
            kernel[int(round(half + t * direction[1])), int(round(half + t * direction[0]))] = 1.0
        return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)

    def _highlight(self, world_T_camera: np.ndarray) -> np.ndarray:
        """A Gaussian blob where the light's mirror reflection on the plane Z = 0 is seen."""
        p, cam = self.imperfections, self.camera
        centre, light = world_T_camera[:3, 3], np.asarray(p.light_position, float)
        if centre[2] <= 0:
            return np.zeros(cam.shape, np.float32)
        mirror = (centre[:2] * light[2] + light[:2] * centre[2]) / (centre[2] + light[2])
        x, y = cam.normalized_grid()
        rotation = world_T_camera[:3, :3]
        rays = rotation @ np.stack([x.ravel(), y.ravel(), np.ones(x.size)])
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = -centre[2] / rays[2]
        hits = centre[:2, None] + scale * rays[:2]
        squared = np.where(scale > 0, ((hits - mirror[:, None]) ** 2).sum(0), np.inf)
        blob = p.highlight * np.exp(-0.5 * squared / p.highlight_radius ** 2)
        return blob.reshape(cam.shape).astype(np.float32)

    def _occlude(self, image: np.ndarray) -> None:
        """A square covering ``occlusion`` of the view, sliding right if it has a speed."""
        p, (h, w) = self.imperfections, image.shape
        side_h, side_w = int(round(h * np.sqrt(p.occlusion))), int(round(w * np.sqrt(p.occlusion)))
        top = (h - side_h) // 2
        left = 0
        if p.occlusion_speed:  # starts where the static one is, leaves on the right, re-enters on the left
            travel = w + side_w
            left = int(round((p.occlusion_speed * w * self.elapsed_s) % travel))
            if left > w:
                left -= travel
        image[top:top + side_h, max(left, 0):max(left + side_w, 0)] = p.occlusion_intensity
