"""The audio code taught the mouth: the landmarks' mouth shape, its readout and loss, and the held-out diagnostic."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
from rad_nerfstudio.data.landmarks import mouth_shape, read_landmarks
from rad_nerfstudio.evaluation.dataset_mouth import true_mouth_open
from rad_nerfstudio.evaluation.mouth_shape import pearson_r
from rad_nerfstudio.field_components.occupancy import OccupancyGridConfig
from rad_nerfstudio.fields.er_nerf_head_field import ErNerfHeadFieldConfig
from rad_nerfstudio.fields.rad_head_field import RadHeadFieldConfig
from rad_nerfstudio.fields.torso_field import TorsoFieldConfig
from rad_nerfstudio.model_components.audio_mouth import AudioMouthReadout, ridge_readout_r
from rad_nerfstudio.models.er_nerf import ErNerfModelConfig
from rad_nerfstudio.models.rad_nerf import RadNerfModelConfig
from tests.model_steps import TINY_GRID, build_model, train_step


@pytest.fixture(scope="module")
def manager(sample_dir, tmp_path_factory):
    data = shutil.copytree(sample_dir, tmp_path_factory.mktemp("audio_mouth") / "portrait")
    config = TalkingPortraitDataManagerConfig(data=data)
    config.pixel_sampler.num_rays_per_batch = 128
    return config.setup(device="cpu")


def _config(kind: str, mult: float):
    common = dict(
        torso=TorsoFieldConfig(grid=TINY_GRID, hidden_dim=32),
        occupancy=OccupancyGridConfig(resolution=16, candidates=48),
        head_steps=10,
        ema_decay=0.0,
        audio_mouth_loss_mult=mult,
    )
    if kind == "rad-nerf":
        head = RadHeadFieldConfig(spatial_grid=TINY_GRID, audio_grid=TINY_GRID, hidden_dim=32)
        return RadNerfModelConfig(head=head, **common)
    return ErNerfModelConfig(head=ErNerfHeadFieldConfig(hidden_dim=32), **common)


def test_mouth_shape_is_zero_for_closed_lips_and_the_gap_over_the_width_when_open():
    points = np.zeros((68, 2))
    points[36], points[45] = (0.0, 0.0), (100.0, 0.0)  # outer eye corners 100 px apart
    points[48], points[54] = (30.0, 80.0), (70.0, 80.0)  # mouth 40 px wide
    for upper, lower in ((61, 67), (62, 66), (63, 65)):
        points[upper] = points[lower] = (50.0, 80.0)
    assert mouth_shape(points) == pytest.approx([0.0, 0.4])
    for upper, lower in ((61, 67), (62, 66), (63, 65)):
        points[upper], points[lower] = (50.0, 76.0), (50.0, 84.0)  # an 8 px gap
    assert mouth_shape(points) == pytest.approx([0.2, 0.4])


def test_the_sample_landmarks_mouth_opening_follows_its_true_opening(sample_dir):
    truth = np.load(sample_dir / "gt" / "params.npz")["mouth_open"]
    ids = sorted(int(p.stem) for p in (sample_dir / "ori_imgs").glob("*.lms"))
    opening = np.array([mouth_shape(read_landmarks(sample_dir / "ori_imgs" / f"{i}.lms"))[0] for i in ids])
    assert np.corrcoef(opening, truth[ids])[0, 1] > 0.9


def test_ridge_readout_r_finds_a_linear_code_and_not_noise():
    generator = torch.Generator().manual_seed(0)
    opening = torch.rand(300, generator=generator)
    mixing = torch.randn(1, 16, generator=generator)
    codes = opening[:, None] @ mixing + 0.05 * torch.randn(300, 16, generator=generator)
    assert ridge_readout_r(codes[:200], opening[:200], codes[200:], opening[200:]) > 0.95
    noise = torch.randn(300, 16, generator=generator)
    assert abs(ridge_readout_r(noise[:200], opening[:200], noise[200:], opening[200:])) < 0.35
    constant = torch.zeros(100)
    assert np.isnan(ridge_readout_r(codes[:50], opening[:50], codes[50:100], constant[50:]))


def test_the_readout_standardises_its_targets_over_the_training_frames_and_saves_only_its_weights():
    shape = torch.tensor([[0.0, 1.0], [0.2, 1.2], [0.4, 1.4], [5.0, 9.0]])
    readout = AudioMouthReadout(8, shape, torch.tensor([0, 1, 2]))
    assert readout.targets[:3].mean(0).tolist() == pytest.approx([0.0, 0.0], abs=1e-6)
    assert readout.targets[:3].std(0).tolist() == pytest.approx([1.0, 1.0])
    assert set(readout.state_dict()) == {"linear.weight", "linear.bias"}
    assert float(readout.loss(readout.targets[[1, 2]], torch.tensor([1, 2]))) == pytest.approx(0.0)


@pytest.mark.parametrize("kind", ["rad-nerf", "er-nerf"])
def test_the_audio_mouth_loss_trains_the_audio_encoder_and_the_diagnostic_reports_an_r(manager, kind):
    torch.manual_seed(0)
    model = build_model(_config(kind, 0.1), manager)
    model.train()
    train_step(manager, model, 1)  # sets the stage
    ray_bundle, batch = manager.next_train(2)
    loss = model.get_loss_dict(model(ray_bundle), batch)["audio_mouth_loss"]
    assert float(loss.detach()) > 0
    assert model.mouth_readout is not None
    encoder = list(model.audio_encoder.parameters())
    grads = torch.autograd.grad(loss, [*encoder, model.mouth_readout.linear.weight], allow_unused=True)
    assert any(g is not None and float(g.abs().sum()) > 0 for g in grads[:-1])
    assert grads[-1] is not None and float(grads[-1].abs().sum()) > 0
    r = model.audio_mouth_r()
    assert r is not None and -1.0 <= r <= 1.0
    predicted = model.audio_mouth_prediction()  # what r scores: the readout's opening of each validation frame
    assert predicted is not None and predicted.shape == (len(model.val_rows),)
    assert model.mouth_shape is not None
    assert r == pytest.approx(pearson_r(predicted.numpy(), model.mouth_shape[model.val_rows, 0].double().numpy()))


def test_the_audio_mouth_loss_teaches_the_code_the_mouth_opening(manager):
    """A hundred steps of the readout's loss alone: a ridge readout fitted on every other training frame then
    predicts the opening of the frames between them (the sample's validation tail is too short to score)."""
    torch.manual_seed(0)
    model = build_model(_config("er-nerf", 1.0), manager)
    assert model.mouth_readout is not None and model.mouth_shape is not None
    params = [*model.audio_encoder.parameters(), *model.mouth_readout.parameters()]
    optimizer = torch.optim.Adam(params, lr=3e-3)
    rows = model.train_rows
    fit, held_out = rows[0::2], rows[1::2]
    opening = model.mouth_shape[:, 0]

    def interleaved_r() -> float:
        with torch.no_grad():
            codes = model.audio_codes(rows)
        return ridge_readout_r(codes[0::2], opening[fit], codes[1::2], opening[held_out])

    before = interleaved_r()
    for _ in range(100):
        loss = model.mouth_readout.loss(model.mouth_readout(model.audio_codes(fit)), fit)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = interleaved_r()
    assert after > 0.95 and after > before + 0.1


def test_without_the_loss_there_is_no_readout_and_the_diagnostic_still_works(manager):
    model = build_model(_config("rad-nerf", 0.0), manager)
    model.train()
    _, losses = train_step(manager, model, 1)
    assert model.mouth_readout is None and "audio_mouth_loss" not in losses
    assert model.audio_mouth_r() is not None


def test_the_cpu_methods_read_the_ridge_mouth_and_the_paper_methods_audio_net():
    """The CPU methods: the ridge regression of the mouth (and, given ``audio-net``, the code taught the mouth) on
    the log-mel spectrum beside Whisper; the paper-sized ones: the anchors' AudioNet, untaught, on the anchors'
    features where the dataset has them (``auto``)."""
    from rad_nerfstudio.method_configs import er_nerf, er_nerf_small, rad_nerf, rad_nerf_small

    for spec, small in ((rad_nerf_small, True), (er_nerf_small, True), (rad_nerf, False), (er_nerf, False)):
        model = spec.config.pipeline.model
        assert model.audio_encoder == ("ridge-mouth" if small else "audio-net")
        assert (model.audio_mouth_loss_mult > 0) is small
        assert spec.config.pipeline.datamanager.dataparser.audio_features == ("mel-whisper" if small else "auto")


def test_true_mouth_open_reads_the_held_out_renderers_gt_json(tmp_path):
    (tmp_path / "gt").mkdir()
    frames = [{"frame": i, "mouth_open": i / 10} for i in range(5)]
    (tmp_path / "gt" / "gt.json").write_text(json.dumps({"frames": frames}))
    assert true_mouth_open(tmp_path, [1, 4]).tolist() == pytest.approx([0.1, 0.4])
    assert true_mouth_open(tmp_path / "nowhere", [0]) is None


@pytest.mark.parametrize("conditioning", ["with-code", "alone"])
def test_a_mouth_conditioned_field_reads_the_landmarks_in_training_and_the_audio_readout_elsewhere(
    manager, conditioning
):
    torch.manual_seed(0)
    config = _config("er-nerf", 0.1)
    config.mouth_conditioning = conditioning
    model = build_model(config, manager)
    assert model.mouth_readout is not None
    rows = model.train_rows[:5]
    codes = model.audio_codes(rows)
    model.train()
    taught = model.field_condition(codes, rows)
    assert taught.shape == (5, 2 + (model.config.audio_code_dim if conditioning == "with-code" else 0))
    assert torch.equal(taught[:, -2:], model.mouth_readout.targets[rows])
    assert torch.allclose(model.field_condition(codes, None)[:, -2:], model.mouth_readout(codes))  # a new audio
    model.eval()
    with torch.no_grad():
        predicted = model.field_condition(codes, rows)
        assert torch.allclose(predicted[:, -2:], model.mouth_readout(codes))
        camera = manager.eval_dataset.cameras[0:1]
        image = model.get_outputs_for_camera(camera)["rgb"]
    assert image.shape[-1] == 3 and bool(torch.isfinite(image).all())
    model.train()
    _, losses = train_step(manager, model, 1)
    assert "audio_mouth_loss" in losses


def test_mouth_conditioning_without_the_readout_is_refused(manager):
    config = _config("rad-nerf", 0.0)
    config.mouth_conditioning = "alone"
    with pytest.raises(ValueError, match="audio-mouth-loss-mult"):
        build_model(config, manager)


@pytest.mark.parametrize("kind", ["rad-nerf", "er-nerf"])
def test_a_ridge_mouth_head_reads_the_landmarks_in_training_and_the_regression_elsewhere(manager, kind, tmp_path):
    torch.manual_seed(0)
    config = _config(kind, 0.1)
    config.audio_encoder = "ridge-mouth"
    model = build_model(config, manager)
    assert model.mouth_readout is None and model.field_code_dim == 2
    rows = model.train_rows[:5]
    codes = model.audio_codes(rows)
    assert codes.shape == (5, 2)
    model.train()
    taught = model.field_condition(codes, rows)
    assert taught.shape == (5, 2) and torch.equal(taught, model.ridge_targets[rows]), (taught, model.ridge_targets)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model.field_condition(codes, rows), codes)  # the regression's prediction
        image = model.get_outputs_for_camera(manager.eval_dataset.cameras[0:1])["rgb"]
    assert image.shape[-1] == 3 and bool(torch.isfinite(image).all())
    model.train()
    _, losses = train_step(manager, model, 1)
    assert "audio_mouth_loss" not in losses and all(bool(torch.isfinite(v)) for v in losses.values())
    torch.save(model.state_dict(), tmp_path / "model.pt")
    again = build_model(config, manager)
    again.load_state_dict(torch.load(tmp_path / "model.pt"))
    assert torch.equal(again.audio_codes(rows), model.audio_codes(rows))


def test_the_ridge_mouths_predictions_spread_as_far_as_the_landmarks_unless_turned_off(manager):
    """The default scales the regression's shrunk predictions by its cross-validated spread gain; with
    ``ridge_mouth_full_spread`` off the predictions are the plain ridge's, the same up to that gain around the mean."""
    config = _config("er-nerf", 0.0)
    config.audio_encoder = "ridge-mouth"
    assert config.ridge_mouth_full_spread and config.ridge_mouth_within_training_range
    config.ridge_mouth_within_training_range = False  # the spread alone
    spread = build_model(config, manager)
    config.ridge_mouth_full_spread = False
    plain = build_model(config, manager)
    gain = spread.audio_encoder.spread_gain
    assert torch.equal(plain.audio_encoder.spread_gain, torch.ones(2)) and float(gain[0]) > 1.0, gain
    rows = spread.val_rows
    bias = plain.audio_encoder.weights[-1]
    torch.testing.assert_close(
        spread.audio_codes(rows) - bias, (plain.audio_codes(rows) - bias) * gain, rtol=1e-4, atol=1e-5
    )


def test_the_ridge_mouths_predictions_stay_within_the_training_frames_mouths(manager):
    """By default the head is never asked for a mouth beyond the range the training frames' landmarks span."""
    config = _config("er-nerf", 0.0)
    config.audio_encoder = "ridge-mouth"
    model = build_model(config, manager)
    taught = model.ridge_targets[model.train_rows]
    low, high = taught.min(0).values, taught.max(0).values
    torch.testing.assert_close(model.audio_encoder.low, low)
    torch.testing.assert_close(model.audio_encoder.high, high)
    every = torch.arange(len(model.audio_index))
    codes = model.audio_codes(every)
    assert bool(((codes >= low) & (codes <= high)).all())
    config.ridge_mouth_within_training_range = False
    free = build_model(config, manager).audio_codes(every)
    torch.testing.assert_close(codes, free.clamp(low, high))


def test_under_landmark_mouth_renders_read_the_frames_own_mouth_and_an_audio_code_head_refuses_it(manager):
    torch.manual_seed(0)
    config = _config("er-nerf", 0.0)
    config.audio_encoder = "ridge-mouth"
    model = build_model(config, manager)
    model.eval()
    rows = model.val_rows[:4]
    codes = model.audio_codes(rows)
    with model.landmark_mouth():
        assert torch.equal(model.field_condition(codes, rows), model.ridge_targets[rows])
        assert torch.equal(model.field_condition(codes, None), codes)  # codes of no frame: the prediction
    assert torch.equal(model.field_condition(codes, rows), codes) and not model.mouth_from_landmarks
    audio_net = build_model(_config("er-nerf", 0.1), manager)
    assert not audio_net.reads_mouth
    with pytest.raises(ValueError, match="reads an audio code"):
        with audio_net.landmark_mouth():
            pass


def test_a_ridge_mouth_head_refuses_a_second_mouth_conditioning(manager):
    config = _config("er-nerf", 0.0)
    config.audio_encoder = "ridge-mouth"
    config.mouth_conditioning = "alone"
    with pytest.raises(ValueError, match="mouth-conditioning"):
        build_model(config, manager)


def test_a_ridge_mouth_beside_a_code_teaches_the_mouth_and_trains_the_code(manager):
    torch.manual_seed(0)
    config = _config("er-nerf", 0.0)
    config.audio_encoder, config.mouth_conditioning, config.audio_code_dim = "ridge-mouth", "with-code", 8
    model = build_model(config, manager)
    assert model.field_code_dim == 10
    rows = model.train_rows[:4]
    codes = model.audio_codes(rows)
    assert codes.shape == (4, 10)
    model.train()
    taught = model.field_condition(codes, rows)
    assert torch.equal(taught[:, :8], codes[:, :8]) and torch.equal(taught[:, 8:], model.ridge_targets[rows])
    model.eval()
    assert torch.equal(model.field_condition(codes, rows), codes)
    model.train()
    _, losses = train_step(manager, model, 1)
    assert all(bool(torch.isfinite(v)) for v in losses.values())
    grads = [p.grad for p in model.audio_encoder.code.parameters()]
    trained = any(g is not None and bool(g.abs().sum() > 0) for g in grads)
    assert trained, "the AudioNet code beside the mouth is not trained"
