// Host-side checks and tensor plumbing shared by the CPU and CUDA kernels (torch tensors in, raw pointers out).
#pragma once

#include <torch/extension.h>

#include <string>
#include <vector>

#include "common.h"

// The body of a case (or of the default) with NAME = VALUE.
#define RAD_CONSTANT_CASE_BODY(NAME, VALUE, ...) \
  {                                              \
    constexpr int NAME = VALUE;                  \
    __VA_ARGS__;                                 \
    break;                                       \
  }

// One case of a switch that calls __VA_ARGS__ with NAME a compile-time constant.
#define RAD_CONSTANT_CASE(NAME, VALUE, ...) \
  case VALUE:                              \
    RAD_CONSTANT_CASE_BODY(NAME, VALUE, __VA_ARGS__)

// kD: the points' dimension (1-4) as a compile-time constant.
#define RAD_DISPATCH_DIM(D, ...)              \
  switch (D) {                                \
    RAD_CONSTANT_CASE(kD, 1, __VA_ARGS__)     \
    RAD_CONSTANT_CASE(kD, 2, __VA_ARGS__)     \
    RAD_CONSTANT_CASE(kD, 3, __VA_ARGS__)     \
    default:                                  \
      RAD_CONSTANT_CASE_BODY(kD, 4, __VA_ARGS__) \
  }

// kW: a grid's feature width as a compile-time constant for the presets' widths (1: ER-NeRF's planes, 2: the
// others), 0 (read at run time) for any other; with the width known the interpolation keeps its sums in registers.
#define RAD_DISPATCH_WIDTH(W, ...)            \
  switch (W) {                                \
    RAD_CONSTANT_CASE(kW, 1, __VA_ARGS__)     \
    RAD_CONSTANT_CASE(kW, 2, __VA_ARGS__)     \
    default:                                  \
      RAD_CONSTANT_CASE_BODY(kW, 0, __VA_ARGS__) \
  }

namespace rad {

inline void check_grid(const torch::Tensor& points, const torch::Tensor& table, const torch::Tensor& resolutions,
                       const std::string& name) {
  TORCH_CHECK(points.device() == table.device(), name, ": points and table on different devices");
  TORCH_CHECK(points.scalar_type() == torch::kFloat32 && table.scalar_type() == torch::kFloat32, name,
              ": points and table must be float32");
  TORCH_CHECK(points.dim() == 2 && points.size(1) >= 1 && points.size(1) <= 4, name, ": points must be [N, 1-4]");
  TORCH_CHECK(table.dim() == 3, name, ": table must be [levels, table_size, width]");
  TORCH_CHECK(resolutions.numel() == table.size(0), name, ": one resolution per level");
}

inline void check_march(const torch::Tensor& origins, const torch::Tensor& directions, const torch::Tensor& occupied,
                        int64_t resolution) {
  TORCH_CHECK(origins.scalar_type() == torch::kFloat32 && directions.scalar_type() == torch::kFloat32,
              "march_rays: float32 origins and directions");
  TORCH_CHECK(origins.dim() == 2 && origins.size(1) == 3 && directions.sizes() == origins.sizes(),
              "march_rays: origins and directions must be [rays, 3]");
  TORCH_CHECK(occupied.scalar_type() == torch::kBool && occupied.numel() == resolution * resolution * resolution,
              "march_rays: occupied must be a bool grid of resolution^3 cells");
  TORCH_CHECK(resolution >= 1 && resolution <= 1024, "march_rays: an occupancy resolution in [1, 1024] (int32 cells)");
}

// Contiguous float32 inputs of a grid encoding and its sizes. `values`: the table [L, T, F] (forward) or the
// gradient of the features [N, L, F] (backward).
struct GridJob {
  torch::Tensor points, values, resolutions, table;  // table: only for the gradient with respect to the points
  int64_t dim;
  GridView view;

  static GridJob forward(const torch::Tensor& points, const torch::Tensor& table, const torch::Tensor& resolutions,
                         int64_t n_dense) {
    check_grid(points, table, resolutions, "hash_grid_forward");
    return GridJob(points, table, resolutions, table.size(0), table.size(1), table.size(2), n_dense);
  }

  static GridJob backward(const torch::Tensor& points, const torch::Tensor& grad_features,
                          const torch::Tensor& resolutions, int64_t n_dense, int64_t table_size) {
    TORCH_CHECK(grad_features.dim() == 3 && grad_features.size(0) == points.size(0),
                "hash_grid_backward: gradient must be [N, levels, width]");
    check_grid(points, torch::empty({grad_features.size(1), 0, 0}, points.options()), resolutions,
               "hash_grid_backward");
    return GridJob(points, grad_features.to(torch::kFloat32), resolutions, grad_features.size(1), table_size,
                   grad_features.size(2), n_dense);
  }

  // the inputs of the gradient with respect to the points: the table is kept too (the slopes read its rows)
  static GridJob points_backward(const torch::Tensor& points, const torch::Tensor& table,
                                 const torch::Tensor& grad_features, const torch::Tensor& resolutions,
                                 int64_t n_dense) {
    check_grid(points, table, resolutions, "hash_grid_points_backward");
    TORCH_CHECK(grad_features.dim() == 3 && grad_features.size(0) == points.size(0) &&
                    grad_features.size(1) == table.size(0) && grad_features.size(2) == table.size(2),
                "hash_grid_points_backward: gradient must be [N, levels, width]");
    GridJob job(points, grad_features.to(torch::kFloat32), resolutions, table.size(0), table.size(1), table.size(2),
                n_dense);
    job.table = table.contiguous();
    return job;
  }

  // the encoding's output [N, L, F] (uninitialised) and the table's gradient [L, T, F] (zeroed)
  torch::Tensor empty_features() const {
    return torch::empty({view.n, view.levels, view.width}, points.options());
  }
  torch::Tensor zero_table() const {
    return torch::zeros({view.levels, view.table_size, view.width}, points.options());
  }

 private:
  GridJob(const torch::Tensor& p, const torch::Tensor& v, const torch::Tensor& r, int64_t levels_, int64_t size,
          int64_t width_, int64_t dense)
      : points(p.contiguous()),
        values(v.contiguous()),
        resolutions(r.to(p.device(), torch::kFloat32).contiguous()),
        dim(p.size(1)),
        view{points.data_ptr<float>(), values.data_ptr<float>(), resolutions.data_ptr<float>(), p.size(0), levels_,
             size, width_, dense} {}
};

// The box around a grid's occupied cells in the scene's coordinates, [2, 3] (lo, hi; lo > hi when none is), on the
// grid's device. Cells are indexed x, y, z (x slowest), as march_ray reads them. On the CPU one pass over the cells;
// on a GPU three reductions (no synchronisation).
inline torch::Tensor occupied_box(const torch::Tensor& occupied, const torch::Tensor& box, int64_t resolution) {
  const int64_t r = resolution;
  torch::Tensor cells;  // [2, 3]: the lowest occupied cell index and one past the highest, per axis
  if (occupied.is_cuda()) {
    const auto cube = occupied.view({r, r, r});
    const auto index = torch::arange(r, box.options());
    auto axis = [&](const torch::Tensor& any) {
      const auto lo = torch::where(any, index, torch::full_like(index, static_cast<double>(r))).min();
      const auto hi = torch::where(any, index + 1, torch::zeros_like(index)).max();
      return torch::stack({lo, hi});
    };
    cells = torch::stack({axis(cube.any(2).any(1)), axis(cube.any(2).any(0)), axis(cube.any(1).any(0))}, 1);
  } else {
    int64_t lo[3] = {r, r, r}, hi[3] = {0, 0, 0};
    const bool* occ = occupied.data_ptr<bool>();
    for (int64_t x = 0; x < r; ++x) {
      for (int64_t y = 0; y < r; ++y) {
        const bool* row = occ + (x * r + y) * r;
        int64_t first = 0;
        while (first < r && !row[first]) ++first;
        if (first == r) continue;
        int64_t last = r - 1;
        while (!row[last]) --last;
        const int64_t low[3] = {x, y, first}, high[3] = {x + 1, y + 1, last + 1};
        for (int a = 0; a < 3; ++a) {
          lo[a] = low[a] < lo[a] ? low[a] : lo[a];
          hi[a] = high[a] > hi[a] ? high[a] : hi[a];
        }
      }
    }
    cells = torch::tensor({static_cast<float>(lo[0]), static_cast<float>(lo[1]), static_cast<float>(lo[2]),
                           static_cast<float>(hi[0]), static_cast<float>(hi[1]), static_cast<float>(hi[2])},
                          box.options())
                .view({2, 3});
  }
  return (box[0] + cells / static_cast<double>(r) * (box[1] - box[0])).contiguous();
}

// Contiguous inputs of the ray marcher, its zeroed outputs (kept samples first in each ray's row) and the grid
// description its per-ray arithmetic reads.
struct MarchJob {
  torch::Tensor origins, directions, occupied, box, occupied_bounds, t_starts, t_ends, valid, candidate;
  int64_t rays;
  MarchGrid grid;

  MarchJob(torch::Tensor o, torch::Tensor d, torch::Tensor occ, const torch::Tensor& aabb, int64_t resolution,
           int64_t candidates, int64_t max_samples, double near)
      : origins((check_march(o, d, occ, resolution), o.contiguous())),  // checked before any pointer is taken
        directions(d.contiguous()),
        occupied(occ.contiguous()),
        box(aabb.to(o.device(), torch::kFloat32).contiguous()),
        occupied_bounds(occupied_box(occupied, box, resolution)),
        t_starts(torch::zeros({o.size(0), max_samples}, o.options())),
        t_ends(torch::zeros({o.size(0), max_samples}, o.options())),
        valid(torch::zeros({o.size(0), max_samples}, occ.options())),
        candidate(torch::zeros({o.size(0), max_samples}, o.options().dtype(torch::kInt64))),
        rays(o.size(0)),
        grid{occupied.data_ptr<bool>(), box.data_ptr<float>(), box.data_ptr<float>() + 3,
             occupied_bounds.data_ptr<float>(), occupied_bounds.data_ptr<float>() + 3, resolution, candidates,
             max_samples, static_cast<float>(near)} {}

  std::vector<torch::Tensor> outputs() const { return {t_starts, t_ends, valid, candidate}; }
};

// Contiguous float32 inputs of the compositor and their pointers.
struct CompositeInputs {
  torch::Tensor density, rgb, t_starts, t_ends, valid, start;
  int64_t rays, k;
  const float *sigma, *colour, *t0, *t1, *t_in;
  const bool* valid_ptr;

  CompositeInputs(torch::Tensor d, torch::Tensor c, torch::Tensor s, torch::Tensor e, torch::Tensor v, torch::Tensor t)
      : density(d.contiguous()),
        rgb(c.contiguous()),
        t_starts(s.contiguous()),
        t_ends(e.contiguous()),
        valid(v.contiguous()),
        start(t.to(torch::kFloat32).contiguous()) {
    TORCH_CHECK(density.scalar_type() == torch::kFloat32 && rgb.scalar_type() == torch::kFloat32 &&
                    t_starts.scalar_type() == torch::kFloat32 && t_ends.scalar_type() == torch::kFloat32,
                "composite: float32 density, rgb and sample bounds");
    TORCH_CHECK(valid.scalar_type() == torch::kBool, "composite: valid must be bool");
    TORCH_CHECK(density.dim() == 2 && rgb.dim() == 3 && rgb.size(2) == 3, "composite: density [R, K], rgb [R, K, 3]");
    rays = density.size(0);
    k = density.size(1);
    TORCH_CHECK(start.numel() == rays, "composite: one starting transmittance per ray");
    sigma = density.data_ptr<float>();
    colour = rgb.data_ptr<float>();
    t0 = t_starts.data_ptr<float>();
    t1 = t_ends.data_ptr<float>();
    t_in = start.data_ptr<float>();
    valid_ptr = valid.data_ptr<bool>();
  }
};

// The packed compositing of one piece of an early-stopped render: its inputs (contiguous float32 samples, int64
// ray of each sample, grouped by ray) and the per-ray state it updates in place (transmittance [R], out [R, 5 + C]).
struct PackedComposite {
  torch::Tensor ray, density, rgb, maps, t_starts, t_ends;
  int64_t n, channels;

  PackedComposite(const torch::Tensor& r, const torch::Tensor& d, const torch::Tensor& c, const torch::Tensor& m,
                  const torch::Tensor& s, const torch::Tensor& e, const torch::Tensor& transmittance,
                  const torch::Tensor& out)
      : ray(r.contiguous()),
        density(d.contiguous()),
        rgb(c.contiguous()),
        maps(m.contiguous()),
        t_starts(s.contiguous()),
        t_ends(e.contiguous()),
        n(r.numel()),
        channels(m.dim() == 2 ? m.size(1) : -1) {
    TORCH_CHECK(ray.scalar_type() == torch::kInt64 && ray.dim() == 1, "composite_packed: ray must be int64 [n]");
    for (const torch::Tensor* t :
         std::initializer_list<const torch::Tensor*>{&density, &rgb, &maps, &t_starts, &t_ends, &transmittance, &out}) {
      TORCH_CHECK(t->scalar_type() == torch::kFloat32, "composite_packed: float32 samples and outputs");
    }
    TORCH_CHECK(density.numel() == n && t_starts.numel() == n && t_ends.numel() == n && rgb.numel() == 3 * n,
                "composite_packed: density, t_starts, t_ends [n] and rgb [n, 3]");
    TORCH_CHECK(channels >= 0 && channels <= kMaxPackedMaps && maps.size(0) == n,
                "composite_packed: maps must be [n, C] with C <= ", kMaxPackedMaps);
    TORCH_CHECK(transmittance.dim() == 1 && transmittance.is_contiguous(),
                "composite_packed: transmittance must be a contiguous [R] (updated in place)");
    TORCH_CHECK(out.dim() == 2 && out.size(0) == transmittance.size(0) && out.size(1) == 5 + channels &&
                    out.is_contiguous(),
                "composite_packed: out must be a contiguous [R, 5 + C] (added to in place)");
  }
};

// The compositing's backward: its inputs, the upstream gradients (contiguous float32) and the gradients it writes
// (density, rgb, and the sample bounds' when `bounds`).
struct CompositeGrads {
  CompositeInputs in;
  torch::Tensor grad_weights, grad_outputs, grad_density, grad_rgb, grad_t0, grad_t1;
  const float *gw, *go;
  float *g_sigma, *g_rgb, *g_t0, *g_t1;

  CompositeGrads(const torch::Tensor& grad_w, const torch::Tensor& grad_out, torch::Tensor d, torch::Tensor c,
                 torch::Tensor s, torch::Tensor e, torch::Tensor v, torch::Tensor t, bool bounds)
      : in(d, c, s, e, v, t),
        grad_weights(grad_w.to(torch::kFloat32).contiguous()),
        grad_outputs(grad_out.to(torch::kFloat32).contiguous()),
        grad_density(torch::empty_like(in.density)),
        grad_rgb(torch::empty_like(in.rgb)),
        grad_t0(bounds ? torch::empty_like(in.t_starts) : torch::Tensor()),
        grad_t1(bounds ? torch::empty_like(in.t_ends) : torch::Tensor()) {
    gw = grad_weights.data_ptr<float>();
    go = grad_outputs.data_ptr<float>();
    g_sigma = grad_density.data_ptr<float>();
    g_rgb = grad_rgb.data_ptr<float>();
    g_t0 = bounds ? grad_t0.data_ptr<float>() : nullptr;
    g_t1 = bounds ? grad_t1.data_ptr<float>() : nullptr;
  }

  // density, rgb (and t_starts, t_ends)
  std::vector<torch::Tensor> outputs() const {
    if (g_t0 == nullptr) return {grad_density, grad_rgb};
    return {grad_density, grad_rgb, grad_t0, grad_t1};
  }
};

// weights, rgb [R, 3], accumulation [R, 1], depth [R, 1], transmittance after the last sample [R]
inline std::vector<torch::Tensor> unpack_composite(const torch::Tensor& weights, const torch::Tensor& packed) {
  return {weights, packed.narrow(1, 0, 3), packed.narrow(1, 3, 1), packed.narrow(1, 4, 1), packed.select(1, 5)};
}

}  // namespace rad
