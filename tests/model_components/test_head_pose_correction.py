"""Head-pose refinement: the correction's parametrisation, gradients, checkpoints, export, test-time alignment."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from nerfstudio.cameras.camera_optimizers import CameraOptimizerConfig
from nerfstudio.cameras.lie_groups import exp_map_SO3xR3

from rad_nerfstudio.evaluation.pose_accuracy import rotation_errors
from rad_nerfstudio.evaluation.pose_alignment import AlignmentSettings, align_held_out_poses, align_training_poses
from rad_nerfstudio.evaluation.process_scores import transforms_frames
from rad_nerfstudio.model_components.head_pose_correction import (
    HeadPoseCorrection,
    compose,
    correct_rays,
    smooth_over_consecutive_frames,
)
from rad_nerfstudio.render.refined_poses import refined_transforms
from tests.model_steps import build_model, sample_manager, small_rad_config, train_step

REFINE = CameraOptimizerConfig(mode="SO3xR3")


def _model(manager, mode="SO3xR3"):
    config = small_rad_config(lips_steps=0, camera_optimizer=CameraOptimizerConfig(mode=mode))  # pyright: ignore[reportArgumentType]
    return build_model(config, manager)


@pytest.fixture
def parts(dataset):
    manager = sample_manager(dataset)
    torch.manual_seed(0)
    return manager, _model(manager)


def test_zero_correction_is_the_identity_and_the_correction_turns_about_the_head():
    correction = HeadPoseCorrection(REFINE, num_frames=5, smoothness_mult=1.0)
    rows = torch.tensor([0, 3, 4])
    identity = torch.eye(4)[:3][None].expand(3, 3, 4)
    assert torch.allclose(correction(rows), identity, atol=1e-6)
    origins, directions = torch.randn(3, 3), torch.nn.functional.normalize(torch.randn(3, 3), dim=-1)
    moved = correct_rays(correction(rows), origins, directions)
    assert torch.allclose(moved[0], origins, atol=1e-6) and torch.allclose(moved[1], directions, atol=1e-6)
    with torch.no_grad():
        correction.camera_optimizer.pose_adjustment[3, 3:] = torch.tensor([0.0, 0.1, 0.0])  # a turn, no translation
    turned = correction(torch.tensor([3]))
    head = torch.zeros(1, 3)  # the head's centre is the world origin: a head turn keeps the origin where it is
    assert torch.allclose(correct_rays(turned, head, directions[:1])[0], head, atol=1e-6)
    pose = torch.cat([torch.eye(3), torch.tensor([[0.0], [0.0], [3.0]])], dim=1)[None]
    assert torch.allclose(compose(turned, pose)[0, :, 3].norm(), torch.tensor(3.0), atol=1e-5), "an orbit"


def test_off_keeps_the_poses_and_has_no_parameters():
    correction = HeadPoseCorrection(CameraOptimizerConfig(mode="off"), num_frames=4, smoothness_mult=1.0)
    assert not correction.active and list(correction.parameters()) == [] and correction.losses(torch.arange(4)) == {}
    assert torch.equal(correction(torch.arange(4)), torch.eye(4)[:3][None].expand(4, 3, 4))


def test_smoothness_penalises_steps_between_consecutive_training_frames_only():
    correction = HeadPoseCorrection(REFINE, num_frames=6, smoothness_mult=2.0)
    with torch.no_grad():
        correction.camera_optimizer.pose_adjustment[2, 3] = 0.5
    losses = correction.losses(torch.tensor([0, 1, 2, 3]))  # frame 2 against 1 and 3
    assert torch.isclose(losses["pose_smoothness_loss"], torch.tensor(2.0 * 2 * 0.25))
    far = correction.losses(torch.tensor([0, 2, 4]))  # no consecutive pair: nothing to smooth
    assert float(far["pose_smoothness_loss"].detach()) == 0.0
    assert "camera_opt_regularizer" in losses


def test_training_reaches_the_corrections_of_the_batch_frames_and_they_have_their_optimizer_group(parts):
    manager, model = parts
    outputs, losses = train_step(manager, model, 5)
    assert {"camera_opt_regularizer", "pose_smoothness_loss"} <= set(losses)
    grad = model.pose_correction.camera_optimizer.pose_adjustment.grad
    assert grad is not None and grad[model.train_rows].abs().sum() > 0
    assert grad[model.val_rows].abs().sum() == 0, "validation frames have no rays"
    groups = model.get_param_groups()
    adjustment = model.pose_correction.camera_optimizer.pose_adjustment
    assert [id(p) for p in groups["camera_opt"]] == [id(adjustment)]
    assert all(id(adjustment) not in {id(p) for p in g} for name, g in groups.items() if name != "camera_opt")
    assert sum(len(g) for g in groups.values()) == len(list(model.parameters()))


def test_torso_stage_keeps_the_poses_frozen(parts):
    manager, model = parts
    train_step(manager, model, model.schedule.torso_start)
    assert model.pose_correction.camera_optimizer.pose_adjustment.grad is None


@pytest.mark.parametrize("torso_pose", ["given", "refined"])
def test_the_head_follows_its_refined_pose_and_the_torso_the_chosen_one(parts, monkeypatch, torso_pose):
    """By default the torso reads each frame's pose as given (the body moves with the frame, not with the head's
    correction: on the real clip the training frames fit better so), or the refined one; in training batches and in
    whole-image renders alike."""
    manager, model = parts
    model.config.torso_pose = torso_pose
    with torch.no_grad():
        model.pose_correction.camera_optimizer.pose_adjustment[:, 3:] = torch.tensor([0.0, 0.08, 0.0])
    seen = {}
    torso_forward, render_head = model.torso.forward, model._render_head

    def torso_spy(uv, poses, rows, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen["torso"], seen["rows"] = poses.detach().clone(), rows.detach().clone()
        return torso_forward(uv, poses, rows, *args, **kwargs)

    def head_spy(origins, directions, codes, eye, rows, poses):  # noqa: ANN001, ANN202
        seen["head"] = poses.detach().clone()
        return render_head(origins, directions, codes, eye, rows, poses)

    monkeypatch.setattr(model.torso, "forward", torso_spy)
    monkeypatch.setattr(model, "_render_head", head_spy)
    model.step = model.schedule.torso_start  # the torso renders
    model.train()
    ray_bundle, _ = manager.next_train(model.step)
    model(ray_bundle)
    given = model.head_poses[seen["rows"]]
    refined = compose(model.pose_correction(seen["rows"]), given.reshape(-1, 3, 4)).reshape(-1, 12)
    torch.testing.assert_close(seen["torso"], given if torso_pose == "given" else refined.detach())
    torch.testing.assert_close(seen["head"], refined.detach())
    assert float((given - refined).detach().abs().max()) > 1e-3
    model.eval()
    row = int(manager.tables.splits["train"][0])
    with torch.no_grad():
        model.get_outputs_for_camera(manager.train_dataset.cameras[0:1])
    given = model.head_poses[row].reshape(1, 12)
    refined = compose(model.pose_correction(torch.tensor([row])), model.head_poses[row].reshape(1, 3, 4))
    refined = refined.reshape(1, 12)
    assert seen["torso"].shape == (1, 12), "a whole frame's torso gets its pose once"
    torch.testing.assert_close(seen["torso"], given if torso_pose == "given" else refined)
    torch.testing.assert_close(seen["head"], refined.expand_as(seen["head"]))


def test_refined_poses_survive_a_checkpoint_and_move_the_render(parts):
    manager, model = parts
    model.eval()
    camera, _ = manager.next_eval_image(0)
    camera = manager.train_dataset.cameras[0:1]
    before = model.get_outputs_for_camera(camera)["rgb"]
    with torch.no_grad():
        model.pose_correction.camera_optimizer.pose_adjustment[:, 3:] = torch.tensor([0.0, 0.08, 0.0])
    moved = model.get_outputs_for_camera(camera)["rgb"]
    assert (moved - before).abs().mean() > 1e-3, "a dataset frame's render follows its refined pose"
    state = {k: v.clone() for k, v in model.state_dict().items()}
    fresh = _model(manager)
    fresh.load_state_dict(state)
    assert torch.equal(
        fresh.pose_correction.camera_optimizer.pose_adjustment, model.pose_correction.camera_optimizer.pose_adjustment
    )
    fresh.eval()
    assert torch.allclose(fresh.get_outputs_for_camera(camera)["rgb"], moved, atol=1e-5)


def test_refined_transforms_keep_the_layout_and_move_only_the_corrected_frames(parts, dataset):
    manager, model = parts
    tables = manager.tables
    with torch.no_grad():
        model.pose_correction.camera_optimizer.pose_adjustment[int(tables.splits["train"][0]), 3:] = 0.05
    contents = refined_transforms(model, dataset, manager.dataparser.config.scene_scale, tables.img_ids.tolist())
    original = {s: json.loads((dataset / f"transforms_{s}.json").read_text()) for s in ("train", "val")}
    assert set(contents) == {"transforms_train.json", "transforms_val.json"}
    for split in ("train", "val"):
        ours, theirs = contents[f"transforms_{split}.json"], original[split]
        assert set(ours) == set(theirs) and len(ours["frames"]) == len(theirs["frames"])
        changed = [
            not np.allclose(a["transform_matrix"], b["transform_matrix"], atol=1e-6)
            for a, b in zip(ours["frames"], theirs["frames"], strict=True)
        ]
        assert sum(changed) == (1 if split == "train" else 0)
    assert contents["transforms_val.json"] == original["val"], "validation frames are never trained: kept exactly"


def test_rotation_errors_against_rad_sample_truth(sample_dir, tmp_path):
    exact = rotation_errors(sample_dir, sample_dir)
    assert exact["train"]["median_deg"] < 0.05 and exact["val"]["p90_deg"] < 0.05
    for split in ("train", "val"):  # turn every frame by its own random 2 degrees
        content = json.loads((sample_dir / f"transforms_{split}.json").read_text())
        rng = np.random.default_rng(0)
        for frame in content["frames"]:
            axis = rng.normal(size=3)
            turn = exp_map_SO3xR3(torch.tensor([[0, 0, 0, *(np.radians(2) * axis / np.linalg.norm(axis))]]))[0]
            matrix = np.array(frame["transform_matrix"])
            matrix[:3, :3] = turn[:, :3].double().numpy() @ matrix[:3, :3]
            frame["transform_matrix"] = matrix.tolist()
        (tmp_path / f"transforms_{split}.json").write_text(json.dumps(content))
    off = rotation_errors(tmp_path, sample_dir)
    assert 1.5 < off["train"]["median_deg"] < 2.5
    assert len(transforms_frames(tmp_path)) == off["train"]["frames"] + off["val"]["frames"]


def test_absorb_folds_a_fitted_correction_into_the_trained_one():
    correction = HeadPoseCorrection(REFINE, num_frames=4, smoothness_mult=1.0)
    with torch.no_grad():
        correction.camera_optimizer.pose_adjustment[1] = torch.tensor([0.01, -0.02, 0.03, 0.05, -0.02, 0.01])
    before = correction(torch.arange(4))
    fitted = torch.tensor([[0.02, 0.0, -0.01, 0.0, 0.04, -0.03], [0.0, 0.01, 0.0, 0.02, 0.0, 0.0]])
    correction.absorb(torch.tensor([1, 2]), fitted)
    after = correction(torch.arange(4))
    assert torch.allclose(after[1:3], compose(exp_map_SO3xR3(fitted), before[1:3]), atol=1e-6)
    assert torch.equal(after[[0, 3]], before[[0, 3]]), "frames outside the rows keep their corrections"


def test_the_rounds_fits_are_smoothed_over_consecutive_frames_only():
    rows = torch.tensor([7, 3, 4, 5, 6, 10, 11])  # two runs (3-7 and 10-11), given out of order
    zigzag = torch.zeros(7, 6)
    zigzag[:5, 3] = torch.tensor([0.0, 0.1, -0.1, 0.1, -0.1])  # frames 7, 3, 4, 5, 6
    zigzag[5:, 3] = 1.0
    smoothed = smooth_over_consecutive_frames(rows, zigzag, sigma=2.0)
    assert smoothed[:5, 3].abs().max() < 0.05, "a frame-to-frame zigzag is flattened"
    assert torch.allclose(smoothed[5:, 3], torch.ones(2)), "frames 10-11 are not mixed with frames 3-7"
    assert torch.equal(smooth_over_consecutive_frames(rows, zigzag, sigma=0.0), zigzag)


def _turned_frames(manager, model, split: str, torso_stage: bool):
    """Train a tiny head (60 head steps, 40 taken); two frames of ``split`` rendered by the model itself (a perfect
    alignment exists), in the torso stage or still in the head stage, and their cameras with the first one turned by 3
    degrees about the head."""
    model.config.head_steps = 60
    model.schedule = type(model.schedule).of(model.config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(40):
        train_step(manager, model, step)
        optimizer.step()
    model.eval()
    model.step = model.schedule.torso_start if torso_stage else 20
    rows = manager.tables.splits[split][:2]
    dataset = manager.train_dataset if split == "train" else manager.eval_dataset
    cameras = dataset.cameras[0:2]
    images = torch.stack(
        [(model.get_outputs_for_camera(cameras[k : k + 1])["rgb"] * 255).round().byte() for k in range(2)]
    )
    turn = exp_map_SO3xR3(torch.tensor([[0.0, 0.0, 0.0, 0.0, float(np.radians(3.0)), 0.0]]))[0]
    turned = cameras.camera_to_worlds.clone()
    turned[0, :, :3] = turn[:, :3] @ turned[0, :, :3]
    turned[0, :, 3:] = turn[:, :3] @ turned[0, :, 3:]
    cameras.camera_to_worlds = turned
    return rows, cameras, images


def test_a_training_round_aligns_training_frames_into_their_trained_corrections(parts):
    """The block step of the refinement: the turned training frame's trained correction takes the turn back, the
    other keeps about none, and the model is left training, without a held-out alignment."""
    manager, model = parts
    rows, cameras, images = _turned_frames(manager, model, "train", torso_stage=False)
    model.train()
    trained = model.pose_correction(rows).detach()
    settings = AlignmentSettings(steps=60, rays_per_frame=512)
    fitted = align_training_poses(model, cameras, rows, images, settings, smoothing_frames=0.0)
    assert -3.6 < np.degrees(float(fitted[0, 4])) < -1.5, "the turn undone"
    assert np.degrees(float(fitted[1, 3:].norm())) < 1.5, "the frame that was not turned stays (within half the turn)"
    folded = model.pose_correction(rows).detach()
    assert torch.allclose(folded, compose(exp_map_SO3xR3(fitted), trained), atol=1e-5)
    assert model.training and model.pose_correction.held_out is None
    assert all(p.requires_grad for p in model.parameters())


def test_test_time_alignment_recovers_a_held_out_frames_turn(parts):
    """Train a tiny head, turn one held-out frame's camera by 3 degrees, align it back against its own render."""
    manager, model = parts
    # as after training: the torso stage, where training freezes the head
    rows, cameras, images = _turned_frames(manager, model, "val", torso_stage=True)
    model.train()  # as nerfstudio's evaluation loop leaves it (ns-eval): in the torso stage training freezes the head
    tangents = align_held_out_poses(model, cameras, rows, images, AlignmentSettings(steps=60, rays_per_frame=512))
    assert model.training, "the model's mode is given back"
    assert model.pose_correction.held_out is not None
    found = np.degrees(float(tangents[0, 4]))
    assert -3.6 < found < -1.5, f"the turn undone ({found:.2f} degrees)"
    assert np.degrees(float(tangents[1, 3:].norm())) < 1.0, "the frame that was not turned stays"
    assert all(p.requires_grad for p in model.parameters()), "the field is frozen only while aligning"


def test_the_pipeline_aligns_the_training_poses_at_its_rounds_and_only_when_refining(dataset, monkeypatch):
    from nerfstudio.engine.callbacks import TrainingCallbackAttributes, TrainingCallbackLocation

    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
    from rad_nerfstudio.engine.portrait_pipeline import PortraitPipelineConfig
    from rad_nerfstudio.evaluation import pose_alignment
    from rad_nerfstudio.model_components.stages import StageSchedule

    monkeypatch.setattr(pose_alignment, "ROUND_SETTINGS", AlignmentSettings(steps=5, rays_per_frame=16))  # quick

    assert StageSchedule(head_steps=2500, lips_steps=500).head_training_points(2) == (1500, 3000)
    assert StageSchedule(head_steps=2500, lips_steps=500, train_torso=False).head_training_points(1) == (2999,)

    def rounds(mode: str):
        model = small_rad_config(
            lips_steps=0,
            head_steps=8,
            camera_optimizer=CameraOptimizerConfig(mode=mode),  # pyright: ignore[reportArgumentType]
            pose_alignment_rounds=2,
        )
        config = PortraitPipelineConfig(datamanager=TalkingPortraitDataManagerConfig(data=dataset), model=model)
        torch.manual_seed(0)
        pipeline = config.setup(device="cpu")
        callbacks = pipeline.get_training_callbacks(TrainingCallbackAttributes(None, None, pipeline, None))
        return pipeline, [c for c in callbacks if c.iters is not None]

    assert rounds("off")[1] == []
    pipeline, found = rounds("SO3xR3")
    assert [c.iters for c in found] == [(4, 8)]
    adjustment = pipeline.model.pose_correction.camera_optimizer.pose_adjustment
    found[0].run_callback_at_location(4, TrainingCallbackLocation.BEFORE_TRAIN_ITERATION)
    train_rows, val_rows = pipeline.datamanager.train_rows, pipeline.datamanager.tables.splits["val"]
    assert adjustment[train_rows].abs().sum() > 0, "the training frames' corrections moved"
    assert adjustment[val_rows].abs().sum() == 0 and pipeline.model.pose_correction.held_out is None
