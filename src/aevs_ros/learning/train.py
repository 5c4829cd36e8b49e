"""Training loop of the AEVS autoencoder and of Siame-se(3) (nanoGPT-style: one config
dataclass, one loop).

Views (the autoencoder) or pairs of views (Siame-se(3), TrainConfig.family) of a planar
scene are rendered once, deterministically from the seed, and kept in memory as uint8.
Every epoch is validated, logged to CSV and checkpointed (model, optimizer, scheduler,
epoch and RNG state) so that `resume=True` continues exactly where a run stopped. Under
torchrun (WORLD_SIZE set) each process trains on its share of every epoch inside
DistributedDataParallel and rank 0 writes the files.

The model file written at the end is self-describing (see model.write_model_file): the
network is rebuilt from it alone and it records how it was trained.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import shutil
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch import nn
from tqdm import tqdm

from aevs_ros.core.camera import default_camera
from aevs_ros.core.errors import ConfigurationError, ModelError
from aevs_ros.core.scene import PlanarScene
from aevs_ros.learning.augment import photometric_augmentation
from aevs_ros.learning.config import TrainConfig
from aevs_ros.learning.dataset import load_scenes, scene_pairs, scene_views
from aevs_ros.learning.losses import PoseLoss, make_loss
from aevs_ros.core.network.model import Autoencoder, load_model, save_model
from aevs_ros.core.network.siame import SiamesePoseNetwork, load_siame_model, save_siame_model

CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "train_log.csv"
LOG_COLUMNS = ("epoch", "train_loss", "val_loss", "learning_rate", "epoch_seconds",
               "images_per_second")
#: Settings that may change when resuming: they do not alter what is being trained.
RESUMABLE_CHANGES = {"epochs", "device", "threads", "progress", "out"}


@dataclass(frozen=True)
class _Network:
    """What the loop needs of a family's network: build it, write and read its model file."""

    build: Callable
    save: Callable
    load: Callable


NETWORKS = {"aevs": _Network(Autoencoder, save_model, load_model),
            "siame": _Network(SiamesePoseNetwork, save_siame_model, load_siame_model)}


@dataclass
class TrainResult:
    model_path: Path
    train_loss: float
    val_loss: float
    epochs: int
    training_seconds: float


@dataclass
class _Process:
    """Where this process runs and which share of the data it trains on."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _start_process(requested_device: str) -> _Process:
    use_cuda = requested_device == "cuda" or (requested_device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise ConfigurationError("device cuda requested but torch sees no CUDA device")
    if "WORLD_SIZE" not in os.environ:
        return _Process(device=torch.device("cuda" if use_cuda else "cpu"))
    dist.init_process_group("nccl" if use_cuda else "gloo")
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    return _Process(dist.get_rank(), dist.get_world_size(), device)


def _all_reduce_sum(values: list[float], process: _Process) -> list[float]:
    if process.world_size == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=process.device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def to_unit_float(views: torch.Tensor) -> torch.Tensor:
    """uint8 views (N, h, w) -> float32 network input (N, 1, h, w) in [0, 1]."""
    return views.unsqueeze(1).float().div_(255.0)


@dataclass
class _Views:
    """The autoencoder's examples: views, each the target of its own reconstruction."""

    views: torch.Tensor  #: uint8 (N, h, w)
    loss_function: nn.Module

    def __len__(self) -> int:
        return len(self.views)

    def loss(self, model, indices: torch.Tensor, device: torch.device, autocast,
             perturbation: torch.Generator | None) -> torch.Tensor:
        """With a `perturbation` generator the model sees photometrically augmented views but
        the loss compares its reconstruction with the clean ones (a denoising autoencoder): the
        encoder must map a perturbed view to the latent of the clean one, as the servo needs a
        current image under other light or behind an occluder to give the goal's latent when
        the camera is at the goal."""
        batch = to_unit_float(self.views[indices]).to(device, non_blocking=True)
        inputs = batch if perturbation is None else photometric_augmentation(batch, perturbation)
        with autocast:
            reconstruction = model(inputs)
        return self.loss_function(reconstruction, batch)  # in float32, outside autocast


@dataclass
class _Pairs:
    """Siame-se(3)'s examples: a current and a goal view, labelled with the pose (t, θu) of the
    current camera in the goal camera's frame."""

    currents: torch.Tensor  #: uint8 (N, h, w)
    goals: torch.Tensor  #: uint8 (N, h, w)
    labels: torch.Tensor  #: float32 (N, 6)
    loss_function: nn.Module

    def __len__(self) -> int:
        return len(self.labels)

    def loss(self, model, indices: torch.Tensor, device: torch.device, autocast,
             perturbation: torch.Generator | None) -> torch.Tensor:
        """A `perturbation` generator augments the current views only: the servo's goal is a
        clean image it was given, its current images come from the camera."""
        currents = to_unit_float(self.currents[indices]).to(device, non_blocking=True)
        goals = to_unit_float(self.goals[indices]).to(device, non_blocking=True)
        if perturbation is not None:
            currents = photometric_augmentation(currents, perturbation)
        with autocast:
            estimate = model(currents, goals)
        return self.loss_function(estimate, self.labels[indices].to(device))

    def median_errors(self, model: SiamesePoseNetwork, batch_size: int, device: torch.device) -> dict:
        """Median errors on these pairs of what the servo reads, s - s* (the estimate less the
        goal's against itself): translation [mm], rotation [deg], and each relative to the pose
        itself (0: exact; 1: no better than "at the goal", a PBVS step then no longer brings
        the camera closer)."""
        errors = []
        model.eval()
        with torch.no_grad():
            for indices in torch.arange(len(self)).split(batch_size):
                goals = to_unit_float(self.goals[indices]).to(device)
                estimate = model(to_unit_float(self.currents[indices]).to(device), goals) - model(goals, goals)
                errors.append(estimate.cpu() - self.labels[indices])
        error = torch.cat(errors)
        translation, rotation = error[:, :3].norm(dim=1), error[:, 3:].norm(dim=1)
        distance = self.labels[:, :3].norm(dim=1).clamp_min(1e-9)
        angle = self.labels[:, 3:].norm(dim=1).clamp_min(1e-9)
        return {"median_translation_error_mm": float(translation.median()) * 1000,
                "median_rotation_error_deg": math.degrees(float(rotation.median())),
                "median_relative_translation_error": float((translation / distance).median()),
                "median_relative_rotation_error": float((rotation / angle).median())}


def _examples(config: TrainConfig, scenes: list[PlanarScene], camera, seeds, device: torch.device,
              show: bool):
    """(training examples, validation examples, the metadata record of how they were drawn)."""
    train_seed, val_seed = seeds
    if config.family == "siame":
        sampling = config.pair_sampling()
        loss_function = PoseLoss(config.rotation_weight)

        def pairs(count, seed, split):
            arrays = scene_pairs(scenes, camera, count, seed, sampling, show, f"rendering {split} pairs")
            return _Pairs(*map(torch.from_numpy, arrays), loss_function)

        return (pairs(config.train_images, train_seed, "training"),
                pairs(config.val_images, val_seed, "validation"), {"pair_sampling": asdict(sampling)})
    sampling = config.view_sampling()
    loss_function = make_loss(config.loss, config.input_size).to(device)

    def views(count, seed, split):
        images, _ = scene_views(scenes, camera, count, seed, sampling, show, f"rendering {split} views")
        return _Views(torch.from_numpy(images), loss_function)

    return (views(config.train_images, train_seed, "training"),
            views(config.val_images, val_seed, "validation"), {"view_sampling": asdict(sampling)})


def _run_epoch(model, examples: _Views | _Pairs, order: torch.Tensor, config: TrainConfig,
               process: _Process, optimizer=None, description="",
               perturbation: torch.Generator | None = None):
    """Mean loss over this process's share of `examples` (a training pass if optimizer is
    given); `perturbation`: the augmentation's generator (see the examples' loss)."""
    usable = len(order) // process.world_size * process.world_size
    share = order[process.rank:usable:process.world_size]
    batches = share.split(config.batch_size)
    training = optimizer is not None
    model.train(training)
    autocast = torch.autocast(process.device.type, dtype=torch.bfloat16, enabled=config.bf16)
    total, count = 0.0, 0
    bar = tqdm(batches, desc=description, unit="batch", leave=False,
               disable=not (config.progress and process.is_main))
    with nullcontext() if training else torch.no_grad():
        for batch_indices in bar:
            loss = examples.loss(model, batch_indices, process.device, autocast, perturbation)
            if training:
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            total += loss.item() * len(batch_indices)
            count += len(batch_indices)
            bar.set_postfix(loss=f"{loss.item():.5f}")
    total, count = _all_reduce_sum([total, float(count)], process)
    return total / count


def _epoch_perturbation(augmentation: torch.Generator, process: _Process) -> torch.Generator:
    """This process's generator of this epoch's augmentation: seeded from `augmentation`, which
    every process holds alike and the checkpoint keeps (so a resume restores all of them), plus
    the rank (so the processes perturb their shares differently)."""
    seed = int(torch.randint(2 ** 62, (1,), generator=augmentation))
    return torch.Generator().manual_seed(seed + process.rank)


def _scene_record(scene: PlanarScene, path: str | None) -> dict:
    return {"path": path, "name": scene.name, "fingerprint": scene.fingerprint,
            "width_m": scene.width_m, "height_m": scene.height_m}


def _initial_weights(config: TrainConfig) -> dict:
    """The weights of the --init model, which must have the network config describes."""
    initial = NETWORKS[config.family].load(config.init)
    if initial.config != config.model_config():
        raise ConfigurationError(f"--init {config.init} has the network {initial.config}, "
                                 f"not the configured {config.model_config()}")
    return initial.model.state_dict()


def _scenes_record(scenes: list[PlanarScene], entries: list) -> dict:
    """The model file's "scene" record: the scene itself, or for several a fingerprint of all."""
    paths = [entry["path"] if isinstance(entry, dict) else entry for entry in entries]
    if len(scenes) == 1:
        return _scene_record(scenes[0], paths[0] if paths else None)
    digest = hashlib.sha1("".join(scene.fingerprint for scene in scenes).encode())
    return {"path": paths, "name": f"{len(scenes)} scenes", "fingerprint": digest.hexdigest()[:12],
            "width_m": [scene.width_m for scene in scenes], "height_m": [scene.height_m for scene in scenes]}


def _check_resumable(saved: dict, config: TrainConfig, checkpoint: Path):
    """A setting added after the checkpoint was written counts as its default there."""
    saved = {**asdict(TrainConfig()), **saved}
    current = asdict(config)
    changed = sorted(name for name in current if name not in RESUMABLE_CHANGES
                     and current[name] != saved.get(name))
    if changed:
        details = ", ".join(f"{name}: {saved.get(name)!r} -> {current[name]!r}" for name in changed)
        raise ConfigurationError(f"cannot resume from {checkpoint}: settings differ ({details}); "
                                 f"only {', '.join(sorted(RESUMABLE_CHANGES))} may change")


def _append_log(path: Path, row: dict):
    new_file = not path.exists()
    with path.open("a", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=LOG_COLUMNS)
        if new_file:
            writer.writeheader()
        writer.writerow(row)


def train(config: TrainConfig, resume: bool = False, command_line: str = "") -> TrainResult:
    """Train the network described by config; returns where the model file went."""
    process = _start_process(config.device)
    try:
        return _train(config, resume, command_line, process)
    finally:
        if process.world_size > 1:
            dist.destroy_process_group()


def _train(config: TrainConfig, resume: bool, command_line: str, process: _Process) -> TrainResult:
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    work_dir = Path(config.work_dir)
    checkpoint_path = work_dir / CHECKPOINT_NAME
    partial_checkpoint = checkpoint_path.with_suffix(".partial")
    log_path = work_dir / LOG_NAME
    saved = None
    if resume:
        if not checkpoint_path.is_file():
            raise ModelError(f"cannot resume: no checkpoint at {checkpoint_path}")
        saved = torch.load(checkpoint_path, map_location=process.device, weights_only=True)
        _check_resumable(saved["train_config"], config, checkpoint_path)

    scenes = load_scenes(config)
    camera = default_camera(config.input_size)
    train_seed, val_seed, init_seed, shuffle_seed, augment_seed = (
        np.random.SeedSequence(config.seed).generate_state(5))  # a fifth seed keeps the first four
    show = config.progress and process.is_main
    train_examples, val_examples, sampling_record = _examples(config, scenes, camera, (train_seed, val_seed),
                                                              process.device, show)

    torch.manual_seed(int(init_seed))
    network = NETWORKS[config.family]
    model = network.build(config.model_config()).to(process.device)
    if config.init is not None and saved is None:
        model.load_state_dict(_initial_weights(config))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    scheduler = None
    if config.lr_schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2)
    shuffle = torch.Generator().manual_seed(int(shuffle_seed))
    augmentation = torch.Generator().manual_seed(int(augment_seed))
    first_epoch, training_seconds, train_loss, val_loss = 1, 0.0, math.nan, math.nan
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        shuffle.set_state(saved["shuffle_rng"])
        if "augment_rng" in saved:  # absent from checkpoints written before augment existed
            augmentation.set_state(saved["augment_rng"])
        first_epoch = saved["epoch"] + 1
        training_seconds = saved["training_seconds"]
        train_loss, val_loss = saved["train_loss"], saved["val_loss"]
    trained = DistributedDataParallel(model) if process.world_size > 1 else model
    if process.is_main:
        work_dir.mkdir(parents=True, exist_ok=True)

    for epoch in range(first_epoch, config.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(len(train_examples), generator=shuffle)
        perturbation = _epoch_perturbation(augmentation, process) if config.augment else None
        train_loss = _run_epoch(trained, train_examples, order, config, process,
                                optimizer, f"epoch {epoch}/{config.epochs}", perturbation)
        epoch_seconds = time.perf_counter() - start
        val_loss = _run_epoch(trained, val_examples, torch.arange(len(val_examples)),
                              config, process, description="validation")
        if scheduler is not None:
            scheduler.step(val_loss)
        training_seconds += time.perf_counter() - start
        if not process.is_main:
            continue
        row = {"epoch": epoch, "train_loss": f"{train_loss:.6g}", "val_loss": f"{val_loss:.6g}",
               "learning_rate": f"{optimizer.param_groups[0]['lr']:.3g}",
               "epoch_seconds": f"{epoch_seconds:.1f}",
               "images_per_second": f"{config.train_images / epoch_seconds:.1f}"}
        _append_log(log_path, row)
        tqdm.write(", ".join(f"{key} {value}" for key, value in row.items())
                   + f", {training_seconds / 60:.1f} min in all", file=sys.stdout)
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": None if scheduler is None else scheduler.state_dict(),
                    "shuffle_rng": shuffle.get_state(), "augment_rng": augmentation.get_state(),
                    "epoch": epoch, "training_seconds": training_seconds, "train_loss": train_loss,
                    "val_loss": val_loss, "train_config": asdict(config)},
                   partial_checkpoint)
        partial_checkpoint.replace(checkpoint_path)  # never leave a half-written checkpoint

    out = Path(config.out)
    if process.is_main:
        metadata = {
            "family": config.family, "loss": "pose" if config.family == "siame" else config.loss,
            "train_loss": train_loss, "val_loss": val_loss,
            "epochs": config.epochs, "training_seconds": training_seconds,
            "command_line": command_line, "scene": _scenes_record(scenes, config.scene_entries()),
            "scenes": [_scene_record(scene, None) for scene in scenes], "init": config.init,
            "camera": camera.to_camera_info(), **sampling_record,
            "train_config": asdict(config), "torch_version": str(torch.__version__),
        }
        if isinstance(val_examples, _Pairs):
            metadata["validation"] = val_examples.median_errors(model, config.batch_size, process.device)
        network.save(out, model, metadata)
        if log_path.exists():
            shutil.copyfile(log_path, out.with_name(out.stem + "_train_log.csv"))
    return TrainResult(out, train_loss, val_loss, config.epochs, training_seconds)
