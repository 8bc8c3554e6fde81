"""The viewer opens looking through a training camera (and a button goes back there).

viser starts every client at its own default camera, which for a portrait sits close to the head at an odd angle;
this element, installed with the portrait's other controls, places each new client (and, on click, every client) at
the viewer frame's training camera, in the viewer's own convention (``nerfstudio.viewer.Viewer.get_camera_state``
undoes exactly this).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import viser
import viser.transforms as vtf
from jaxtyping import Float
from nerfstudio.viewer.viewer import VISER_NERFSTUDIO_SCALE_RATIO
from nerfstudio.viewer.viewer_elements import ViewerButton


def viser_camera_pose(
    camera_to_world: Float[np.ndarray, "3 4"],
) -> Tuple[Float[np.ndarray, " 3"], Float[np.ndarray, " 4"]]:
    """The viser camera position and orientation (wxyz) that nerfstudio's viewer reads as ``camera_to_world``."""
    rotation = vtf.SO3.from_matrix(np.asarray(camera_to_world[:, :3], dtype=np.float64)) @ vtf.SO3.from_x_radians(np.pi)
    return np.asarray(camera_to_world[:, 3], dtype=np.float64) * VISER_NERFSTUDIO_SCALE_RATIO, rotation.wxyz


class TrainingView(ViewerButton):
    """A "Training view" button that also places every newly connected client at the training camera."""

    def __init__(self, camera_to_world: Float[np.ndarray, "3 4"], vertical_fov: float) -> None:
        self.camera_to_world = np.asarray(camera_to_world, dtype=np.float64)
        self.vertical_fov = float(vertical_fov)
        self._server: viser.ViserServer | None = None
        super().__init__("Training view", cb_hook=lambda _: self.place_all())

    def place(self, client: viser.ClientHandle) -> None:
        """Look through the training camera."""
        position, wxyz = viser_camera_pose(self.camera_to_world)
        with client.atomic():
            client.camera.fov = self.vertical_fov
            client.camera.position = position
            client.camera.wxyz = wxyz

    def place_all(self) -> None:
        if self._server is not None:
            for client in self._server.get_clients().values():
                self.place(client)

    def install(self, viser_server: viser.ViserServer) -> None:
        super().install(viser_server)
        self._server = viser_server
        viser_server.on_client_connect(self.place)
