"""`aevs bench runtimes`: the AEVS encoder's batch of 7 on each CPU runtime that is installed.

The servo's AEVS step pushes one batch of 7 through the encoder: the image and the six columns
of L_I as tangents (core/network/linearize.py). This times that pass, image and L_I in, z and L_z
out, with PyTorch eager (the servo's EncoderLinearization), torch.compile, ONNX Runtime and
OpenVINO, on 1 and 2 threads, each in a fresh process; a runtime that is not installed is
skipped with the reason. "eager" is the servo's own call; eager-nchw and eager-channels-last
push a batch of the given memory layout through the same EncoderLinearization. The runs
alternate --repeats times and each keeps its lowest median, so that a change of load on a
shared machine hits every runtime alike. The compiled and exported runtimes run ForwardModeEncoder, the same
pass written without in-place writes so that tracers take it. Every result is checked against
the eager z and L_z: exact means a largest difference within --tolerance of their largest
value. Multiply-adds are counted from the model (torch.utils.flop_counter: convolutions and
the linear layer), and the achieved rate is set against the cores' arithmetic peak.
"""
from __future__ import annotations

import importlib.util
import os
import re
import tempfile
import time
from pathlib import Path

from . import DEFAULT_OUT, benchmark_parser, output_path

RUNTIMES = ("eager", "eager-nchw", "eager-channels-last", "compile", "onnxruntime", "openvino")
#: the Python package each runtime needs
RUNTIME_PACKAGES = {"eager": "torch", "eager-nchw": "torch", "eager-channels-last": "torch", "compile": "torch",
                    "onnxruntime": "onnxruntime", "openvino": "openvino"}
#: the batch layout of the eager variants that set one (eager itself is the servo's call as it is)
EAGER_LAYOUTS = {"eager-nchw": "contiguous_format", "eager-channels-last": "channels_last"}
WARM_UP_STEPS = 10
#: float32 lanes of one FMA instruction by the widest vector extension in /proc/cpuinfo
FMA_LANES = (("avx512f", 16), ("avx2", 8), ("avx", 8), ("sse2", 4))


def add_parser(subparsers) -> None:
    parser = benchmark_parser(
        subparsers, "runtimes", "the AEVS encoder's batch of 7 on PyTorch eager, torch.compile, ONNX Runtime, OpenVINO",
        __doc__, "\n\nexample:\n  aevs bench runtimes --threads 1,2 --json runtimes.json")
    parser.add_argument("--runtimes", default=",".join(RUNTIMES),
                        help=f"comma-separated runtimes (default {','.join(RUNTIMES)})")
    parser.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    parser.add_argument("--steps", type=int, default=100, help="timed passes per runtime (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of every runtime (default 3)")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="largest difference from eager's z and L_z, relative to their largest value (default 1e-4)")
    parser.add_argument("--fma-units", type=int, default=None,
                        help="FMA instructions of the widest vector extension a core issues per cycle, for the peak "
                             "(default: by vendor, bench.runtimes.fma_units)")
    parser.add_argument("--model", default=None, help="AEVS model (default: the shipped one)")
    parser.add_argument("--json", default=None, help=f"result JSON (default {DEFAULT_OUT}/runtimes.json)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default %(default)s)")
    parser.set_defaults(func=run)


class ForwardModeEncoder:
    """EncoderLinearization's batch-of-7 pass as an nn.Module without in-place writes.

    Biases and the input offset reach the primal (item 0) only through a one-hot batch weight,
    and each ReLU multiplies the batch by the primal's mask, so the same arithmetic as
    EncoderLinearization._push is one traceable graph.
    """

    def __new__(cls, linearization):
        import torch
        import torch.nn.functional as F
        from torch import nn

        from ..core.network.model import BasicBlock, InputNormalization

        folded = linearization.folded

        class Module(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = linearization.encoder
                primal = torch.zeros(7, 1, 1, 1, dtype=linearization.dtype)
                primal[0] = 1
                self.register_buffer("primal", primal)

            def forward(self, batch):
                return self.push(self.encoder, batch)

            def add_bias(self, x, bias):
                if bias is None:
                    return x
                shape = (1, -1) + (1,) * (x.dim() - 2)
                return x + self.primal.view((-1,) + (1,) * (x.dim() - 1)) * bias.view(shape)

            @staticmethod
            def relu(x):
                return x * (x[:1] > 0).to(x.dtype)

            def push(self, module, x):
                if isinstance(module, nn.Sequential):
                    for child in module:
                        x = self.push(child, x)
                    return x
                if isinstance(module, InputNormalization):
                    return x / module.std - self.primal * (module.mean / module.std)
                if isinstance(module, nn.Conv2d):
                    weight, bias = folded[module]
                    return self.add_bias(F.conv2d(x, weight, None, module.stride, module.padding,
                                                  module.dilation, module.groups), bias)
                if isinstance(module, nn.Linear):
                    weight, bias = folded[module]
                    return self.add_bias(F.linear(x, weight), bias)
                if isinstance(module, nn.ReLU):
                    return self.relu(x)
                if isinstance(module, (nn.Flatten, nn.Upsample)):
                    return module(x)
                if isinstance(module, BasicBlock):
                    if module.upsample is not None:
                        x = module.upsample(x)
                    branch = self.push(module.conv2, self.relu(self.push(module.conv1, x)))
                    identity = x if module.shortcut is None else self.push(module.shortcut, x)
                    return self.relu(branch + identity)
                raise TypeError(f"no forward-mode rule for layer {type(module).__name__}")

        return Module().eval()


def _inputs(model_path):
    """(image, L_I (h*w, 6) float32, the batch of 7) of the goal view the latency benchmark uses."""
    import numpy as np
    import torch

    from ..core.camera import default_camera
    from ..core.photometric import photometric_interaction
    from ..core.scene import PlanarScene
    from ..core.network.model import load_model
    from .cases import look_at_cases

    size = load_model(model_path).config.input_size
    camera = default_camera(size)
    image = PlanarScene.load().render(camera, look_at_cases(1)[0].goal_pose).image
    interaction = photometric_interaction(image, camera, 0.6).astype(np.float32)
    batch = torch.empty((7, 1, size, size))
    batch[0, 0] = torch.from_numpy(image)
    batch[1:, 0] = torch.from_numpy(interaction).T.reshape(6, size, size)
    return image, interaction, batch


def _runner(runtime: str, linearization, batch, threads: int, work_dir: Path):
    """A function batch -> (7, D) numpy array on ``runtime``."""
    import torch

    if runtime == "compile":
        compiled = torch.compile(ForwardModeEncoder(linearization), dynamic=False)
        return lambda tensor: compiled(tensor).numpy()
    onnx_path = work_dir / "encoder_batch7.onnx"
    torch.onnx.export(ForwardModeEncoder(linearization), (batch,), str(onnx_path), dynamo=False,
                      input_names=["batch"], output_names=["latent"], opset_version=17)
    if runtime == "onnxruntime":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        return lambda tensor: session.run(None, {"batch": tensor.numpy()})[0]
    if runtime == "openvino":
        import openvino

        core = openvino.Core()
        compiled = core.compile_model(core.read_model(str(onnx_path)), "CPU", {
            "INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32",
            "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1})
        request = compiled.create_infer_request()
        return lambda tensor: request.infer({0: tensor.numpy()})[compiled.output(0)].copy()
    raise ValueError(f"unknown runtime {runtime!r}")


def measure(runtime: str, threads: int, settings: dict) -> dict:
    """In a fresh process: ``steps`` passes of image + L_I -> z, L_z on one runtime."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from ..core.network.linearize import EncoderLinearization
    from ..core.network.model import load_model

    encoder = load_model(settings["model"]).model.encoder
    linearization = EncoderLinearization(encoder)
    image, interaction, batch = _inputs(settings["model"])
    image_t, interaction_t = torch.from_numpy(image), torch.from_numpy(interaction)
    latent, latent_interaction = (t.numpy() for t in linearization.latent_and_interaction(image_t, interaction_t))
    started = time.perf_counter()
    if runtime == "eager":
        def step():
            z, lz = linearization.latent_and_interaction(image_t, interaction_t)
            return z.numpy(), lz.numpy()
    elif runtime in EAGER_LAYOUTS:
        layout = getattr(torch, EAGER_LAYOUTS[runtime])

        def step():
            with torch.inference_mode():
                stacked = torch.empty((7, 1) + image.shape, memory_format=layout)
                stacked[0, 0] = image_t
                stacked[1:, 0] = interaction_t.T.reshape((6,) + image.shape)
                out = linearization._push(linearization.encoder, stacked)
                return out[0].numpy(), out[1:].T.contiguous().numpy()
    else:
        with tempfile.TemporaryDirectory() as work_dir:
            run_batch = _runner(runtime, linearization, batch, threads, Path(work_dir))

        def step():
            stacked = torch.empty((7, 1) + image.shape)
            stacked[0, 0] = image_t
            stacked[1:, 0] = interaction_t.T.reshape((6,) + image.shape)
            out = run_batch(stacked)
            return out[0], out[1:].T
    z, lz = step()
    prepared_s = time.perf_counter() - started
    for _ in range(WARM_UP_STEPS):
        step()
    seconds, cpu_seconds = [], []
    for _ in range(settings["steps"]):
        begun, cpu_begun = time.perf_counter(), time.process_time()
        step()
        seconds.append(time.perf_counter() - begun)
        cpu_seconds.append(time.process_time() - cpu_begun)
    values, cpu = np.asarray(seconds) * 1000, np.asarray(cpu_seconds) * 1000
    scale = max(float(np.abs(latent).max()), float(np.abs(latent_interaction).max()))
    difference = max(float(np.abs(z - latent).max()), float(np.abs(lz - latent_interaction).max()))
    # process CPU time: all of the runtime's threads; on one thread, the work without the waits
    # for a core that a busy machine adds to the wall clock
    return {"ms": {"median": float(np.median(values)), "p95": float(np.percentile(values, 95)),
                   "min": float(values.min()), "cpu_median": float(np.median(cpu))},
            "max_difference": difference, "relative_difference": difference / scale,
            "exact": difference <= settings["tolerance"] * scale, "prepare_s": prepared_s,
            "version": _version(RUNTIME_PACKAGES[runtime])}


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version({"onnxruntime": "onnxruntime", "openvino": "openvino", "torch": "torch"}[package])
    except PackageNotFoundError:
        return "unknown"


def multiply_adds(model_path) -> int:
    """Multiply-adds of one batch-of-7 pass: torch's flop counter (2 per multiply-add) over
    the convolutions and the linear layer; ReLU masks and bias additions are not counted."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..core.network.linearize import EncoderLinearization
    from ..core.network.model import load_model

    linearization = EncoderLinearization(load_model(model_path).model.encoder)
    _, _, batch = _inputs(model_path)
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        ForwardModeEncoder(linearization)(batch)
    return counter.get_total_flops() // 2


def fma_units(vendor: str, extension: str) -> int:
    """FMA instructions of ``extension`` a core issues per cycle: two on Intel cores since Haswell
    (Xeon Scalable's two AVX-512 ports) and on AMD's AVX2 cores; one on AMD's AVX-512 cores
    (Zen 4 splits a 512-bit FMA over its two 256-bit pipes)."""
    return 1 if vendor == "AuthenticAMD" and extension == "avx512f" else 2


def cpu_peak(units: int | None = None) -> dict:
    """The float32 multiply-add peak of this machine's cores, and how it was derived; ``units``
    overrides fma_units."""
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    flags = set(re.search(r"^flags\s*:\s*(.*)$", text, re.M).group(1).split()) if "flags" in text else set()
    lanes, extension = next(((n, name) for name, n in FMA_LANES if name in flags), (1, "scalar"))
    vendor = re.search(r"^vendor_id\s*:\s*(.*)$", text, re.M)
    vendor = vendor.group(1).strip() if vendor else "unknown"
    fma_units_per_core = 0 if "fma" not in flags else units or fma_units(vendor, extension)
    model = re.search(r"^model name\s*:\s*(.*)$", text, re.M)
    megahertz = re.search(r"^cpu MHz\s*:\s*([\d.]+)", text, re.M)
    clock_ghz = float(megahertz.group(1)) / 1000 if megahertz else float("nan")
    cores = os.cpu_count() or 1
    per_core = clock_ghz * lanes * fma_units_per_core  # G multiply-adds per second
    return {"cpu": model.group(1) if model else "unknown", "vendor": vendor, "cores": cores, "clock_ghz": clock_ghz,
            "vector_extension": extension, "fma_lanes": lanes, "fma_units_per_core": fma_units_per_core,
            "peak_gmac_per_s_per_core": per_core, "peak_gmac_per_s": per_core * cores,
            "derivation": f"{cores} cores x {clock_ghz:.2f} GHz (/proc/cpuinfo) x {lanes} float32 lanes "
                          f"({extension}) x {fma_units_per_core} FMA per cycle per core ({vendor})"}


def measured_sgemm_rate(threads: int = 1) -> float:
    """G multiply-adds per second of one large float32 matrix product (torch, MKL): a check on
    the assumed FMA units (one unit caps it at clock x lanes per core)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(1536, 1536), torch.randn(1536, 1536)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(10))
    return 1536 ** 3 / best / 1e9


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def run(args) -> int:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from ..core.outcome import write_json
    from . import machine_info, model_paths, thread_environment

    runtimes = [name.strip() for name in args.runtimes.split(",") if name.strip()]
    try:
        thread_counts = [int(n) for n in args.threads.split(",")]
    except ValueError:
        thread_counts = []
    if (any(name not in RUNTIMES for name in runtimes) or not thread_counts or min(thread_counts) < 1
            or args.steps < 1 or args.repeats < 1):
        print(f"aevs bench runtimes: error: --runtimes from {','.join(RUNTIMES)}; --threads, --steps, --repeats positive")
        return 2
    model = model_paths(aevs=args.model)["aevs"]
    if not model or not Path(model).is_file():
        print(f"aevs bench runtimes: skipped: no AEVS model file ({model})")
        return 0
    settings = {"model": model, "steps": args.steps, "tolerance": args.tolerance}
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        macs = pool.submit(multiply_adds, model).result()
        sgemm = pool.submit(measured_sgemm_rate, 1).result()
    peak = cpu_peak(args.fma_units)
    peak["measured_sgemm_gmac_per_s_one_thread"] = sgemm
    print(f"AEVS encoder, batch of 7 (z and L_z), {Path(model).name}: {macs / 1e6:.1f} M multiply-adds per step")
    print(f"  peak {peak['peak_gmac_per_s']:.1f} G multiply-adds/s = {peak['derivation']}; "
          f"one large sgemm on one thread reached {sgemm:.1f}")
    print(f"  {'runtime':20s}{'threads':>8s}{'median ms':>11s}{'CPU ms':>9s}{'p95 ms':>9s}{'GMAC/s':>9s}{'of peak':>9s}"
          f"{'rel. diff':>11s}  exact")
    runs: dict[tuple[str, int], list[dict]] = {}
    skipped = {}
    for _ in range(args.repeats):
        for runtime in runtimes:
            package = RUNTIME_PACKAGES[runtime]
            if importlib.util.find_spec(package) is None:
                skipped[runtime] = f"{package} is not installed"
                continue
            for threads in thread_counts:
                try:
                    with thread_environment(threads):
                        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
                            runs.setdefault((runtime, threads), []).append(
                                pool.submit(measure, runtime, threads, settings).result())
                except Exception as exc:  # a runtime that cannot take the model is a result, not a crash
                    skipped[f"{runtime}/{threads}"] = f"failed: {type(exc).__name__}: {str(exc)[:300]}"
    results = [{"runtime": name, "skipped": reason} for name, reason in skipped.items()]
    for name, reason in skipped.items():
        print(f"  {name:20s} {reason}")
    for (runtime, threads), measured in runs.items():
        result = dict(measured[0])
        result["ms"] = {key: min(run["ms"][key] for run in measured) for key in measured[0]["ms"]}
        result["runs_median_ms"] = [run["ms"]["median"] for run in measured]
        result["exact"] = all(run["exact"] for run in measured)
        rate = macs / (result["ms"]["median"] / 1000) / 1e9
        result.update(runtime=runtime, threads=threads, gmac_per_s=rate, share_of_peak=rate / peak["peak_gmac_per_s"])
        results.append(result)
        print(f"  {runtime:20s}{threads:8d}{result['ms']['median']:11.2f}{result['ms']['cpu_median']:9.2f}"
              f"{result['ms']['p95']:9.2f}"
              f"{rate:9.1f}{result['share_of_peak']:9.1%}{result['relative_difference']:11.1e}  "
              f"{'yes' if result['exact'] else 'NO'}")
    exact = [r for r in results if r.get("exact")]
    fastest = min(exact, key=lambda r: r["ms"]["median"]) if exact else None
    if fastest:
        print(f"  fastest exact: {fastest['runtime']} on {fastest['threads']} thread(s), "
              f"{fastest['ms']['median']:.2f} ms, {fastest['share_of_peak']:.1%} of the peak "
              "(medians: the lowest of the alternating runs)")
    report = {"model": model, "multiply_adds": macs, "tolerance": args.tolerance, "steps": args.steps,
              "repeats": args.repeats,
              "peak": peak, "results": results, "fastest_exact": fastest and
              {key: fastest[key] for key in ("runtime", "threads", "gmac_per_s", "share_of_peak")},
              "machine": machine_info()}
    path = output_path(args.out, args.json, "runtimes")
    write_json(report, path)
    print(f"  written to {path}")
    return 0
