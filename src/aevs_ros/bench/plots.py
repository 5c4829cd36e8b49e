"""Figures of the benchmarks (matplotlib, Agg backend): each function writes one PNG and returns its path."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, layout_rect=(0, 0, 1, 1)) -> Path:
    """Write the figure; ``layout_rect`` is the part of it the axes may fill (room for a legend)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=layout_rect)
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def plot_convergence_rates(results: dict, tests: list[str], methods: list[str], path) -> Path:
    """Grouped bars per test: strict convergence rate (solid) and loose rate (outline) per method."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(2.2 + 1.6 * len(tests) * len(methods) / 2, 4))
    width = 0.8 / len(methods)
    for index, method in enumerate(methods):
        x = np.arange(len(tests)) + (index - (len(methods) - 1) / 2) * width
        strict = [100 * (results[test][method]["converged_rate"] or 0) for test in tests]
        loose = [100 * (results[test][method]["converged_rate_loose"] or 0) for test in tests]
        bars = ax.bar(x, strict, width * 0.9, label=method)
        ax.bar(x, loose, width * 0.9, fill=False, edgecolor=bars.patches[0].get_facecolor(), linestyle="--")
        for xi, value in zip(x, strict):
            ax.text(xi, value + 1, f"{value:.0f}", ha="center", fontsize=8)
    ax.set_xticks(np.arange(len(tests)), [test.replace("_", "-") for test in tests])
    ax.set_ylabel("converged [%] (dashed: loose criterion)")
    ax.set_ylim(0, 110)
    ax.legend(ncol=len(methods), fontsize=8, loc="lower center")
    ax.set_title("convergence rate per method and test set")
    return _save(fig, path)


def plot_end_errors(records: list[dict], tests: list[str], methods: list[str], path) -> Path:
    """Final translation and rotation errors of every run (log scale), with the 1 cm / 1 deg bounds."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, len(tests), figsize=(4.5 * len(tests), 7), squeeze=False)
    rng = np.random.default_rng(0)  # horizontal jitter only
    for column, test in enumerate(tests):
        panels = [("end_error_mm", "mm", 10.0), ("end_error_deg", "deg", 1.0)]
        for row, (key, unit, bound) in enumerate(panels):
            ax = axes[row, column]
            for index, method in enumerate(methods):
                runs = [r for r in records if r["test"] == test and r["method"] == method]
                values = np.maximum([r[key] for r in runs], 1e-6)
                colours = ["tab:green" if r["converged"] else "tab:red" for r in runs]
                ax.scatter(index + rng.uniform(-0.25, 0.25, len(values)), values, s=6, c=colours, alpha=0.6)
            ax.axhline(bound, color="k", lw=0.8, ls="--")
            ax.set_yscale("log")
            ax.set_xticks(range(len(methods)), methods)
            ax.set_ylabel(f"final error [{unit}]")
            ax.set_title(f"{test.replace('_', '-')}: final {'translation' if row == 0 else 'rotation'} error"
                         " (green: converged)", fontsize=9)
    return _save(fig, path)


def plot_landscapes(grids: dict, offsets_m: np.ndarray, path) -> Path:
    """Heat maps of the cost |s - s*|^2 over x/y camera translations, one panel per method (Fig. 3)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(grids), figsize=(4.2 * len(grids), 3.8), squeeze=False)
    extent = [offsets_m[0] * 100, offsets_m[-1] * 100, offsets_m[0] * 100, offsets_m[-1] * 100]
    for ax, (method, cost) in zip(axes[0], grids.items()):
        image = ax.imshow(cost, origin="lower", extent=extent, cmap="viridis", aspect="equal")
        ax.plot(0, 0, "r+", ms=10)
        ax.set_xlabel("t_x, camera frame [cm]")
        ax.set_ylabel("t_y, camera frame [cm]")
        ax.set_title(f"{method}: ‖s − s*‖²")
        fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)


def plot_latent_sweep(sizes: list[int], rates: dict, path) -> Path:
    """Convergence rate against latent size per test set (the paper's Fig. 5a)."""
    return _plot_rate_sweep(sizes, rates, path, "latent size D", "AEVS convergence rate vs latent size", log2=True)


def plot_depth_sweep(depths: list[int], rates: dict, path) -> Path:
    """Convergence rate against the number of active residual blocks per test set (the paper's Fig. 5b)."""
    return _plot_rate_sweep(depths, rates, path, "active residual blocks (encoder and decoder)",
                            "AEVS convergence rate vs network depth")


def plot_loss_sweep(spread: dict, path) -> Path:
    """Convergence rate per loss and test set across seeds: median (bar), min-max (error bar) and
    each seed (dots), as the paper's Fig. 4."""
    plt = _pyplot()
    losses = list(spread)
    tests = list(next(iter(spread.values())))
    fig, ax = plt.subplots(figsize=(5, 3.8))
    width = 0.8 / len(losses)
    for index, loss in enumerate(losses):
        positions = [test_index + (index - (len(losses) - 1) / 2) * width for test_index in range(len(tests))]
        medians = [100 * spread[loss][test]["median"] for test in tests]
        low = [medians[i] - 100 * spread[loss][test]["min"] for i, test in enumerate(tests)]
        high = [100 * spread[loss][test]["max"] - medians[i] for i, test in enumerate(tests)]
        seeds = len(spread[loss][tests[0]]["rates"])
        ax.bar(positions, medians, width * 0.9, yerr=[low, high], capsize=4, alpha=0.75,
               label=f"{loss} ({seeds} seeds)")
        for position, test in zip(positions, tests):
            rates = [100 * rate for rate in spread[loss][test]["rates"]]
            ax.plot([position] * len(rates), rates, "k.", markersize=4)
    ax.set_xticks(range(len(tests)), [test.replace("_", "-") for test in tests])
    ax.set_ylabel("converged [%]: median, min-max, seeds")
    ax.set_ylim(0, 105)
    ax.legend(loc="lower right")
    ax.set_title("AEVS convergence rate per training loss")
    return _save(fig, path)


def _plot_rate_sweep(values: list[int], rates: dict, path, xlabel: str, title: str, log2: bool = False) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.8))
    for test, test_rates in rates.items():
        ax.plot(values, [100 * v for v in test_rates], "o-", label=test.replace("_", "-"))
    if log2:
        ax.set_xscale("log", base=2)
    ax.set_xticks(values, [str(value) for value in values])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("converged [%]")
    ax.set_ylim(0, 105)
    ax.legend()
    ax.set_title(title)
    return _save(fig, path)


def plot_scene_split(training: dict, held_out: dict, path) -> Path:
    """Thumbnails of the general model's training scenes (top) and held-out scenes (bottom)."""
    plt = _pyplot()
    columns = max(len(training), len(held_out))
    fig, axes = plt.subplots(2, columns, figsize=(1.5 * columns, 3.4), squeeze=False)
    for row, (title, scenes) in enumerate((("training", training), ("held out", held_out))):
        for column in range(columns):
            ax = axes[row, column]
            ax.axis("off")
            if column < len(scenes):
                name, image = list(scenes.items())[column]
                ax.imshow(image, cmap="gray", vmin=0, vmax=1)
                ax.set_title(name, fontsize=7)
        axes[row, 0].text(-0.15, 0.5, title, transform=axes[row, 0].transAxes, rotation=90,
                          va="center", ha="right", fontsize=9)
    fig.suptitle("bundled scenes (skimage:NAME): what the general model trains on, and what it never sees",
                 fontsize=9)
    return _save(fig, path)


def plot_unseen_scenes(results: dict, rows: list[str], labels: dict, tests: list[str], path) -> Path:
    """Per test set, grouped bars: the convergence rate of every row on every scene."""
    plt = _pyplot()
    scenes = list(results)
    fig, axes = plt.subplots(len(tests), 1, figsize=(max(7.0, 1.2 + 0.5 * len(scenes) * len(rows)),
                                                     1.0 + 2.6 * len(tests)), squeeze=False)
    width = 0.85 / len(rows)
    for ax, test in zip(axes[:, 0], tests):
        for index, row in enumerate(rows):
            x = np.arange(len(scenes)) + (index - (len(rows) - 1) / 2) * width
            kept = [column for column, scene in enumerate(scenes) if row in results[scene]]
            if not kept:
                continue
            rates = [100 * (results[scenes[column]][row][test]["converged_rate"] or 0) for column in kept]
            ax.bar(x[kept], rates, width * 0.92, label=labels[row], color=f"C{index}")
            for xi, value in zip(x[kept], rates):
                ax.text(xi, value + 1, f"{value:.0f}", ha="center", fontsize=6)
        ax.set_xticks(np.arange(len(scenes)), scenes)
        ax.set_ylabel(f"{test.replace('_', '-')}: converged [%]")
        ax.set_ylim(0, 112)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, ncol=min(3, len(rows)), fontsize=7, loc="lower center")
    axes[0, 0].set_title("scenes no model saw: no training, fine-tuning, or a model of the scene's own", fontsize=9)
    return _save(fig, path, layout_rect=(0, 0.05 + 0.04 * ((len(rows) - 1) // 3), 1, 1))


def plot_difficulty_rates(results: dict, sigmas: list[float], methods: list[str], path) -> Path:
    """Convergence rate per method against the batches' x/y standard deviation (the paper's Fig. 6a)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    styles = zip(("o", "s", "^", "D", "v", "P"), ("-", "--", "-.", ":", "-", "--"))
    for method, (marker, line) in zip(methods, styles):
        ax.plot(sigmas, [100 * results[f"{sigma:g}"][method]["converged_rate"] for sigma in sigmas],
                marker=marker, ls=line, ms=5, label=method)
    ax.set_xscale("log")
    ax.set_xticks(sigmas, [f"{sigma:g}" for sigma in sigmas])
    ax.minorticks_off()
    ax.set_xlabel("start offset σ on x/y [cm] (z: σ/2)")
    ax.set_ylabel("converged [%]")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    cases = results[f"{sigmas[0]:g}"][methods[0]]["cases"]
    ax.set_title(f"convergence per difficulty batch ({cases} cases each)")
    return _save(fig, path)


def plot_difficulty_paths(trajectories: dict, records: list[dict], sigmas: list[float], methods: list[str],
                          goal_position, path) -> Path:
    """Camera paths in 3-D, one panel per method, coloured by batch; crosses mark the starts of the
    runs that did not converge (the paper's Fig. 6b)."""
    plt = _pyplot()
    fig = plt.figure(figsize=(4.6 * len(methods), 4.8))
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(sigmas)))
    labels = {f"sigma_{sigma:g}cm": (f"σ {sigma:g} cm", colour) for sigma, colour in zip(sigmas, colours)}
    for column, method in enumerate(methods):
        ax = fig.add_subplot(1, len(methods), column + 1, projection="3d")
        failed = 0
        for record in (r for r in records if r["method"] == method):
            label, colour = labels[record["test"]]
            positions = trajectories[(record["test"], record["case"], method)]
            positions = positions[:: max(1, len(positions) // 150)]  # enough points for a smooth line
            ax.plot(*positions.T, color=colour, lw=0.6, alpha=0.7)
            if record["converged"]:
                ax.scatter(*positions[0], color=colour, s=6)
            else:
                failed += 1
                ax.scatter(*positions[0], color=colour, marker="x", s=40, linewidths=1.5)
        ax.scatter(*goal_position, color="red", marker="*", s=120, zorder=5)
        ax.set_xlabel("x [m]", fontsize=8)
        ax.set_ylabel("y [m]", fontsize=8)
        ax.set_zlabel("z [m]", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{method}: {failed} not converged (x)", fontsize=10)
    handles = [plt.Line2D([], [], color=colour, label=label) for label, colour in labels.values()]
    handles.append(plt.Line2D([], [], color="red", marker="*", ls="", label="goal"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8)
    fig.subplots_adjust(bottom=0.12)
    return _save(fig, path)


def example_figures(examples, results, out) -> list:
    """Fig. 7-style figures of table1's example runs: 3-D camera path, per-axis pose error,
    start/goal/final images."""
    from ..core.plotting import plot_servo_run
    from .convergence import case_record

    figures = []
    for (case, method), result in zip(examples, results):
        record = case_record(case, result)
        title = (f"{method}, {case.test} case {case.index}: {result.stop_reason}, final error "
                 f"{record['end_error_mm']:.3g} mm, {record['end_error_deg']:.3g} deg")
        figures.append(plot_servo_run(result, out / f"table1_example_{case.test}_{case.index}_{method}.png",
                                      title))
    return figures
