"""The run's length and learning-rate schedules follow the stage lengths set on the command line."""

from __future__ import annotations

import copy

import pytest
import torch
from nerfstudio.engine.trainer import TrainerConfig

from rad_nerfstudio.engine.stage_plan import fit_run_length_to_stages, fit_schedulers_to_stages, steps_left
from rad_nerfstudio.method_configs import er_nerf, er_nerf_small, rad_nerf, rad_nerf_small
from rad_nerfstudio.model_components.stages import StageSchedule


def _config(spec, **model_changes) -> TrainerConfig:  # noqa: ANN001
    config = copy.deepcopy(spec.config)
    for name, value in model_changes.items():
        setattr(config.pipeline.model, name, value)
    return config


def test_changed_head_steps_move_the_run_end_and_the_torso_schedule() -> None:
    for spec in (rad_nerf_small, er_nerf_small):
        config = _config(spec, head_steps=4000, lips_steps=300)
        fit_schedulers_to_stages(config)
        assert fit_run_length_to_stages(config)
        assert config.max_num_iterations == 4000 + 300 + 4000 // 3
        for name, group in config.optimizers.items():
            assert group["scheduler"].max_steps == config.max_num_iterations
            warmup = {"camera_opt": 250}.get(name, 4300 if name.startswith("torso_") else 0)  # poses: a warm-up
            assert group["scheduler"].warmup_steps == warmup
        assert steps_left(config, 4100) == config.max_num_iterations - 4100


def test_a_schedule_given_on_the_command_line_is_kept() -> None:
    config = _config(er_nerf_small, head_steps=1000, lips_steps=0)
    config.optimizers["grids"]["scheduler"].max_steps = 5000  # --optimizers.grids.scheduler.max-steps 5000
    config.optimizers["torso_mlps"]["scheduler"].max_steps = 6000
    config.optimizers["torso_mlps"]["scheduler"].warmup_steps = 10
    fit_schedulers_to_stages(config)
    steps = {name: group["scheduler"].max_steps for name, group in config.optimizers.items()}
    assert steps == {"grids": 5000, "mlps": 1500, "torso_grids": 1500, "torso_mlps": 6000, "camera_opt": 1500}
    assert config.optimizers["torso_mlps"]["scheduler"].warmup_steps == 10
    assert config.optimizers["torso_grids"]["scheduler"].warmup_steps == 1000


def test_torso_steps_and_an_explicit_run_length() -> None:
    config = _config(rad_nerf_small, head_steps=1000, lips_steps=0, torso_steps=50)
    assert StageSchedule.of(config.pipeline.model).total_steps == 1050
    assert StageSchedule(1000, 0, train_torso=False, torso_steps=50).total_steps == 1000
    assert StageSchedule(900, 0).torso_length == 500  # a third of the head steps, at least 500
    config.max_num_iterations = 7
    assert not fit_run_length_to_stages(config)
    assert config.max_num_iterations == 7


@pytest.mark.parametrize("method", ["rad-nerf-small", "er-nerf-small", "rad-nerf", "er-nerf"])
def test_the_methods_train_with_torchs_fused_optimizers(method):
    """Adam / AdamW over the hash tables, one fused kernel per step (the same update as the default loop)."""
    spec = {"rad-nerf-small": rad_nerf_small, "er-nerf-small": er_nerf_small, "rad-nerf": rad_nerf, "er-nerf": er_nerf}
    table = torch.nn.Parameter(torch.zeros(4, 8, 2))
    for group in ("grids", "mlps"):
        optimizer = spec[method].config.optimizers[group]["optimizer"].setup([table])
        assert optimizer.defaults["fused"] is True, (method, group)
    table.grad = torch.ones_like(table)
    optimizer.step()
    assert bool((table < 0).all())
