"""A run's config.yml written before a config field with a default_factory existed still loads (PyYAML restores
configs without calling ``__init__``), with that field at its default."""

from __future__ import annotations

import yaml

from rad_nerfstudio.field_components.occupancy import OccupancyGridConfig
from rad_nerfstudio.method_configs import er_nerf_small
from rad_nerfstudio.models.rad_nerf import RadNerfModelConfig


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
    assert isinstance(model, RadNerfModelConfig)
    text = yaml.dump(model)  # as nerfstudio's save_config writes config.yml
    older = _without_top_level_key(text, "occupancy")
    assert "occupancy" not in older and "torso:" in older
    loaded = yaml.load(older, Loader=yaml.Loader)
    assert loaded.occupancy == OccupancyGridConfig()
    assert loaded.torso == model.torso and loaded.head_steps == model.head_steps
    assert yaml.load(text, Loader=yaml.Loader).occupancy == model.occupancy != OccupancyGridConfig()
