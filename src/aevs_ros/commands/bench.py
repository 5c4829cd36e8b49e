"""`aevs bench <name>`: the benchmarks, one module of aevs_ros.bench each."""
from __future__ import annotations

import argparse
import importlib
import importlib.util

# In the order `aevs bench --help` lists them.
BENCHMARKS = ("fit_pca", "latency", "table1", "landscape", "sweep_latent", "sweep_depth", "sweep_loss", "difficulty",
              "loop", "soak", "faults", "robustness", "visp", "runtimes", "unseen_scenes")

DESCRIPTION = """\
Benchmarks of the feature families (dvs, pca, dct, aevs) in simulation. Each prints its
numbers and writes JSON (--json) and PNG figures (--out, default bench_results/).
A learned family (pca, aevs) whose model file is missing is skipped with a message.

examples:
  aevs bench fit-pca --out models/pca_default.npz   # the PCA basis the other benchmarks use
  aevs bench latency --methods dvs,dct,pca           # per-step time of the servo loop
  aevs bench table1 --cases 50 --methods dvs,pca,dct # the paper's Table I on 50+50 cases
  aevs bench landscape                               # the paper's Fig. 3 cost landscapes
  aevs bench loop --load 1                           # servo_node through ROS, one busy process beside it
  aevs bench soak --runs 20 --method aevs            # the sim graph 20 times: outcomes, faults
  aevs bench faults                                  # break the sim graph on purpose: halts, reasons, recovery
  aevs bench unseen-scenes                           # do I need to train for my scene?
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="benchmarks: latency, Table I convergence, cost landscapes, latent size",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    benchmarks = parser.add_subparsers(title="benchmarks", metavar="<benchmark>", required=True)
    for name in BENCHMARKS:
        module = _benchmark_module(name)
        if module is not None:
            module.add_parser(benchmarks)


def _benchmark_module(name):
    """The module of a benchmark, or None while it is not written yet (a broken one raises)."""
    module_name = f"aevs_ros.bench.{name}"
    if importlib.util.find_spec(module_name) is None:
        return None
    return importlib.import_module(module_name)
