"""Benchmarks behind `aevs bench <name>`: one module per benchmark, each with add_parser(subparsers).

This package holds what they share: the feature families to compare, how to build them (a
learned family whose model file is missing is skipped with the reason, not fatal), the
machine facts every result records, and the single-thread environment of worker processes.
"""
from __future__ import annotations

import argparse
import os
import platform
from contextlib import contextmanager
from pathlib import Path

from ..core.features.registry import FEATURE_FAMILIES, LEARNED_FAMILIES

#: every feature family, the default of each benchmark's --methods
METHODS = FEATURE_FAMILIES
DEFAULT_OUT = "bench_results"
#: Environment variables that size the BLAS / OpenMP thread pools of numpy and torch. They are
#: read when those libraries load, so they only take effect in processes started afterwards.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: glibc's allocator hands the freed MB-sized numpy temporaries of every frame back to the OS
#: and page-faults them in again on the next one; with these it keeps them (read at start-up;
#: README "Benchmarks" has the gain). Numerical results do not change.
KEEP_FREED_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(64 << 20), "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}


def benchmark_parser(subparsers, name: str, help_text: str, module_doc: str, more: str = ''):
    """The parser of `aevs bench <name>`: its module's docstring (less the summary line), then
    ``more`` (examples), as the description, laid out as written."""
    return subparsers.add_parser(name, help=help_text, description=module_doc.split('\n', 1)[1].strip() + more,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)


def parse_methods(text: str) -> list[str]:
    """'dvs,pca' -> ['dvs', 'pca'], rejecting unknown names (argparse type)."""
    methods = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in methods if name not in METHODS]
    if unknown or not methods:
        raise argparse.ArgumentTypeError(
            f"unknown method(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(METHODS)}")
    return methods


def model_paths(pca: str | None = None, aevs: str | None = None,
                siame: str | None = None) -> dict[str, str | None]:
    """The model file of each learned family: the one given (the benchmarks' --pca, --model and
    --siame options), else the shipped one (or None)."""
    from ..resources import default_model_path

    given = {"pca": pca, "aevs": aevs, "siame": siame}
    paths = {}
    for method in LEARNED_FAMILIES:
        path = given.get(method) or default_model_path(method)
        paths[method] = str(path) if path else None
    return paths


def missing_model(method: str, paths: dict) -> str | None:
    """Why a learned family cannot run (no model file), or None: a cheap check before loading."""
    if method not in LEARNED_FAMILIES:
        return None
    if not paths.get(method):
        return f"no {method} model file (none given and none shipped in models/)"
    if not Path(paths[method]).is_file():
        return f"{method} model file not found: {paths[method]}"
    return None


def build_features(methods, camera, depth: float, paths: dict) -> tuple[dict, dict]:
    """({method: Feature}, {method: why it was skipped}) for the methods that can be built.

    A learned family without a usable model file is skipped with the reason; any other error
    propagates.
    """
    from ..core.errors import ModelError
    from ..core.features.registry import make_feature

    features, skipped = {}, {}
    for method in methods:
        if reason := missing_model(method, paths):
            skipped[method] = reason
            continue
        try:
            features[method] = make_feature(method, camera, depth, model_path=paths.get(method))
        except ModelError as exc:
            skipped[method] = str(exc)
    return features, skipped


def report_skipped(skipped: dict) -> None:
    for method, reason in skipped.items():
        print(f"  skipping {method}: {reason}")


def machine_info() -> dict:
    """Facts that explain timings: cores, load while running, library versions."""
    import numpy

    return {"cpu_count": os.cpu_count(), "load_average": list(os.getloadavg()),
            "python": platform.python_version(), "numpy": numpy.__version__,
            "platform": platform.platform()}


@contextmanager
def thread_environment(threads: int, keep_freed_memory: bool = False):
    """Processes started inside get ``threads`` BLAS/OpenMP threads and, if asked, the
    allocator settings of KEEP_FREED_MEMORY (the parent's environment is restored on exit).

    Servo-sized matrix products are slower on several threads than on one, and parallel
    workers must not oversubscribe the cores.
    """
    from ..ros_domain import environment

    variables = {name: str(threads) for name in THREAD_VARIABLES}
    if keep_freed_memory:
        variables.update(KEEP_FREED_MEMORY)
    with environment(**variables):
        yield


def config_overrides(config_class, assignments) -> dict:
    """{'gain': 20.0} from ['gain=20'] for a config dataclass, each value parsed as its field's type.

    Lets benchmarks take any ServoConfig / SimConfig setting from the command line, including
    settings added to the core later. Raises ConfigurationError for an unknown name or bad value.
    """
    from dataclasses import MISSING, fields

    from ..core.errors import ConfigurationError

    known = {field.name: field for field in fields(config_class)}
    overrides = {}
    for assignment in assignments or ():
        name, _, text = assignment.partition("=")
        if name not in known or not text:
            raise ConfigurationError(
                f"expected NAME=VALUE with NAME one of {', '.join(known)}, got {assignment!r}")
        default = known[name].default if known[name].default is not MISSING else None
        parse = float if default is None else _parse_bool if isinstance(default, bool) else type(default)
        try:
            overrides[name] = parse(text)
        except ValueError:
            raise ConfigurationError(f"{name}: cannot read {text!r} as {parse.__name__}") from None
    return overrides


def _parse_bool(text: str) -> bool:
    """'true' / 'false' (also 1/0, yes/no, on/off): bool('false') would be True."""
    words = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}
    if text.lower() not in words:
        raise ValueError(text)
    return words[text.lower()]


def output_path(out_dir: str | Path, json_path: str | None, name: str) -> Path:
    """--json if given, else <out>/<name>.json."""
    return Path(json_path) if json_path else Path(out_dir) / f"{name}.json"


def write_report(args, name: str, report: dict, table: str) -> tuple[Path, Path]:
    """Write a benchmark's JSON (--json, else <out>/<name>.json) and <out>/<name>.md (the
    Markdown table and the report's criterion); returns (JSON path, Markdown path)."""
    from ..core.outcome import write_json

    json_path, markdown_path = output_path(args.out, args.json, name), Path(args.out) / f"{name}.md"
    write_json(report, json_path)
    markdown_path.parent.mkdir(parents=True, exist_ok=True)
    markdown_path.write_text(f"{table}\n\n{report['criterion']}\n")
    return json_path, markdown_path
