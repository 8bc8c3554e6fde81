"""A whole model on the fused kernels and on the torch path: the same images and the same training gradients."""

from __future__ import annotations

import pytest
import torch
from rad_nerfstudio.cuda.kernels import fused

from tests.model_steps import build_model, sample_manager, small_rad_config, train_step, trained_small_model


@pytest.mark.parametrize("with_torso", [False, True])
def test_a_trained_model_renders_the_same_image_on_both_paths(dataset, with_torso):
    model, manager = trained_small_model(dataset, steps=30)
    if with_torso:
        model.step = model.schedule.torso_start  # the torso field renders (skipped behind an opaque head when fused)
    camera = manager.eval_dataset.cameras[0:1]
    images = {}
    for on in (True, False):
        with fused(on):
            images[on] = model.get_outputs_for_camera(camera)["rgb"]
    mse = float(((images[True] - images[False]) ** 2).mean())
    assert mse == 0.0 or -10 * torch.log10(torch.tensor(mse)) >= 45.0, mse


@pytest.mark.parametrize("refine_poses", [False, True])
def test_a_training_step_has_the_same_gradients_on_both_paths(dataset, refine_poses):
    """With pose refinement the rays follow the poses: the head poses' gradients agree too."""
    from nerfstudio.cameras.camera_optimizers import CameraOptimizerConfig

    optimizer = CameraOptimizerConfig(mode="SO3xR3" if refine_poses else "off")
    gradients = {}
    for on in (True, False):
        manager = sample_manager(dataset)  # its own: the same batch for both paths
        torch.manual_seed(0)
        model = build_model(small_rad_config(lips_steps=0, camera_optimizer=optimizer), manager)
        with fused(on):
            torch.manual_seed(1)
            train_step(manager, model, 3)
        gradients[on] = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    assert gradients[True].keys() == gradients[False].keys()
    assert refine_poses == any("pose_adjustment" in name for name in gradients[True])
    for name, grad in gradients[True].items():
        torch.testing.assert_close(grad, gradients[False][name], rtol=1e-3, atol=1e-6, msg=name)
