"""Truncated, damaged and foreign checkpoints (another method's, nerfacto's, another dataset's) are refused naming the
file and the mismatch, by rad-render / rad-eval's loader and by ns-train --load-dir."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from rad_nerfstudio.engine.commands import ns_train_command
from rad_nerfstudio.errors import CheckpointError
from rad_nerfstudio.render.trained_run import load_trained_run

pytestmark = pytest.mark.slow  # the project's commands, run end to end


def _copy_run(config: Path, root: Path) -> tuple[Path, Path]:
    """A private copy of a trained run (its config pointing at the copy): its config.yml and its checkpoint."""
    outputs = Path(shutil.copytree(config.parents[3], root / "outputs"))
    trainer_config = yaml.load(config.read_text(), Loader=yaml.Loader)
    trainer_config.output_dir = outputs
    copied = outputs / config.relative_to(config.parents[3])
    copied.write_text(yaml.dump(trainer_config))
    return copied, next((copied.parent / "nerfstudio_models").glob("step-*.ckpt"))


def _nerfacto_like_state(step: int = 3) -> dict:
    """What a nerfacto checkpoint holds (its keys, no training needed)."""
    pipeline = {
        "_model.field.mlp_base.encoder.params": torch.zeros(16),
        "_model.field.mlp_base.network.params": torch.zeros(8),
        "_model.proposal_networks.0.encoding.params": torch.zeros(4),
        "_model.field.embedding_appearance.embedding.weight": torch.zeros(90, 32),
    }
    return {"step": step, "pipeline": pipeline, "optimizers": {}, "schedulers": {}, "scalers": {}}


def _refusal(config: Path) -> str:
    with pytest.raises(CheckpointError) as info:
        load_trained_run(config)
    return " ".join(str(info.value).split())


def test_a_truncated_checkpoint_is_refused_naming_the_file(trained_run, tmp_path):
    config, checkpoint = _copy_run(trained_run, tmp_path)
    content = checkpoint.read_bytes()
    checkpoint.write_bytes(content[: len(content) // 2])
    message = _refusal(config)
    assert str(checkpoint) in message and "truncated or damaged" in message, message
    checkpoint.write_bytes(b"")
    assert "truncated or damaged" in _refusal(config)


def test_a_nerfacto_checkpoint_is_refused_with_the_mismatch(trained_run, tmp_path):
    config, checkpoint = _copy_run(trained_run, tmp_path)
    torch.save(_nerfacto_like_state(), checkpoint)
    message = _refusal(config)
    assert str(checkpoint) in message and "rad-nerf-small run's RadNerfModel" in message, message
    assert "its keys are nerfacto's" in message
    assert "4 of its tensors are unknown here (field.embedding_appearance" in message
    assert "tensors this model needs are missing (" in message


def test_another_datasets_checkpoint_is_refused_with_the_shapes(trained_run, tmp_path):
    config, checkpoint = _copy_run(trained_run, tmp_path)
    state = torch.load(checkpoint, map_location="cpu")
    windows = state["pipeline"]["_model.audio_windows"]
    state["pipeline"]["_model.audio_windows"] = torch.zeros(575, *windows.shape[1:])
    torch.save(state, checkpoint)
    message = _refusal(config)
    expected = f"audio_windows [575, 16, {windows.shape[2]}] vs {list(windows.shape)} here"
    assert str(checkpoint) in message and expected in message and "another dataset, or other sizes?" in message, message


def test_a_file_that_is_no_training_checkpoint_or_no_checkpoint_at_all_is_refused(trained_run, tmp_path):
    config, checkpoint = _copy_run(trained_run, tmp_path)
    torch.save({"weights": torch.zeros(3)}, checkpoint)
    assert "is not a nerfstudio training checkpoint" in _refusal(config)
    checkpoint.unlink()
    assert f"{checkpoint.parent}: holds no step-*.ckpt checkpoint" in _refusal(config)


def test_ns_train_load_dir_refuses_an_er_nerf_checkpoint_naming_it(trained_run, tmp_path):
    """A real er-nerf-small pipeline's state (built here, untrained: its keys and shapes are the real ones) in an
    er-nerf-small run folder, given to ns-train rad-nerf-small --load-dir."""
    from nerfstudio.configs.method_configs import all_methods

    data = yaml.load(trained_run.read_text(), Loader=yaml.Loader).data
    er_config = copy.deepcopy(all_methods["er-nerf-small"])
    er_config.pipeline.datamanager.data = data
    er_config.output_dir, er_config.timestamp = tmp_path / "er", "t"
    pipeline = er_config.pipeline.setup(device="cpu", test_mode="inference")
    run_dir = er_config.get_base_dir()
    (run_dir / "nerfstudio_models").mkdir(parents=True)
    er_config.save_config()
    checkpoint = run_dir / "nerfstudio_models" / "step-000000003.ckpt"
    state = {"step": 3, "pipeline": pipeline.state_dict(), "optimizers": {}, "schedulers": {}, "scalers": {}}
    torch.save(state, checkpoint)
    command = ns_train_command("rad-nerf-small", data, tmp_path / "outputs", "--load-dir", str(checkpoint.parent))
    result = subprocess.run(command, capture_output=True, text=True, timeout=400)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert f"{checkpoint}: is not a checkpoint of this rad-nerf-small run's RadNerfModel" in output, output[-3000:]
    assert "it was written by er-nerf-small" in output and "of its tensors are unknown here" in output
