"""The portrait's viewer controls installed into a real viser server, as nerfstudio's viewer does."""

from __future__ import annotations

import socket
import time

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
    controls.background_colour.gui_handle.value = (10, 20, 30)
    assert _wait_for(lambda: state.background is not None and int(state.background[0, 0, 2]) == 30)
    assert _wait_for(lambda: state.audio_smoothing == 0.5 and not state.torso)
    assert state.background is not None and state.background.shape == (8, 8, 3)
