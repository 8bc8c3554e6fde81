"""Single-process data manager for talking portraits: uint8 image cache, frame index on every ray,
pixel sampler from config (so samplers can receive feedback from the pipeline)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Literal, Tuple, Type, Union, cast

import torch
from jaxtyping import Float, UInt8
from nerfstudio.cameras.cameras import Cameras
from nerfstudio.cameras.rays import RayBundle
from nerfstudio.data.datamanagers.base_datamanager import DataManager, DataManagerConfig
from nerfstudio.data.utils.dataloaders import FixedIndicesEvalDataloader
from nerfstudio.engine.callbacks import TrainingCallback, TrainingCallbackAttributes, TrainingCallbackLocation
from nerfstudio.model_components.ray_generators import RayGenerator
from nerfstudio.utils.rich_utils import CONSOLE
from rich.progress import track
from torch import Tensor
from torch.nn import Parameter

from rad_nerfstudio.config_loading import FilledOnLoad
from rad_nerfstudio.data.backdrops import torso_backdrop
from rad_nerfstudio.data.head_masks import cache_head_masks
from rad_nerfstudio.data.lips_patches import lips_patch_indices
from rad_nerfstudio.data.pixel_samplers import PortraitPixelSampler, PortraitPixelSamplerConfig
from rad_nerfstudio.data.portrait_dataset import PortraitDataset
from rad_nerfstudio.data.portrait_tables import (
    BACKGROUND_KEY,
    FRAME_INDEX_KEY,
    HEAD_MASK_KEY,
    LIPS_PATCH_KEY,
    PIXEL_KEY,
    PORTRAIT_METADATA_KEY,
    PortraitTables,
)
from rad_nerfstudio.dataparsers.talking_portrait_dataparser import (  # pyright: ignore[reportMissingImports]
    TalkingPortraitDataParserConfig,
)
from rad_nerfstudio.model_components.stages import Stage
from rad_nerfstudio.viewer.training_view import TrainingView

if TYPE_CHECKING:  # the data manager reads what the model says (its stages, its per-ray errors); it imports no model
    from rad_nerfstudio.models.portrait_model import PortraitModel


@dataclass
class TalkingPortraitDataManagerConfig(FilledOnLoad, DataManagerConfig):
    """Talking-portrait data manager (single process, images cached as uint8)."""

    _target: Type = field(default_factory=lambda: TalkingPortraitDataManager)
    dataparser: TalkingPortraitDataParserConfig = field(default_factory=TalkingPortraitDataParserConfig)
    """Dataset reader."""
    pixel_sampler: PortraitPixelSamplerConfig = field(default_factory=PortraitPixelSamplerConfig)
    """Training pixel sampler (--pipeline.datamanager.pixel-sampler.kind uniform | face-focused | error-map)."""
    eval_num_rays_per_batch: int = 4096
    """Rays per evaluation batch."""
    lips_patch_size: int = 32
    """Side of the lips patches of the lips stage (pixels spread over a frame's lips rectangle)."""
    lips_patch_every: int = 2
    """During the lips stage every N-th batch is one lips patch (for the LPIPS loss), the others ordinary rays."""


def cache_images(dataset: PortraitDataset, label: str) -> UInt8[Tensor, "images height width 3"]:
    """All images of a dataset as one uint8 tensor (frames x H x W x 3 bytes)."""
    first = dataset.get_numpy_image(0)
    cache = torch.empty((len(dataset), *first.shape), dtype=torch.uint8)
    cache[0] = torch.from_numpy(first)
    for i in track(range(1, len(dataset)), description=f"Caching {label} images", transient=True):
        cache[i] = torch.from_numpy(dataset.get_numpy_image(i))
    return cache


def cache_backdrops(tables: PortraitTables, rows: Tensor, label: str) -> UInt8[Tensor, "images height width 3"]:
    """Each frame's torso backdrop (see :mod:`rad_nerfstudio.data.backdrops`) as uint8."""
    plate = tables.background.numpy()
    cache = torch.empty((len(rows), *plate.shape), dtype=torch.uint8)
    for k in track(range(len(rows)), description=f"Caching {label} torso backdrops", transient=True):
        cache[k] = torch.from_numpy(torso_backdrop(tables.torso_paths[int(rows[k])], plate))
    return cache


class TalkingPortraitDataManager(DataManager):
    """Serves rays with their frame index (``ray_bundle.metadata["frame_idx"]``) and uint8-cached pixel colours.

    Its training callbacks follow the model's stages (``follow_stage``): in the lips stage every
    ``lips_patch_every``-th batch is one lips patch, marked by ``batch["lips_patch"]`` (its side); in the torso stage
    the face-focused sampler draws every ray uniformly (``torso_stage_uniform``). After each step the sampler gets the
    model's per-ray errors of the batch it was served (the error map learns from them)."""

    config: TalkingPortraitDataManagerConfig
    train_dataset: PortraitDataset
    eval_dataset: PortraitDataset

    def __init__(
        self,
        config: TalkingPortraitDataManagerConfig,
        device: Union[torch.device, str] = "cpu",
        test_mode: Literal["test", "val", "inference"] = "val",
        world_size: int = 1,
        local_rank: int = 0,
        **kwargs,
    ):
        self.config = config
        self.device = device
        self.test_mode = test_mode
        if world_size > 1:
            raise ValueError("the talking-portrait data manager runs in a single process (world_size 1)")
        if config.data is not None:
            config.dataparser.data = Path(config.data)
        else:
            config.data = config.dataparser.data
        self.dataparser = config.dataparser.setup()
        self.includes_time = False
        self.train_dataparser_outputs = self.dataparser.get_dataparser_outputs(split="train")
        self.train_dataset = PortraitDataset(self.train_dataparser_outputs)
        self.lips_stage = False
        self._last_indices: Tensor | None = None  # the training batch last served, for the sampler's feedback
        self.eval_dataset = PortraitDataset(self.dataparser.get_dataparser_outputs(split="val"))
        first = self.train_dataset.cameras[0]
        fov = 2 * math.atan(float(first.height) / (2 * float(first.fy)))  # pyright: ignore[reportArgumentType]
        self.training_view = TrainingView(first.camera_to_worlds.numpy(), fov)  # the viewer opens here
        super().__init__()

    @property
    def tables(self) -> PortraitTables:
        return self.train_dataset.metadata[PORTRAIT_METADATA_KEY]

    def setup_train(self) -> None:
        self.train_images = cache_images(self.train_dataset, "training")
        self.train_rows = self.tables.splits["train"]
        self.train_backdrops = cache_backdrops(self.tables, self.train_rows, "training")
        num, height, width = self.train_images.shape[:3]
        self.train_head_masks = cache_head_masks(
            self.get_datapath(), self.tables.img_ids[self.train_rows], height, width
        )
        self.train_pixel_sampler: PortraitPixelSampler = self.config.pixel_sampler.setup(
            num_images=num,
            height=height,
            width=width,
            face_rects=self.tables.rects["face"][self.train_rows],
            mouth_rects=self.tables.rects["mouth"][self.train_rows],
        )
        self.train_ray_generator = RayGenerator(self.train_dataset.cameras.to(self.device))
        self._lips_generator = torch.Generator().manual_seed(self.config.pixel_sampler.seed + 3)
        megabytes = self.train_images.numel() / 2**20
        CONSOLE.print(f"Cached {num} training images ({width}x{height}) as uint8: {megabytes:.1f} MiB")

    def setup_eval(self) -> None:
        self.eval_images = cache_images(self.eval_dataset, "evaluation")
        self.eval_rows = self.tables.splits["val"]
        self.eval_backdrops = cache_backdrops(self.tables, self.eval_rows, "evaluation")
        num, height, width = self.eval_images.shape[:3]
        self.eval_pixel_sampler: PortraitPixelSampler = PortraitPixelSamplerConfig(
            num_rays_per_batch=self.config.eval_num_rays_per_batch, seed=self.config.pixel_sampler.seed + 1
        ).setup(num_images=num, height=height, width=width)
        self.eval_ray_generator = RayGenerator(self.eval_dataset.cameras.to(self.device))
        self.fixed_indices_eval_dataloader = FixedIndicesEvalDataloader(
            input_dataset=self.eval_dataset, device=self.device
        )
        self._eval_generator = torch.Generator().manual_seed(self.config.pixel_sampler.seed + 2)

    def _rays_and_batch(
        self, generator: RayGenerator, images: Tensor, backdrops: Tensor, rows: Tensor, indices: Tensor
    ) -> Tuple[RayBundle, Dict[str, Tensor]]:
        """Rays with their frame row, pixel and backdrop colour; the batch with target colours and rows."""
        ray_bundle = generator(indices.to(self.device))
        image, y, x = indices[:, 0], indices[:, 1], indices[:, 2]
        assert ray_bundle.metadata is not None
        ray_bundle.metadata[PIXEL_KEY] = indices[:, 1:].to(self.device, torch.float32)
        ray_bundle.metadata[BACKGROUND_KEY] = backdrops[image, y, x].to(self.device, torch.float32) / 255.0
        batch = {
            "image": images[image, y, x].to(self.device, torch.float32) / 255.0,
            "indices": indices,
            FRAME_INDEX_KEY: rows[image],
        }
        return ray_bundle, batch

    def _with_head_mask(self, batch: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """The training batch with each ray's head-parsing value (when the dataset has parsing images)."""
        if self.train_head_masks is not None:
            image, y, x = batch["indices"][:, 0], batch["indices"][:, 1], batch["indices"][:, 2]
            batch[HEAD_MASK_KEY] = self.train_head_masks[image, y, x].to(self.device, torch.float32)
        return batch

    @property
    def torso_stage(self) -> bool:
        """Whether the model trains its torso stage (held by the training pixel sampler, which reads it)."""
        return self.train_pixel_sampler.torso_stage

    @torso_stage.setter
    def torso_stage(self, value: bool) -> None:
        self.train_pixel_sampler.torso_stage = value

    def follow_stage(self, stage: Stage) -> None:
        """Serve the batches of the model's training ``stage``."""
        self.lips_stage = stage == "lips"
        self.torso_stage = stage == "torso"

    def feed_back(self, errors: Float[Tensor, " rays"] | None, step: int) -> None:
        """Hand the sampler the per-ray errors of the batch last served (nothing when there are none)."""
        indices, self._last_indices = self._last_indices, None
        if errors is None or indices is None:
            return
        if errors.shape[0] != indices.shape[0]:
            raise ValueError(f"{errors.shape[0]} ray errors for a batch of {indices.shape[0]} rays")
        self.train_pixel_sampler.update(indices, errors)
        self.train_pixel_sampler.log_images(step)

    def get_training_callbacks(
        self, training_callback_attributes: TrainingCallbackAttributes
    ) -> List[TrainingCallback]:
        """Before each step: the model's stage at that step; after it: the model's per-ray errors to the sampler."""
        model = cast("PortraitModel", training_callback_attributes.pipeline.model)  # pyright: ignore[reportOptionalMemberAccess]

        def follow(step: int) -> None:
            self.follow_stage(model.schedule.stage_at(step))

        def feed(step: int) -> None:
            self.feed_back(model.last_ray_errors, step)

        return [
            TrainingCallback([TrainingCallbackLocation.BEFORE_TRAIN_ITERATION], follow),
            TrainingCallback([TrainingCallbackLocation.AFTER_TRAIN_ITERATION], feed),
        ]

    def next_train(self, step: int) -> Tuple[RayBundle, Dict]:
        self.train_count += 1
        patch = self.lips_stage and step % self.config.lips_patch_every == 0
        indices = self._lips_patch() if patch else self.train_pixel_sampler.sample(step)
        self._last_indices = indices
        ray_bundle, batch = self._rays_and_batch(
            self.train_ray_generator, self.train_images, self.train_backdrops, self.train_rows, indices
        )
        batch = self._with_head_mask(batch)
        if patch:
            batch[LIPS_PATCH_KEY] = torch.tensor(self.config.lips_patch_size)
        return ray_bundle, batch

    def _lips_patch(self) -> Tensor:
        image = int(torch.randint(len(self.train_rows), (1,), generator=self._lips_generator))
        rect = self.tables.rects["lips"][int(self.train_rows[image])]
        return lips_patch_indices(image, rect, self.config.lips_patch_size, self._lips_generator)

    def next_eval(self, step: int) -> Tuple[RayBundle, Dict]:
        self.eval_count += 1
        indices = self.eval_pixel_sampler.sample(step)
        return self._rays_and_batch(
            self.eval_ray_generator, self.eval_images, self.eval_backdrops, self.eval_rows, indices
        )

    def next_eval_image(self, step: int) -> Tuple[Cameras, Dict]:
        index = int(torch.randint(len(self.eval_dataset), (1,), generator=self._eval_generator))
        camera = self.eval_dataset.cameras[index : index + 1].to(self.device)
        image = self.eval_images[index].to(self.device, torch.float32) / 255.0
        return camera, {"image": image, "image_idx": index}

    def get_train_rays_per_batch(self) -> int:
        return self.config.pixel_sampler.num_rays_per_batch

    def get_eval_rays_per_batch(self) -> int:
        return self.config.eval_num_rays_per_batch

    def get_datapath(self) -> Path:
        return self.config.dataparser.data

    def get_param_groups(self) -> Dict[str, List[Parameter]]:
        return {}
