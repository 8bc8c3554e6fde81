// The fused kernels on the CPU: loops over points / rays (OpenMP) around the shared arithmetic of common.h.
#include <torch/extension.h>

#include <tuple>
#include <vector>

#include "common.h"
#include "dispatch.h"
#include "kernels.h"

namespace {

template <int D, int W>
void grid_forward(const rad::GridView& grid, float* features) {
  // threads own contiguous ranges of points (and so of the output rows: no false sharing)
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < grid.n; ++i) {
    rad::Corners c;
    for (int64_t level = 0; level < grid.levels; ++level) {
      rad::point_corners<D>(grid, i, level, c);
      rad::interpolate<D, W>(grid, c, features + (i * grid.levels + level) * grid.width);
    }
  }
}

template <int D, int W>
void grid_backward(const rad::GridView& grid, float* grad_table) {
  // a level owns its table rows: levels run in parallel and the scatter needs no atomics
  const int64_t levels = grid.levels, width = W > 0 ? W : grid.width;
#pragma omp parallel for schedule(static)
  for (int64_t level = 0; level < levels; ++level) {
    rad::Corners c;
    for (int64_t i = 0; i < grid.n; ++i) {
      rad::point_corners<D>(grid, i, level, c);
      const float* grad = grid.values + (i * levels + level) * width;
      for (int corner = 0; corner < (1 << D); ++corner) {
        float* target = grad_table + c.rows[corner] * width;
        for (int64_t f = 0; f < width; ++f) target[f] += c.weights[corner] * grad[f];
      }
    }
  }
}

template <int D, int W>
void grid_points_backward(const rad::GridView& grid, const float* table, float* grad_points) {
  // a thread owns its points' rows of the gradient: no atomics
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < grid.n; ++i) {
    float grad[D];
    for (int d = 0; d < D; ++d) grad[d] = 0.0f;
    for (int64_t level = 0; level < grid.levels; ++level) {
      rad::accumulate_point_grad<D, W>(grid, table, i, level, grad);
    }
    for (int d = 0; d < D; ++d) grad_points[i * D + d] = grad[d];
  }
}

void check_cpu(const torch::Tensor& tensor, const char* name) {
  TORCH_CHECK(tensor.device().is_cpu(), name, ": tensors must be on the CPU (the CUDA twins serve GPU tensors)");
}

}  // namespace

torch::Tensor hash_grid_forward(torch::Tensor points, torch::Tensor table, torch::Tensor resolutions,
                                int64_t n_dense) {
  check_cpu(points, "hash_grid_forward");
  const auto job = rad::GridJob::forward(points, table, resolutions, n_dense);
  auto features = job.empty_features();
  float* out = features.data_ptr<float>();
  RAD_DISPATCH_DIM(job.dim, RAD_DISPATCH_WIDTH(job.view.width, grid_forward<kD, kW>(job.view, out)));
  return features;
}

torch::Tensor hash_grid_backward(torch::Tensor points, torch::Tensor grad_features, torch::Tensor resolutions,
                                 int64_t n_dense, int64_t table_size) {
  check_cpu(points, "hash_grid_backward");
  const auto job = rad::GridJob::backward(points, grad_features, resolutions, n_dense, table_size);
  auto grad_table = job.zero_table();
  float* out = grad_table.data_ptr<float>();
  RAD_DISPATCH_DIM(job.dim, RAD_DISPATCH_WIDTH(job.view.width, grid_backward<kD, kW>(job.view, out)));
  return grad_table;
}

torch::Tensor hash_grid_points_backward(torch::Tensor points, torch::Tensor table, torch::Tensor grad_features,
                                        torch::Tensor resolutions, int64_t n_dense) {
  check_cpu(points, "hash_grid_points_backward");
  const auto job = rad::GridJob::points_backward(points, table, grad_features, resolutions, n_dense);
  auto grad_points = torch::empty_like(job.points);
  const float* values = job.table.data_ptr<float>();
  float* out = grad_points.data_ptr<float>();
  RAD_DISPATCH_DIM(job.dim, RAD_DISPATCH_WIDTH(job.view.width, grid_points_backward<kD, kW>(job.view, values, out)));
  return grad_points;
}

std::vector<torch::Tensor> march_rays(torch::Tensor origins, torch::Tensor directions, torch::Tensor occupied,
                                      torch::Tensor aabb, int64_t resolution, int64_t candidates,
                                      int64_t max_samples, double near) {
  check_cpu(origins, "march_rays");
  rad::MarchJob job(origins, directions, occupied, aabb, resolution, candidates, max_samples, near);
  const float *o = job.origins.data_ptr<float>(), *d = job.directions.data_ptr<float>();
  float *starts = job.t_starts.data_ptr<float>(), *ends = job.t_ends.data_ptr<float>();
  bool* keep = job.valid.data_ptr<bool>();
  int64_t* index = job.candidate.data_ptr<int64_t>();
#pragma omp parallel for schedule(static)
  for (int64_t ray = 0; ray < job.rays; ++ray) {
    const int64_t row = ray * max_samples;
    rad::march_ray(o + 3 * ray, d + 3 * ray, job.grid, starts + row, ends + row, keep + row, index + row);
  }
  return job.outputs();
}

std::vector<torch::Tensor> composite_forward(torch::Tensor density, torch::Tensor rgb, torch::Tensor t_starts,
                                             torch::Tensor t_ends, torch::Tensor valid, torch::Tensor start) {
  check_cpu(density, "composite_forward");
  rad::CompositeInputs in(density, rgb, t_starts, t_ends, valid, start);
  const int64_t rays = in.rays, k = in.k;
  auto weights = torch::empty({rays, k}, in.density.options());
  auto packed = torch::empty({rays, 6}, in.density.options());  // r, g, b, accumulation, depth, transmittance
  float *w = weights.data_ptr<float>(), *out = packed.data_ptr<float>();
#pragma omp parallel for schedule(static)
  for (int64_t ray = 0; ray < rays; ++ray) {
    const int64_t i = ray * k;
    rad::composite_ray(k, in.sigma + i, in.colour + 3 * i, in.t0 + i, in.t1 + i, in.valid_ptr + i, in.t_in[ray],
                       w + i, out + 6 * ray);
  }
  return rad::unpack_composite(weights, packed);
}

std::vector<torch::Tensor> composite_backward(torch::Tensor grad_weights, torch::Tensor grad_outputs,
                                              torch::Tensor density, torch::Tensor rgb, torch::Tensor t_starts,
                                              torch::Tensor t_ends, torch::Tensor valid, torch::Tensor start,
                                              bool bounds) {
  check_cpu(density, "composite_backward");
  rad::CompositeGrads g(grad_weights, grad_outputs, density, rgb, t_starts, t_ends, valid, start, bounds);
  const rad::CompositeInputs& in = g.in;
  const int64_t k = in.k;
#pragma omp parallel for schedule(static)
  for (int64_t ray = 0; ray < in.rays; ++ray) {
    const int64_t i = ray * k;
    rad::composite_ray_backward(k, in.sigma + i, in.colour + 3 * i, in.t0 + i, in.t1 + i, in.valid_ptr + i,
                                in.t_in[ray], g.gw + i, g.go + 5 * ray, g.g_sigma + i, g.g_rgb + 3 * i,
                                bounds ? g.g_t0 + i : nullptr, bounds ? g.g_t1 + i : nullptr);
  }
  return g.outputs();
}

void composite_packed(torch::Tensor ray, torch::Tensor density, torch::Tensor rgb, torch::Tensor maps,
                      torch::Tensor t_starts, torch::Tensor t_ends, torch::Tensor transmittance, torch::Tensor out) {
  check_cpu(density, "composite_packed");
  check_cpu(transmittance, "composite_packed");
  check_cpu(out, "composite_packed");
  const rad::PackedComposite in(ray, density, rgb, maps, t_starts, t_ends, transmittance, out);
  const int64_t* id = in.ray.data_ptr<int64_t>();
  const int64_t rays = transmittance.size(0);
  for (int64_t i = 0; i < in.n; ++i) {
    TORCH_CHECK(id[i] >= 0 && id[i] < rays && (i == 0 || id[i] >= id[i - 1]),
                "composite_packed: ray indices in [0, R), grouped (non-decreasing)");
  }
  const float *sigma = in.density.data_ptr<float>(), *colour = in.rgb.data_ptr<float>();
  const float *m = in.maps.data_ptr<float>(), *t0 = in.t_starts.data_ptr<float>(), *t1 = in.t_ends.data_ptr<float>();
  float *t_io = transmittance.data_ptr<float>(), *o = out.data_ptr<float>();
  const int64_t width = 5 + in.channels;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < in.n; ++i) {
    if (i > 0 && id[i] == id[i - 1]) continue;  // not the first sample of its ray's run
    rad::composite_packed_ray(i, rad::packed_run_end(id, i, in.n), sigma, colour, m, in.channels, t0, t1,
                              t_io + id[i], o + width * id[i]);
  }
}
