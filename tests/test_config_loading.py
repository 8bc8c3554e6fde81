"""A run's config.yml written before a config field with a default_factory existed still loads (PyYAML restores
configs without calling ``__init__``), with that field at its default."""

from __future__ import annotations

import torch
import yaml

from rad_nerfstudio.data.pixel_samplers import PortraitPixelSamplerConfig
from rad_nerfstudio.field_components.code_planes import CodePlanesConfig
from rad_nerfstudio.field_components.occupancy import OccupancyGridConfig
from rad_nerfstudio.method_configs import er_nerf_small
from rad_nerfstudio.models.portrait_config import PortraitModelConfig


def _without_top_level_key(text: str, key: str) -> str:
    """The YAML text with ``key``'s block (the key's line and the lines indented under it) removed."""
    lines, kept, skipping = text.splitlines(), [], False
    for line in lines:
        if line.startswith(f"{key}:"):
            skipping = True
            continue
        if skipping and (line.startswith(" ") or line.startswith("- ")):
            continue
        skipping = False
        kept.append(line)
    return "\n".join(kept) + "\n"


def test_a_model_config_saved_before_a_factory_field_existed_loads_with_its_default():
    model = er_nerf_small.config.pipeline.model
    assert isinstance(model, PortraitModelConfig)
    text = yaml.dump(model)  # as nerfstudio's save_config writes config.yml
    older = _without_top_level_key(text, "occupancy")
    assert "occupancy" not in older and "torso:" in older
    loaded = yaml.load(older, Loader=yaml.Loader)
    assert loaded.occupancy == OccupancyGridConfig()
    assert loaded.torso == model.torso and loaded.head_steps == model.head_steps
    assert yaml.load(text, Loader=yaml.Loader).occupancy == model.occupancy != OccupancyGridConfig()


def test_a_run_saved_before_the_torso_pose_choice_keeps_the_refined_pose_it_was_trained_with():
    model = er_nerf_small.config.pipeline.model
    assert isinstance(model, PortraitModelConfig) and model.torso_pose == "given"
    text = yaml.dump(model)
    assert yaml.load(_without_top_level_key(text, "torso_pose"), Loader=yaml.Loader).torso_pose == "refined"
    assert yaml.load(text, Loader=yaml.Loader).torso_pose == "given"


def test_a_sampler_config_saved_with_every_kind_s_settings_flat_loads_them_into_their_kinds():
    """Before each sampler kind had its own config, config.yml held all kinds' settings side by side."""
    older = """!!python/object:rad_nerfstudio.data.pixel_samplers.PortraitPixelSamplerConfig
_target: !!python/name:rad_nerfstudio.data.pixel_samplers.UniformPixelSampler ''
error_momentum: 0.8
face_fraction: 0.6
kind: face-focused
log_every: 0
map_resolution: 64
mouth_fraction: 0.15
num_rays_per_batch: 1024
seed: 3
torso_stage_uniform: false
uniform_fraction: 0.25
"""
    loaded = yaml.load(older, Loader=yaml.Loader)
    assert isinstance(loaded, PortraitPixelSamplerConfig)
    assert (loaded.kind, loaded.num_rays_per_batch, loaded.seed) == ("face-focused", 1024, 3)
    focused = loaded.chosen
    assert (focused.face_fraction, focused.mouth_fraction, focused.torso_stage_uniform) == (0.6, 0.15, False)
    assert (loaded.error_map.map_resolution, loaded.error_map.error_momentum, loaded.error_map.log_every) == (
        64,
        0.8,
        0,
    )
    assert not hasattr(loaded, "mouth_fraction") and not hasattr(loaded, "_target"), "no stray settings"
    sampler = loaded.setup(
        num_images=2,
        height=8,
        width=8,
        face_rects=torch.tensor([[0, 0, 4, 4]] * 2),
        mouth_rects=torch.tensor([[1, 1, 3, 3]] * 2),
    )
    assert sampler.sample(0).shape == (1024, 3)


def test_a_head_config_saved_under_an_old_field_name_loads_it_under_the_new_one():
    older = """!!python/object:rad_nerfstudio.fields.er_nerf_head_field.ErNerfHeadFieldConfig
hidden_dim: 32
pose_colour: true
"""
    loaded = yaml.load(older, Loader=yaml.Loader)
    assert loaded.pose_color is True and loaded.hidden_dim == 32 and not hasattr(loaded, "pose_colour")


def test_a_run_saved_before_code_planes_existed_loads_without_them():
    """The CPU methods now read code planes; a run trained before they existed has none in its checkpoint."""
    head = er_nerf_small.config.pipeline.model.head
    assert head.code_planes
    text = yaml.dump(head)
    older = _without_top_level_key(_without_top_level_key(text, "code_planes_sizes"), "code_planes")
    assert "code_planes" not in older and "hidden_dim" in older
    loaded = yaml.load(older, Loader=yaml.Loader)
    assert loaded.code_planes is False and loaded.code_planes_sizes == CodePlanesConfig()
    assert loaded.hidden_dim == head.hidden_dim and loaded.planes == head.planes
