// The fused kernels on a GPU: one thread per (point, level) or per ray around the shared arithmetic of common.h.
// The grid backward scatters with atomicAdd (levels are not owned by threads here).
#include <c10/cuda/CUDAStream.h>
#include <torch/extension.h>

#include <vector>

#include "common.h"
#include "dispatch.h"
#include "kernels.h"

namespace {

constexpr int kThreads = 256;

inline int blocks_for(int64_t n) { return static_cast<int>((n + kThreads - 1) / kThreads); }

inline void check_cuda(const torch::Tensor& tensor, const char* name) {
  TORCH_CHECK(tensor.is_cuda(), name, ": tensors must be on a CUDA device");
}

// One thread per (point, level): its point and level, or false past the end.
__device__ inline bool thread_point(const rad::GridView& grid, int64_t& id, int64_t& i, int64_t& level) {
  id = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (id >= grid.n * grid.levels) return false;
  i = id / grid.levels;
  level = id % grid.levels;
  return true;
}

template <int D>
__global__ void grid_forward_kernel(const rad::GridView grid, float* features) {
  int64_t id, i, level;
  if (!thread_point(grid, id, i, level)) return;
  rad::Corners c;
  rad::point_corners<D>(grid, i, level, c);
  rad::interpolate<D>(grid, c, features + id * grid.width);
}

template <int D>
__global__ void grid_backward_kernel(const rad::GridView grid, float* grad_table) {
  int64_t id, i, level;
  if (!thread_point(grid, id, i, level)) return;
  rad::Corners c;
  rad::point_corners<D>(grid, i, level, c);
  const float* grad = grid.values + id * grid.width;
  for (int corner = 0; corner < (1 << D); ++corner) {
    for (int64_t f = 0; f < grid.width; ++f) {
      atomicAdd(grad_table + c.rows[corner] * grid.width + f, c.weights[corner] * grad[f]);
    }
  }
}

// One thread per point (its levels in turn): it owns its row of the gradient.
template <int D>
__global__ void grid_points_backward_kernel(const rad::GridView grid, const float* table, float* grad_points) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= grid.n) return;
  float grad[D];
  for (int d = 0; d < D; ++d) grad[d] = 0.0f;
  for (int64_t level = 0; level < grid.levels; ++level) rad::accumulate_point_grad<D>(grid, table, i, level, grad);
  for (int d = 0; d < D; ++d) grad_points[i * D + d] = grad[d];
}

__global__ void march_kernel(const float* origins, const float* directions, rad::MarchGrid grid, int64_t rays,
                             float* starts, float* ends, bool* keep, int64_t* candidate) {
  const int64_t ray = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (ray >= rays) return;
  const int64_t row = ray * grid.max_samples;
  rad::march_ray(origins + 3 * ray, directions + 3 * ray, grid, starts + row, ends + row, keep + row,
                 candidate + row);
}

// One thread per sample; the first of each ray's run composites the run.
__global__ void composite_packed_kernel(int64_t n, const int64_t* ray, const float* sigma, const float* rgb,
                                        const float* maps, int64_t channels, const float* t0, const float* t1,
                                        float* t_io, float* out) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n || (i > 0 && ray[i] == ray[i - 1])) return;
  rad::composite_packed_ray(i, rad::packed_run_end(ray, i, n), sigma, rgb, maps, channels, t0, t1, t_io + ray[i],
                            out + (5 + channels) * ray[i]);
}

__global__ void composite_kernel(int64_t rays, int64_t k, const float* sigma, const float* rgb, const float* t0,
                                 const float* t1, const bool* valid, const float* t_in, float* weights,
                                 float* packed) {
  const int64_t ray = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (ray >= rays) return;
  const int64_t i = ray * k;
  rad::composite_ray(k, sigma + i, rgb + 3 * i, t0 + i, t1 + i, valid + i, t_in[ray], weights + i, packed + 6 * ray);
}

__global__ void composite_backward_kernel(int64_t rays, int64_t k, const float* sigma, const float* rgb,
                                          const float* t0, const float* t1, const bool* valid, const float* t_in,
                                          const float* gw, const float* go, float* g_sigma, float* g_rgb,
                                          float* g_t0, float* g_t1) {
  const int64_t ray = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (ray >= rays) return;
  const int64_t i = ray * k;
  rad::composite_ray_backward(k, sigma + i, rgb + 3 * i, t0 + i, t1 + i, valid + i, t_in[ray], gw + i, go + 5 * ray,
                              g_sigma + i, g_rgb + 3 * i, g_t0 == nullptr ? nullptr : g_t0 + i,
                              g_t1 == nullptr ? nullptr : g_t1 + i);
}

}  // namespace

torch::Tensor hash_grid_forward(torch::Tensor points, torch::Tensor table, torch::Tensor resolutions,
                                int64_t n_dense) {
  check_cuda(points, "hash_grid_forward");
  const auto job = rad::GridJob::forward(points, table, resolutions, n_dense);
  auto features = job.empty_features();
  if (job.view.n == 0) return features;
  auto stream = c10::cuda::getCurrentCUDAStream();
  const int blocks = blocks_for(job.view.n * job.view.levels);
  RAD_DISPATCH_DIM(job.dim, grid_forward_kernel<kD><<<blocks, kThreads, 0, stream>>>(job.view, features.data_ptr<float>()));
  return features;
}

torch::Tensor hash_grid_backward(torch::Tensor points, torch::Tensor grad_features, torch::Tensor resolutions,
                                 int64_t n_dense, int64_t table_size) {
  check_cuda(points, "hash_grid_backward");
  const auto job = rad::GridJob::backward(points, grad_features, resolutions, n_dense, table_size);
  auto grad_table = job.zero_table();
  if (job.view.n == 0) return grad_table;
  auto stream = c10::cuda::getCurrentCUDAStream();
  const int blocks = blocks_for(job.view.n * job.view.levels);
  RAD_DISPATCH_DIM(job.dim,
                   grid_backward_kernel<kD><<<blocks, kThreads, 0, stream>>>(job.view, grad_table.data_ptr<float>()));
  return grad_table;
}

torch::Tensor hash_grid_points_backward(torch::Tensor points, torch::Tensor table, torch::Tensor grad_features,
                                        torch::Tensor resolutions, int64_t n_dense) {
  check_cuda(points, "hash_grid_points_backward");
  const auto job = rad::GridJob::points_backward(points, table, grad_features, resolutions, n_dense);
  auto grad_points = torch::empty_like(job.points);
  if (job.view.n == 0) return grad_points;
  auto stream = c10::cuda::getCurrentCUDAStream();
  const float* values = job.table.data_ptr<float>();
  RAD_DISPATCH_DIM(job.dim, grid_points_backward_kernel<kD><<<blocks_for(job.view.n), kThreads, 0, stream>>>(
                                job.view, values, grad_points.data_ptr<float>()));
  return grad_points;
}

std::vector<torch::Tensor> march_rays(torch::Tensor origins, torch::Tensor directions, torch::Tensor occupied,
                                      torch::Tensor aabb, int64_t resolution, int64_t candidates,
                                      int64_t max_samples, double near) {
  check_cuda(origins, "march_rays");
  rad::MarchJob job(origins, directions, occupied, aabb, resolution, candidates, max_samples, near);
  if (job.rays > 0) {
    march_kernel<<<blocks_for(job.rays), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        job.origins.data_ptr<float>(), job.directions.data_ptr<float>(), job.grid, job.rays,
        job.t_starts.data_ptr<float>(), job.t_ends.data_ptr<float>(), job.valid.data_ptr<bool>(),
        job.candidate.data_ptr<int64_t>());
  }
  return job.outputs();
}

std::vector<torch::Tensor> composite_forward(torch::Tensor density, torch::Tensor rgb, torch::Tensor t_starts,
                                             torch::Tensor t_ends, torch::Tensor valid, torch::Tensor start) {
  check_cuda(density, "composite_forward");
  rad::CompositeInputs in(density, rgb, t_starts, t_ends, valid, start);
  auto weights = torch::empty({in.rays, in.k}, in.density.options());
  auto packed = torch::empty({in.rays, 6}, in.density.options());
  if (in.rays > 0) {
    composite_kernel<<<blocks_for(in.rays), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        in.rays, in.k, in.sigma, in.colour, in.t0, in.t1, in.valid_ptr, in.t_in, weights.data_ptr<float>(),
        packed.data_ptr<float>());
  }
  return rad::unpack_composite(weights, packed);
}

std::vector<torch::Tensor> composite_backward(torch::Tensor grad_weights, torch::Tensor grad_outputs,
                                              torch::Tensor density, torch::Tensor rgb, torch::Tensor t_starts,
                                              torch::Tensor t_ends, torch::Tensor valid, torch::Tensor start,
                                              bool bounds) {
  check_cuda(density, "composite_backward");
  rad::CompositeGrads g(grad_weights, grad_outputs, density, rgb, t_starts, t_ends, valid, start, bounds);
  const rad::CompositeInputs& in = g.in;
  if (in.rays > 0) {
    composite_backward_kernel<<<blocks_for(in.rays), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        in.rays, in.k, in.sigma, in.colour, in.t0, in.t1, in.valid_ptr, in.t_in, g.gw, g.go, g.g_sigma, g.g_rgb,
        g.g_t0, g.g_t1);
  }
  return g.outputs();
}

void composite_packed(torch::Tensor ray, torch::Tensor density, torch::Tensor rgb, torch::Tensor maps,
                      torch::Tensor t_starts, torch::Tensor t_ends, torch::Tensor transmittance, torch::Tensor out) {
  check_cuda(density, "composite_packed");
  const rad::PackedComposite in(ray, density, rgb, maps, t_starts, t_ends, transmittance, out);
  if (in.n > 0) {  // the ray order is the caller's to keep (checked on the CPU; a check here would synchronise)
    composite_packed_kernel<<<blocks_for(in.n), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        in.n, in.ray.data_ptr<int64_t>(), in.density.data_ptr<float>(), in.rgb.data_ptr<float>(),
        in.maps.data_ptr<float>(), in.channels, in.t_starts.data_ptr<float>(), in.t_ends.data_ptr<float>(),
        transmittance.data_ptr<float>(), out.data_ptr<float>());
  }
}
