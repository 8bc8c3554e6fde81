// The fused kernels' entry points; kernels_cpu.cpp and kernels_cuda.cu each define all of them.
#pragma once

#include <torch/extension.h>

#include <vector>

torch::Tensor hash_grid_forward(torch::Tensor points, torch::Tensor table, torch::Tensor resolutions,
                                int64_t n_dense);
torch::Tensor hash_grid_backward(torch::Tensor points, torch::Tensor grad_features, torch::Tensor resolutions,
                                 int64_t n_dense, int64_t table_size);
torch::Tensor hash_grid_points_backward(torch::Tensor points, torch::Tensor table, torch::Tensor grad_features,
                                        torch::Tensor resolutions, int64_t n_dense);
std::vector<torch::Tensor> march_rays(torch::Tensor origins, torch::Tensor directions, torch::Tensor occupied,
                                      torch::Tensor aabb, int64_t resolution, int64_t candidates,
                                      int64_t max_samples, double near);
std::vector<torch::Tensor> composite_forward(torch::Tensor density, torch::Tensor rgb, torch::Tensor t_starts,
                                             torch::Tensor t_ends, torch::Tensor valid, torch::Tensor start);
std::vector<torch::Tensor> composite_backward(torch::Tensor grad_weights, torch::Tensor grad_outputs,
                                              torch::Tensor density, torch::Tensor rgb, torch::Tensor t_starts,
                                              torch::Tensor t_ends, torch::Tensor valid, torch::Tensor start,
                                              bool bounds);
void composite_packed(torch::Tensor ray, torch::Tensor density, torch::Tensor rgb, torch::Tensor maps,
                      torch::Tensor t_starts, torch::Tensor t_ends, torch::Tensor transmittance, torch::Tensor out);
