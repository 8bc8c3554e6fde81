"""Small portrait models and data managers for tests, driven a step at a time by ``engine.manual_steps``."""

from __future__ import annotations

from rad_nerfstudio.engine.manual_steps import backpropagate, build_model, enter_step, pipeline_callbacks, step_losses
from rad_nerfstudio.field_components.hash_grid import HashGridConfig

TINY_GRID = HashGridConfig(
    num_levels=4, features_per_level=2, log2_hashmap_size=10, base_resolution=8, finest_resolution=64
)

__all__ = [
    "TINY_GRID",
    "build_model",
    "pipeline_callbacks",
    "sample_manager",
    "small_rad_config",
    "train_step",
    "trained_small_model",
]


def train_step(manager, model, step):
    """Enter step ``step`` (the model's stage and the data manager's), run one batch, backpropagate its losses."""
    enter_step(manager, model, step)
    outputs, _, losses = step_losses(manager, model, step)
    backpropagate(model, losses)
    return outputs, losses


def small_rad_config(**overrides):
    """A small rad-nerf model config: tiny grids, 10 head steps, 2 lips steps, then the torso (``overrides`` win)."""
    from rad_nerfstudio.field_components.occupancy import OccupancyGridConfig
    from rad_nerfstudio.fields.rad_head_field import RadHeadFieldConfig
    from rad_nerfstudio.fields.torso_field import TorsoFieldConfig
    from rad_nerfstudio.models.rad_nerf import RadNerfModelConfig

    settings = dict(
        head=RadHeadFieldConfig(spatial_grid=TINY_GRID, audio_grid=TINY_GRID, hidden_dim=32),
        torso=TorsoFieldConfig(grid=TINY_GRID, hidden_dim=32),
        occupancy=OccupancyGridConfig(resolution=16, candidates=48),
        head_steps=10,
        lips_steps=2,
        lpips_pretrained=False,
    )
    settings.update(overrides)
    return RadNerfModelConfig(**settings)  # pyright: ignore[reportArgumentType]


def sample_manager(dataset, rays_per_batch: int = 256):
    """The talking-portrait data manager on ``dataset`` with ``rays_per_batch`` training rays."""
    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig

    config = TalkingPortraitDataManagerConfig(data=dataset)
    config.pixel_sampler.num_rays_per_batch = rays_per_batch
    return config.setup(device="cpu")


def trained_small_model(dataset, steps: int, **overrides):
    """A small rad-nerf model (no lips stage; ``overrides`` of its config win) after ``steps`` head steps of Adam at
    1e-2 from seed 0, in eval mode; and its data manager."""
    import torch

    manager = sample_manager(dataset)
    torch.manual_seed(0)
    model = build_model(small_rad_config(**{"lips_steps": 0, **overrides}), manager)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(steps):
        optimizer.zero_grad()
        train_step(manager, model, step)
        optimizer.step()
    model.eval()
    return model, manager
