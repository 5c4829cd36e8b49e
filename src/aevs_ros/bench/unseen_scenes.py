"""`aevs bench unseen-scenes`: do I need to train for my scene? Every option on scenes no model saw.

On each scene (default: the held-out ones of core/scene_catalog.py, which no training, tuning
or choice of the general model ever saw), the same Table I cases for these rows:
  dvs, dct        need no model;
  pca             the general PCA basis (fitted on the training scenes' views);
  aevs_default    the shipped model of the default scene, used as it is;
  aevs_general    the general model, with no training on the scene (zero-shot);
  aevs_finetuned  the general model fine-tuned on the scene (aevs train --init) for a few minutes;
  aevs_scene      a model trained on the scene alone with config/train.yaml (the per-scene way).
Each AEVS row states the minutes of training it cost on this machine. Trained models are kept
in <out>/unseen_scenes/<scene>/ and reused while their settings are unchanged, and the JSON,
table and figure are rewritten after every scene, so a run stopped early keeps what it finished.

SLOW: a per-scene model is a full default training (about half an hour on two idle cores);
--per-scene-model SCENE=PATH reuses one trained before, and --rows leaves rows out.
"""
from __future__ import annotations

import argparse

from . import DEFAULT_OUT, benchmark_parser, write_report

ROWS = {"dvs": "DVS", "pca": "PCA-VS, general basis", "dct": "DCT-VS",
        "aevs_default": "AEVS, default-scene model", "aevs_general": "AEVS, general model",
        "aevs_finetuned": "AEVS, fine-tuned from general", "aevs_scene": "AEVS, trained on the scene"}
#: The general model and basis shipped in models/ (relative to the share directory).
GENERAL_MODEL, GENERAL_PCA = "models/aevs_general.pt", "models/pca_general.npz"
#: TrainConfig fields of the network, taken from the general model when fine-tuning it.
NETWORK_SETTINGS = ("input_size", "latent_dim", "stage_channels", "blocks_per_stage", "active_blocks")


def _rows(text: str) -> list[str]:
    rows = [row.strip() for row in text.split(",") if row.strip()]
    unknown = [row for row in rows if row not in ROWS]
    if unknown or not rows:
        raise argparse.ArgumentTypeError(f"rows are {', '.join(ROWS)}, got {text!r}")
    return rows


def _scene_model(text: str) -> tuple[str, str]:
    scene, separator, path = text.partition("=")
    if not separator or not scene or not path:
        raise argparse.ArgumentTypeError(f"expected SCENE=PATH, got {text!r}")
    return scene, path


def add_parser(subparsers) -> None:
    from .table1 import parse_tests

    parser = benchmark_parser(
        subparsers, "unseen-scenes", "every method, and AEVS general / fine-tuned / per-scene, on scenes "
        "no model saw (trains models: slow)", __doc__,
        "\n\nexamples:\n"
        "  aevs bench unseen-scenes --cases 20 --rows dvs,aevs_general   # a quick zero-shot look\n"
        "  aevs bench unseen-scenes --per-scene-model skimage:coffee=coffee.pt\n"
        "  aevs bench unseen-scenes                                      # every row, 4 held-out scenes")
    parser.add_argument("--scenes", action="append", default=None, metavar="SCENE",
                        help="scene entries as for aevs train --scene (repeatable; default skimage:held-out)")
    parser.add_argument("--rows", type=_rows, default=list(ROWS), help=f"comma-separated (default {','.join(ROWS)})")
    parser.add_argument("--cases", type=int, default=100, help="cases per test set (default %(default)s)")
    parser.add_argument("--tests", type=parse_tests, default=["look_at", "screw"],
                        help="comma-separated test sets (default look_at,screw)")
    parser.add_argument("--iterations", type=int, default=1500, help="iteration budget (default %(default)s)")
    parser.add_argument("--servo", action="append", default=[], metavar="NAME=VALUE",
                        help="a core.servo.ServoConfig setting for every row (repeatable)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--general-model", default=None, help=f"general AEVS model (default {GENERAL_MODEL})")
    parser.add_argument("--general-pca", default=None, help=f"general PCA basis (default {GENERAL_PCA})")
    parser.add_argument("--finetune-images", type=int, default=3000,
                        help="training views of the scene for fine-tuning (default %(default)s)")
    parser.add_argument("--finetune-epochs", type=int, default=4, help="fine-tuning epochs (default %(default)s)")
    parser.add_argument("--per-scene-model", type=_scene_model, action="append", default=[],
                        metavar="SCENE=PATH", help="a model already trained on that scene alone (repeatable)")
    parser.add_argument("--train-per-scene", action=argparse.BooleanOptionalAction, default=True,
                        help="train a per-scene model where --per-scene-model names none (default: yes; "
                             "--no-train-per-scene leaves the aevs_scene row out on those scenes)")
    parser.add_argument("--retrain", action="store_true", help="train again even if a kept model matches")
    parser.add_argument("--json", default=None, help=f"result JSON (default {DEFAULT_OUT}/unseen_scenes.json)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder of the results (default %(default)s)")
    parser.set_defaults(func=run)


def _label(scene_entry: str) -> str:
    from pathlib import Path

    from ..core.scene_catalog import PREFIX

    return scene_entry[len(PREFIX):] if scene_entry.startswith(PREFIX) else Path(scene_entry).stem


def _shipped(path: str | None, relative: str) -> str:
    from .. import share_dir

    return str(path or share_dir() / relative)


def _training(args, scene_entry: str, folder, general_model: str) -> dict:
    """{row: training record} of the AEVS rows that need a model trained on the scene."""
    from dataclasses import asdict

    from .. import share_dir
    from ..learning.config import load_train_config
    from .model_sweep import train_or_reuse

    preset = share_dir() / "config" / "train.yaml"
    given = dict(args.per_scene_model)
    records = {}
    if "aevs_finetuned" in args.rows:
        from ..core.network.model import load_model

        network = asdict(load_model(general_model).config)  # the network the weights fit
        config = load_train_config(preset, {
            **{name: network[name] for name in NETWORK_SETTINGS},
            "scene": scene_entry, "init": general_model, "train_images": args.finetune_images,
            "val_images": max(100, args.finetune_images // 10), "epochs": args.finetune_epochs,
            "out": str(folder / "aevs_finetuned.pt"), "work_dir": str(folder / "work_finetuned"),
            "progress": False})
        records["aevs_finetuned"] = train_or_reuse(config, f"{_label(scene_entry)} fine-tuned",
                                                   "aevs bench unseen-scenes (fine-tuning)", args.retrain)
    if "aevs_scene" in args.rows:
        if scene_entry in given:
            from ..core.network.model import load_model

            seconds = load_model(given[scene_entry]).metadata.get("training_seconds")
            records["aevs_scene"] = {"model": given[scene_entry], "reused": True, "training_seconds": seconds}
        elif args.train_per_scene:
            config = load_train_config(preset, {
                "scene": scene_entry, "out": str(folder / "aevs_scene.pt"),
                "work_dir": str(folder / "work_scene"), "progress": False})
            records["aevs_scene"] = train_or_reuse(config, f"{_label(scene_entry)} per-scene",
                                                   "aevs bench unseen-scenes (per-scene)", args.retrain)
    return records


def _row_models(row: str, general_model: str, general_pca: str, training: dict) -> tuple[str, dict]:
    """(feature family, its model files) of a row."""
    from . import model_paths

    if row in training:
        return "aevs", model_paths(general_pca, training[row]["model"])
    if row == "aevs_general":
        return "aevs", model_paths(general_pca, general_model)
    if row == "aevs_default":
        return "aevs", model_paths(general_pca, None)
    return row, model_paths(general_pca, general_model)


def evaluate_scene(args, scene_entry: str, servo, sim, general_model: str, general_pca: str) -> dict:
    """{row: {test: summary, "training_minutes", "model"}} on one scene."""
    from dataclasses import asdict
    from pathlib import Path

    from ..core.camera import default_camera
    from ..core.features.registry import model_input_shape
    from ..core.scene import PlanarScene
    from .convergence import summarize_all
    from .table1 import evaluate, prepare_cases, worker_count

    camera = default_camera(model_input_shape("aevs", general_model)[1])
    scene = PlanarScene.load(scene_entry)
    print(f"\n== {scene.name} (fingerprint {scene.fingerprint})")
    folder = Path(args.out) / "unseen_scenes" / _label(scene_entry)
    folder.mkdir(parents=True, exist_ok=True)
    training = _training(args, scene_entry, folder, general_model)
    cases, dropped = prepare_cases(args.tests, args.cases, scene, camera, sim.min_visible_fraction)
    workers = worker_count(args.workers, sum(map(len, cases.values())))
    results = {}
    for row in args.rows:
        if row == "aevs_scene" and row not in training:
            print(f"{ROWS[row]}: left out (no --per-scene-model for {scene_entry}, --no-train-per-scene)")
            continue
        method, models = _row_models(row, general_model, general_pca, training)
        settings = {"methods": [method], "size": camera.width, "scene": scene_entry, "models": models,
                    "servo": asdict(servo), "sim": asdict(sim)}
        records, _, seconds = evaluate(cases, settings, workers)
        summaries = summarize_all(records, cases, dropped, [method])
        seconds_trained = training.get(row, {}).get("training_seconds")
        results[row] = {**{test: summaries[test][method] for test in args.tests},
                        "model": models.get(method), "evaluation_wall_s": seconds,
                        "training_minutes": None if seconds_trained is None else seconds_trained / 60}
        print(f"{ROWS[row]}: " + ", ".join(f"{test} {summaries[test][method]['converged_rate']:.0%}"
                                           for test in args.tests))
    return results


def markdown(results: dict, rows: list[str], tests: list[str]) -> str:
    def cell(summary):
        rate = f"{100 * (summary['converged_rate'] or 0):.0f} %"
        error = summary["median_end_error_mm"]
        return rate if error is None else f"{rate} ({error:.3f} mm)"

    lines = ["| scene | row | " + " | ".join(f"{test.replace('_', '-')} (median end error)" for test in tests)
             + " | training [min] |", "| --- " * (3 + len(tests)) + "|"]
    for scene, scene_results in results.items():
        for row in rows:
            if row in scene_results:
                entry = scene_results[row]
                minutes = "-" if entry["training_minutes"] is None else f"{entry['training_minutes']:.1f}"
                lines.append(f"| {scene} | {ROWS[row]} | " + " | ".join(cell(entry[test]) for test in tests)
                             + f" | {minutes} |")
    return "\n".join(lines)


def run(args) -> int:
    from dataclasses import asdict
    from pathlib import Path

    from ..core.errors import AevsError
    from ..core.scene import PlanarScene
    from ..core.scene_catalog import HELD_OUT_SCENES, PREFIX, TRAINING_SCENES, expand
    from . import machine_info
    from .convergence import criterion_text
    from .plots import plot_scene_split, plot_unseen_scenes
    from .table1 import simulation_law

    if min(args.cases, args.iterations, args.finetune_images, args.finetune_epochs) < 1:
        print("aevs bench unseen-scenes: error: --cases, --iterations and the fine-tuning budget must be positive")
        return 2
    try:
        servo, sim = simulation_law(args.servo, args.iterations)
        scenes = [single for entry in (args.scenes or ["skimage:held-out"]) for single in expand(entry)]
        general_model = _shipped(args.general_model, GENERAL_MODEL)
        general_pca = _shipped(args.general_pca, GENERAL_PCA)
        for path in (general_model, general_pca):
            if not Path(path).is_file():
                raise AevsError(f"{path} not found (aevs train --config config/train_general.yaml; "
                                "aevs bench fit-pca --config config/train_general.yaml)")
        out = Path(args.out)
        split = plot_scene_split(*({name: PlanarScene.load(PREFIX + name).image for name in names}
                                   for names in (TRAINING_SCENES, HELD_OUT_SCENES)), out / "scene_split.png")
        results = {}
        for scene_entry in scenes:
            results[_label(scene_entry)] = evaluate_scene(args, scene_entry, servo, sim, general_model, general_pca)
            table = markdown(results, args.rows, args.tests)
            json_path, markdown_path = write_report(args, "unseen_scenes", {"criterion": criterion_text(), "scenes": scenes, "rows": {row: ROWS[row] for row in args.rows},
                        "cases_requested": args.cases, "iterations": args.iterations,
                        "servo_config": asdict(servo),
                        "general_model": general_model, "general_pca": general_pca,
                        "finetune": {"images": args.finetune_images, "epochs": args.finetune_epochs},
                        "machine": machine_info(), "results": results}, table)
            figure = plot_unseen_scenes(results, args.rows, ROWS, args.tests, out / "unseen_scenes.png")
    except AevsError as exc:
        print(f"aevs bench unseen-scenes: error: {exc}")
        return 2
    print(f"\n{table}\n\n  JSON: {json_path}\n  table: {markdown_path}\n  figures: {figure}, {split}")
    return 0
