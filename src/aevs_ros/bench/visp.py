"""`aevs bench visp`: aevs_ros's DVS beside ViSP's, per iteration, same scene, camera and start.

The peer is a small C++ program of this package (bench/visp_peer: vpImageSimulator renders the
scene, vpFeatureLuminance gives s and L_I, and the same Levenberg-Marquardt law as the servo's
runs on them). It is built with CMake, on demand, against an installed ViSP (Debian:
`apt-get install libvisp-dev`), in .build/visp_peer; where ViSP or CMake is missing the peer is
skipped with one line and only aevs_ros's side is measured. Both sides run one thread on the
same scene image, camera intrinsics, border, goal and start, and split each iteration into
render, features and interaction matrix, and control (the law and the pose update).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from . import DEFAULT_OUT, benchmark_parser, output_path
from .latency import parse_sizes

PEER_SOURCE = Path(__file__).with_name("visp_peer")
#: 3.0 cm and 2.0 degrees from the goal, in the goal camera frame
DEFAULT_START = "0.02,-0.02,0.01,1.2,-1.2,1.0"
DEFAULT_SIZES = "224,320x240"
GOAL_HEIGHT = 0.6
PEER_TIMEOUT_S = 600
PARTS = ("render", "features", "control", "iteration")


def add_parser(subparsers) -> None:
    parser = benchmark_parser(
        subparsers, "visp", "DVS beside ViSP's C++ (vpFeatureLuminance) per iteration, when ViSP is installed",
        __doc__, "\n\nexample:\n  aevs bench visp --sizes 224,320x240 --json visp.json")
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES),
                        help=f"image sizes, WIDTH or WIDTHxHEIGHT, comma-separated (default {DEFAULT_SIZES})")
    parser.add_argument("--start", default=DEFAULT_START, metavar="DX,DY,DZ,RX,RY,RZ",
                        help=f"start offset from the goal [m, deg], goal camera frame (default {DEFAULT_START})")
    parser.add_argument("--iterations", type=int, default=300, help="iteration budget of each side (default 300)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each side, alternating; each part's time is its lowest median (default 3)")
    parser.add_argument("--scene", default=None, help="scene image (default: the bundled scene)")
    parser.add_argument("--visp-dir", default=None,
                        help="folder holding VISPConfig.cmake (default: where CMake finds ViSP)")
    parser.add_argument("--build-dir", default=None, help="peer build folder (default .build/visp_peer)")
    parser.add_argument("--json", default=None, help=f"result JSON (default {DEFAULT_OUT}/visp.json)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default %(default)s)")
    parser.set_defaults(func=run)


def default_build_dir() -> Path:
    root = os.environ.get("AEVS_ROOT")
    return Path(root) / ".build" / "visp_peer" if root else Path("/tmp") / "aevs_visp_peer"


def build_peer(build_dir: Path, visp_dir: str | None = None) -> tuple[Path | None, str]:
    """(the peer executable, "") once built, else (None, why not): no CMake, no ViSP, or a build error."""
    cmake = shutil.which("cmake")
    if cmake is None:
        return None, "CMake not found (apt-get install cmake)"
    if not (PEER_SOURCE / "CMakeLists.txt").is_file():
        return None, f"peer source not found in {PEER_SOURCE}"
    build_dir.mkdir(parents=True, exist_ok=True)
    # -UVISP_DIR: search again every time, so --visp-dir (or its absence) decides
    configure = [cmake, "-S", str(PEER_SOURCE), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release", "-UVISP_DIR"]
    configure.append(f"-DVISP_SEARCH_DIR={Path(visp_dir).resolve()}" if visp_dir else "-UVISP_SEARCH_DIR")
    configured = subprocess.run(configure, capture_output=True, text=True)
    if configured.returncode != 0:
        log = configured.stdout + configured.stderr
        if "VISPConfig.cmake" in log or "visp-config.cmake" in log:
            where = f" in {visp_dir}" if visp_dir else ""
            return None, f"ViSP not found{where} (Debian: apt-get install libvisp-dev)"
        return None, f"cmake could not configure the peer: {log.strip().splitlines()[-1]}"
    built = subprocess.run([cmake, "--build", str(build_dir)], capture_output=True, text=True)
    if built.returncode != 0:
        return None, f"the peer did not build: {(built.stdout + built.stderr).strip().splitlines()[-1]}"
    return build_dir / "visp_peer", ""


def _parse_offset(text: str) -> list[float]:
    values = [float(value) for value in text.split(",")]
    if len(values) != 6:
        raise ValueError(f"--start needs 6 comma-separated numbers, got {text!r}")
    return values


def _milliseconds(wall_seconds, cpu_seconds) -> dict:
    import numpy as np

    wall, cpu = np.asarray(wall_seconds) * 1000, np.asarray(cpu_seconds) * 1000
    return {"median": float(np.median(wall)), "mean": float(wall.mean()),
            "cpu_median": float(np.median(cpu)), "cpu_mean": float(cpu.mean())}


class Clocks:
    """Wall-clock and thread CPU-time readings: on a busy machine the wall clock also counts
    the time this thread waited for a core, the CPU time only the work."""

    def __init__(self):
        self.wall = {part: [] for part in PARTS}
        self.cpu = {part: [] for part in PARTS}

    @staticmethod
    def now() -> tuple[float, float]:
        return time.perf_counter(), time.thread_time()

    def add(self, part: str, started: tuple[float, float], finished: tuple[float, float]) -> None:
        self.wall[part].append(finished[0] - started[0])
        self.cpu[part].append(finished[1] - started[1])

    def summary(self) -> dict:
        return {f"{part}_ms": _milliseconds(self.wall[part], self.cpu[part]) for part in PARTS}


def measure_ours(settings: dict) -> dict:
    """In a fresh one-thread process: the DVS servo loop, each iteration split into its parts."""
    import cv2
    import numpy as np

    from ..core import se3
    from ..core.camera import default_camera
    from ..core.features import make_feature
    from ..core.scene import PlanarScene
    from ..core.servo import Servo, ServoState
    from ..core.simulator import SIMULATED_SERVO, SimConfig

    cv2.setNumThreads(1)  # one thread, as the peer: OpenCV's own pool would otherwise help the renderer
    camera = default_camera(*settings["size"])
    scene = PlanarScene.load(settings["scene"])
    goal_pose = np.asarray(settings["goal_pose"])
    pose = np.asarray(settings["start_pose"])
    clocks = Clocks()
    feature = make_feature("dvs", camera, GOAL_HEIGHT)
    compute = feature.compute
    stamps = {}

    def timed_compute(image, with_interaction=True, still_pixels=None):
        stamps["features"] = Clocks.now()
        sample = compute(image, with_interaction, still_pixels)
        stamps["featured"] = Clocks.now()
        return sample

    servo = Servo(feature, SIMULATED_SERVO)
    servo.set_goal(scene.render(camera, goal_pose).image)
    feature.compute = timed_compute
    dt = SimConfig().dt
    converged = False
    for iteration in range(settings["iterations"]):
        started = Clocks.now()
        image = scene.render(camera, pose).image
        rendered = Clocks.now()
        command = servo.step(image)
        converged = command.state is ServoState.CONVERGED
        if not converged:
            pose = se3.integrate(pose, command.velocity, dt)
        finished = Clocks.now()
        clocks.add("render", started, rendered)
        clocks.add("features", stamps["features"], stamps["featured"])
        clocks.add("control", rendered, finished)
        clocks.add("iteration", started, finished)
        clocks.wall["control"][-1] -= clocks.wall["features"][-1]
        clocks.cpu["control"][-1] -= clocks.cpu["features"][-1]
        if converged or command.state is ServoState.FAULT:
            break
    translation, rotation = se3.pose_error(pose, goal_pose)
    return {**clocks.summary(), "iterations": iteration + 1, "converged": converged, "feature_dim": feature.dim,
            "final_error_mm": translation * 1000, "final_error_deg": rotation}


def measure_peer(executable: Path, settings: dict, scene_file: Path) -> dict:
    """Run the ViSP program on the same scene, camera, goal and start; its JSON, with the final error."""
    import numpy as np

    from ..core import se3
    from ..core.camera import default_camera
    from ..core.simulator import SIMULATED_SERVO, SimConfig

    camera = default_camera(*settings["size"])
    config = SIMULATED_SERVO
    goal_pose = np.asarray(settings["goal_pose"])

    def pose_text(world_T_camera):
        return ",".join(f"{value:.17g}" for value in se3.inverse(np.asarray(world_T_camera)).ravel())

    arguments = {
        "scene": scene_file, "scene-width": settings["scene_width"], "width": camera.width,
        "height": camera.height, "fx": camera.fx, "fy": camera.fy, "cx": camera.cx, "cy": camera.cy,
        "border": settings["border"], "depth": GOAL_HEIGHT, "gain": config.gain, "mu": config.mu,
        "mu-final": config.mu_final, "mu-switch": config.mu_switch_iteration, "dt": SimConfig().dt,
        "max-iterations": settings["iterations"], "max-linear": config.max_linear_velocity,
        "max-angular": config.max_angular_velocity,
        "convergence-translation": config.convergence_translation,
        "convergence-rotation": config.convergence_rotation,
        "goal": pose_text(goal_pose), "start": pose_text(settings["start_pose"])}
    command = [str(executable)] + [str(item) for name, value in arguments.items() for item in (f"--{name}", value)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=PEER_TIMEOUT_S)
    if finished.returncode != 0:
        raise RuntimeError(f"the ViSP peer failed: {finished.stderr.strip()}")
    result = json.loads(finished.stdout)
    final_pose = se3.inverse(np.asarray(result.pop("final_cMo")).reshape(4, 4))
    translation, rotation = se3.pose_error(final_pose, goal_pose)
    result.update(final_error_mm=translation * 1000, final_error_deg=rotation)
    return result


def _fastest(runs: list[dict]) -> dict:
    """The first run, with each part's medians replaced by the lowest over the runs (the run
    least disturbed by other processes); every run's timings are kept under "runs"."""
    best = dict(runs[0])
    for part in PARTS:
        key = f"{part}_ms"
        best[key] = {statistic: min(run[key][statistic] for run in runs) for statistic in runs[0][key]}
    best["runs"] = [{f"{part}_ms": run[f"{part}_ms"] for part in PARTS} for run in runs]
    return best


def _row(name: str, result: dict, statistic: str) -> str:
    parts = "".join(f"{result[f'{part}_ms'][statistic]:10.3f}" for part in PARTS)
    return (f"  {name:11s}{parts}{result['iterations']:8d}   {'yes' if result['converged'] else 'no ':3s}"
            f"   {result['final_error_mm']:.4f} mm, {result['final_error_deg']:.5f} deg")


def run(args) -> int:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    import cv2
    import numpy as np

    from ..core import se3
    from ..core.outcome import write_json
    from ..core.photometric import DEFAULT_BORDER
    from ..core.scene import PlanarScene
    from . import machine_info, thread_environment

    if args.iterations < 1 or args.repeats < 1:
        print("aevs bench visp: error: --iterations and --repeats must be positive")
        return 2
    try:
        offset = _parse_offset(args.start)
    except ValueError as exc:
        print(f"aevs bench visp: error: {exc}")
        return 2
    scene = PlanarScene.load(args.scene)
    goal_pose = se3.look_at((0, 0, GOAL_HEIGHT), (0, 0, 0))
    start_pose = se3.displaced(goal_pose, offset)
    start_error = se3.pose_error(start_pose, goal_pose)
    build_dir = Path(args.build_dir) if args.build_dir else default_build_dir()
    executable, reason = build_peer(build_dir, args.visp_dir)
    scene_file = build_dir / "scene.pgm"
    if executable is not None:  # the very pixels our renderer samples, as 8-bit
        cv2.imwrite(str(scene_file), np.round(scene.image * 255).astype(np.uint8))
    print(f"DVS per iteration beside ViSP, one thread, scene {scene.name} ({scene.width_m:g} m wide), "
          f"start {start_error[0] * 100:.1f} cm / {start_error[1]:.1f} deg, budget {args.iterations}")
    if reason:
        print(f"  ViSP peer skipped: {reason}")
    report = {"threads": 1, "repeats": args.repeats, "start_offset": offset, "start_error": list(start_error), "iterations": args.iterations,
              "scene": scene.name, "border": DEFAULT_BORDER, "peer_skipped": reason or None,
              "machine": machine_info(), "sizes": []}
    for width, height in args.sizes:
        settings = {"size": (width, height), "scene": args.scene, "scene_width": scene.width_m,
                    "goal_pose": goal_pose.tolist(), "start_pose": start_pose.tolist(),
                    "iterations": args.iterations, "border": DEFAULT_BORDER}
        ours_runs, peer_runs = [], []
        with thread_environment(1):
            for _ in range(args.repeats):  # alternating, so a change of load hits both sides
                with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                    ours_runs.append(pool.submit(measure_ours, settings).result())
                if executable is not None:
                    peer_runs.append(measure_peer(executable, settings, scene_file))
        ours = _fastest(ours_runs)
        peer = _fastest(peer_runs) if peer_runs else None
        entry = {"image_size": [width, height], "aevs_ros": ours}
        if peer is not None:
            entry["visp"] = peer
            entry["ratio"] = {part: ours[f"{part}_ms"]["cpu_median"] / peer[f"{part}_ms"]["cpu_median"]
                              for part in PARTS}
            entry["ratio_wall"] = {part: ours[f"{part}_ms"]["median"] / peer[f"{part}_ms"]["median"]
                                   for part in PARTS}
        for statistic, clock in (("cpu_median", "thread CPU time"), ("median", "wall clock")):
            print(f"  {width}x{height}, {ours['feature_dim']} features, {clock} [ms, medians]:")
            print(f"  {'':11s}{'render':>10s}{'features':>10s}{'control':>10s}{'iteration':>10s}"
                  f"{'iter.':>8s}   conv.   final error")
            print(_row("aevs_ros", ours, statistic))
            if peer is not None:
                ratio = entry["ratio" if statistic == "cpu_median" else "ratio_wall"]
                print(_row(f"ViSP {peer['visp_version']}", peer, statistic))
                print(f"  {'ratio':11s}" + "".join(f"{ratio[part]:10.2f}" for part in PARTS)
                      + "   (aevs_ros / ViSP; <= 1 is as fast or faster)")
        report["sizes"].append(entry)
    path = output_path(args.out, args.json, "visp")
    write_json(report, path)
    print(f"  written to {path}")
    return 0
