// Python bindings of the fused kernels (the CPU and the CUDA extension modules both compile this file).
#include "kernels.h"

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("hash_grid_forward", &hash_grid_forward, "hash / dense grid encoding: points [N, D] -> [N, L, F]");
  m.def("hash_grid_backward", &hash_grid_backward, "gradient of the grid encoding with respect to its table");
  m.def("hash_grid_points_backward", &hash_grid_points_backward,
        "gradient of the grid encoding with respect to its points");
  m.def("march_rays", &march_rays, "samples in occupied cells of the max occupancy grid, kept ones first");
  m.def("composite_forward", &composite_forward, "front-to-back alpha compositing from a starting transmittance");
  m.def("composite_backward", &composite_backward,
        "gradients of density and rgb (and of the sample bounds) of the compositing");
  m.def("composite_packed", &composite_packed,
        "one piece of an early-stopped render, packed samples grouped by ray: adds to out, updates transmittance");
}
