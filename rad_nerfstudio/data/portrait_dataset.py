"""nerfstudio ``InputDataset`` for talking portraits: images read with OpenCV at the cameras' resolution."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from nerfstudio.data.datasets.base_dataset import InputDataset

from rad_nerfstudio.errors import DatasetError
from rad_nerfstudio.io.layout import read_rgb


class PortraitDataset(InputDataset):
    """Reads ``gt_imgs`` and resizes them (area filter) to the size of their camera, so the dataparser's
    ``downscale_factor`` and nerfstudio's ``camera_res_scale_factor`` both apply to images and cameras alike."""

    def get_numpy_image(self, image_idx: int) -> npt.NDArray[np.uint8]:
        path = self._dataparser_outputs.image_filenames[image_idx]
        width, height = int(self.cameras.width[image_idx]), int(self.cameras.height[image_idx])
        image = read_rgb(path, (width, height))
        if image is None:
            raise DatasetError(path, "cannot be read as an image")
        return image
