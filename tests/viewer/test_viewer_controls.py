"""The portrait's viewer controls installed into a real viser server, as nerfstudio's viewer does."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
import torch
import viser
from nerfstudio.viewer.utils import parse_object
from nerfstudio.viewer.viewer_elements import ViewerElement

from rad_nerfstudio.viewer.portrait_controls import PortraitViewerControls


@pytest.fixture
def server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = viser.ViserServer(host="127.0.0.1", port=port, verbose=False)
    yield server
    server.stop()


def _wait_for(condition) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not condition():
        time.sleep(0.02)
    return condition()


def test_gui_changes_reach_the_render_controls(server):
    eye = torch.linspace(0, 1, 50)
    controls = PortraitViewerControls(eye, default_frame=3, plate_shape=(8, 8))
    elements = dict(parse_object(controls, ViewerElement, "Custom Elements"))
    assert len(elements) == 7
    for element in elements.values():
        element.install(server)
    state = controls.controls
    assert state.audio_frame == 3 and state.eye == pytest.approx(float(eye[3])) and state.background is None

    controls.audio_frame.gui_handle.value = 20
    assert _wait_for(lambda: state.audio_frame == 20 and state.eye == pytest.approx(float(eye[20]))), "eye follows"
    controls.eye_from_frame.gui_handle.value = False
    controls.eye.gui_handle.value = 0.25
    assert _wait_for(lambda: state.eye == pytest.approx(0.25))
    controls.audio_smoothing.gui_handle.value = 0.5
    controls.torso.gui_handle.value = False
    controls.background.gui_handle.value = "colour"
    controls.background_color.gui_handle.value = (10, 20, 30)
    assert _wait_for(lambda: state.background is not None and int(state.background[0, 0, 2]) == 30)
    assert _wait_for(lambda: state.audio_smoothing == 0.5 and not state.torso)
    assert state.background is not None and state.background.shape == (8, 8, 3)


class _FakeCamera:
    def __init__(self) -> None:
        self.fov, self.aspect, self.position, self.wxyz = 1.0, 1.0, (0.0, 0.0, 5.0), (1.0, 0.0, 0.0, 0.0)


class _FakeClient:
    """What ``TrainingView.place`` and nerfstudio's ``Viewer.get_camera_state`` touch of a viser client."""

    def __init__(self) -> None:
        self.camera = _FakeCamera()

    def atomic(self):
        import contextlib

        return contextlib.nullcontext()


def test_the_viewer_opens_looking_through_the_training_camera_at_the_rgb_portrait(server, dataset):
    from types import SimpleNamespace

    from nerfstudio.viewer.viewer import Viewer

    from rad_nerfstudio.data.datamanager import TalkingPortraitDataManagerConfig
    from rad_nerfstudio.viewer.training_view import TrainingView

    manager = TalkingPortraitDataManagerConfig(data=dataset).setup(device="cpu")
    view = manager.training_view
    assert isinstance(view, TrainingView)
    assert dict(parse_object(manager, ViewerElement, "Custom Elements")), "the viewer finds it on the pipeline"
    view.install(server)
    client = _FakeClient()
    view.place(client)  # pyright: ignore[reportArgumentType] - what a connecting client gets (on_client_connect)
    state = Viewer.get_camera_state(SimpleNamespace(ready=False, current_camera_idx=0), client)  # type: ignore
    first = manager.train_dataset.cameras[0]
    assert torch.allclose(state.c2w.float(), first.camera_to_worlds, atol=1e-5), "nerfstudio reads the training pose"
    assert state.fov == pytest.approx(2 * np.arctan(float(first.height) / (2 * float(first.fy))))
