// Per-point and per-ray arithmetic shared by the CPU (OpenMP) and CUDA kernels, so that both compute exactly what
// their torch references compute (see each function). Plain C++ that nvcc also compiles for the device.
#pragma once

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define RAD_HD __host__ __device__ inline
#else
#define RAD_HD inline
#endif

namespace rad {

constexpr float kCompositeEps = 1e-10f;  // compositing.render_samples' guard in the transmittance product

struct Corners {
  int64_t rows[16];
  float weights[16];
  float frac[4];  // the point's position inside its cell, per dimension
};

// Rows (into the flattened [levels * table_size, width] table) and D-linear weights of the 2^D cell corners of a
// point on one level: field_components.hash_grid.HashGrid.reference_forward. A corner past the grid's far side
// (a point on the border) has weight 0; its row is kept inside the level.
template <int D>
RAD_HD void grid_corners(const float* x, float resolution, int64_t level, bool dense, int64_t table_size,
                         Corners& out) {
  const uint64_t primes[4] = {1ULL, 2654435761ULL, 805459861ULL, 3674653429ULL};
  int64_t base[D];
  float frac[D];
  for (int d = 0; d < D; ++d) {
    const float p = fminf(fmaxf(x[d], 0.0f), 1.0f) * resolution;
    const float b = floorf(p);
    base[d] = static_cast<int64_t>(b);
    frac[d] = p - b;
    out.frac[d] = frac[d];
  }
  const int64_t side = static_cast<int64_t>(resolution) + 1;
  for (int corner = 0; corner < (1 << D); ++corner) {
    float weight = 1.0f;
    int64_t row = 0, stride = 1;
    uint64_t hashed = 0;
    for (int d = 0; d < D; ++d) {
      const int bit = (corner >> d) & 1;
      const float w = bit ? frac[d] : 1.0f - frac[d];
      weight = d == 0 ? w : weight * w;
      const int64_t vertex = base[d] + bit;
      if (dense) {
        row += vertex * stride;
        stride *= side;
      } else {
        hashed ^= static_cast<uint64_t>(vertex) * primes[d];
      }
    }
    if (!dense) row = static_cast<int64_t>(hashed & static_cast<uint64_t>(table_size - 1));
    out.rows[corner] = level * table_size + (row < table_size ? row : table_size - 1);
    out.weights[corner] = weight;
  }
}

// What a grid kernel reads: raw pointers and sizes (trivially copyable, so it can be a CUDA kernel's argument).
// values: the table [L, T, F] (forward) or the gradient of the features [N, L, F] (backward).
struct GridView {
  const float* points;
  const float* values;
  const float* resolutions;
  int64_t n, levels, table_size, width, n_dense;
};

// Point i's corners on one level of a grid.
template <int D>
RAD_HD void point_corners(const GridView& grid, int64_t i, int64_t level, Corners& out) {
  grid_corners<D>(grid.points + i * D, grid.resolutions[level], level, level < grid.n_dense, grid.table_size, out);
}

// The D-linear interpolation of the table rows at a point's corners, written to out [width]. W > 0: the width known
// at compile time (the sums kept in registers, the same order of additions).
template <int D, int W = 0>
RAD_HD void interpolate(const GridView& grid, const Corners& c, float* out) {
  if constexpr (W > 0) {
    float sum[W];
    for (int f = 0; f < W; ++f) sum[f] = 0.0f;
    for (int corner = 0; corner < (1 << D); ++corner) {
      const float* value = grid.values + c.rows[corner] * W;
      for (int f = 0; f < W; ++f) sum[f] += c.weights[corner] * value[f];
    }
    for (int f = 0; f < W; ++f) out[f] = sum[f];
  } else {
    for (int64_t f = 0; f < grid.width; ++f) out[f] = 0.0f;
    for (int corner = 0; corner < (1 << D); ++corner) {
      const float* value = grid.values + c.rows[corner] * grid.width;
      for (int64_t f = 0; f < grid.width; ++f) out[f] += c.weights[corner] * value[f];
    }
  }
}

// Adds to grad [D] the gradient of point i's features on one level with respect to its coordinates, given the
// features' gradient (grid.values [N, L, F]) and the table [L * T, F]: the derivative of the reference's D-linear
// weights (zero along a coordinate that the clamp to [0, 1] holds, as torch's clamp; one-sided on cell borders, the
// cell that floor picks). On the far face (a coordinate exactly 1) the reference reads a row past the level's last
// vertex, this kernel the level's last row: the gradients there differ (the values do not).
template <int D, int W = 0>
RAD_HD void accumulate_point_grad(const GridView& grid, const float* table, int64_t i, int64_t level, float* grad) {
  Corners c;
  point_corners<D>(grid, i, level, c);
  const float* x = grid.points + i * D;
  const float resolution = grid.resolutions[level];
  const int64_t width = W > 0 ? W : grid.width;
  const float* upstream = grid.values + (i * grid.levels + level) * width;
  for (int corner = 0; corner < (1 << D); ++corner) {
    const float* value = table + c.rows[corner] * width;
    float dot = 0.0f;
    for (int64_t f = 0; f < width; ++f) dot += value[f] * upstream[f];
    for (int d = 0; d < D; ++d) {
      if (!(x[d] >= 0.0f && x[d] <= 1.0f)) continue;
      float slope = ((corner >> d) & 1) ? resolution : -resolution;
      for (int e = 0; e < D; ++e) {
        if (e != d) slope *= ((corner >> e) & 1) ? c.frac[e] : 1.0f - c.frac[e];
      }
      grad[d] += slope * dot;
    }
  }
}

struct MarchGrid {
  const bool* occupied;
  const float* lo;
  const float* hi;
  const float* occupied_lo;  // the box around the occupied cells (lo > hi when none is)
  const float* occupied_hi;
  int64_t resolution, candidates, max_samples;
  float near;
};

// Where a ray is inside the box [lo, hi] (slabs; t_in >= t_out when it misses).
RAD_HD void box_span(const float* ro, const float* rd, const float* lo, const float* hi, float& t_in, float& t_out) {
  t_in = -INFINITY;
  t_out = INFINITY;
  for (int a = 0; a < 3; ++a) {
    const float safe = fabsf(rd[a]) < 1e-9f ? 1e-9f : rd[a];
    const float t0 = (lo[a] - ro[a]) / safe, t1 = (hi[a] - ro[a]) / safe;
    t_in = fmaxf(t_in, fminf(t0, t1));
    t_out = fminf(t_out, fmaxf(t0, t1));
  }
}

constexpr int kMarchBlock = 32;  // candidates whose cells are worked out together (a vectorisable loop)

// At most max_samples samples of one ray in occupied cells, nearest first, written to the ray's row of
// starts / ends / keep / candidate (which arrive zeroed): field_components.occupancy.MaxOccupancyGrid.reference_march.
// candidate: each sample's index among the evenly spaced candidates (callers that need t differentiable in the
// ray recompute it from this). Only the candidates inside the box around the occupied cells are looked up (one
// more on each side, against rounding); their positions stay those of the whole box's span, so the kept samples are
// the reference's. A block of candidates at a time: first every candidate's position and cell (the same arithmetic
// per candidate, branch-free, so the compiler vectorises it), then the lookups in order.
RAD_HD void march_ray(const float* ro, const float* rd, const MarchGrid& grid, float* starts, float* ends,
                      bool* keep, int64_t* candidate) {
  float t_near, t_far, t_first, t_last;
  box_span(ro, rd, grid.lo, grid.hi, t_near, t_far);
  t_near = fmaxf(t_near, grid.near);
  if (!(t_far > t_near)) return;
  box_span(ro, rd, grid.occupied_lo, grid.occupied_hi, t_first, t_last);
  t_first = fmaxf(t_first, t_near);
  t_last = fminf(t_last, t_far);
  if (!(t_last >= t_first)) return;
  const float count = static_cast<float>(grid.candidates), cells = static_cast<float>(grid.resolution);
  const float top = 0.999999f;  // the reference's clamp below 1 before the cell index
  const float span = t_far - t_near, half = span / count / 2.0f, per_t = count / span;
  const int64_t below = static_cast<int64_t>(floorf((t_first - t_near) * per_t - 0.5f)) - 1;
  const int64_t above = static_cast<int64_t>(ceilf((t_last - t_near) * per_t - 0.5f)) + 1;
  const int64_t first = below < 0 ? 0 : below, last = above > grid.candidates - 1 ? grid.candidates - 1 : above;
  const int32_t resolution = static_cast<int32_t>(grid.resolution);
  const float lo[3] = {grid.lo[0], grid.lo[1], grid.lo[2]};
  const float size[3] = {grid.hi[0] - grid.lo[0], grid.hi[1] - grid.lo[1], grid.hi[2] - grid.lo[2]};
  const float o[3] = {ro[0], ro[1], ro[2]}, d[3] = {rd[0], rd[1], rd[2]};
  float ts[kMarchBlock];
  int32_t cell_of[kMarchBlock];  // -1: outside the box
  int64_t kept = 0;
  for (int64_t block = first; block <= last && kept < grid.max_samples; block += kMarchBlock) {
    const int n = static_cast<int>(last - block + 1 < kMarchBlock ? last - block + 1 : kMarchBlock);
    for (int j = 0; j < n; ++j) {
      const float t = t_near + ((static_cast<float>(block + j) + 0.5f) / count) * span;
      int32_t cell = 0;
      bool inside = true;
      for (int a = 0; a < 3; ++a) {
        const float unit = (o[a] + t * d[a] - lo[a]) / size[a];
        inside = inside & (unit >= 0.0f) & (unit < 1.0f);
        const float clamped = unit < top ? (unit > 0.0f ? unit : 0.0f) : top;  // inside: unit itself
        cell = cell * resolution + static_cast<int32_t>(clamped * cells);
      }
      ts[j] = t;
      cell_of[j] = inside ? cell : -1;
    }
    for (int j = 0; j < n && kept < grid.max_samples; ++j) {
      if (cell_of[j] < 0 || !grid.occupied[cell_of[j]]) continue;
      starts[kept] = ts[j] - half;
      ends[kept] = ts[j] + half;
      keep[kept] = true;
      candidate[kept] = block + j;
      ++kept;
    }
  }
}

RAD_HD float sample_alpha(float sigma, float t0, float t1, bool valid) {
  return valid ? 1.0f - expf(-sigma * (t1 - t0)) : 0.0f;
}

// One ray's front-to-back compositing from transmittance t_in: model_components.compositing.render_samples.
// out: r, g, b, accumulation, depth, transmittance after the last sample.
RAD_HD void composite_ray(int64_t k, const float* sigma, const float* rgb, const float* t0, const float* t1,
                          const bool* valid, float t_in, float* weights, float* out) {
  float transmittance = t_in, r = 0.0f, g = 0.0f, b = 0.0f, a = 0.0f, d = 0.0f;
  for (int64_t s = 0; s < k; ++s) {
    const float alpha = sample_alpha(sigma[s], t0[s], t1[s], valid[s]);
    const float weight = alpha * transmittance;
    weights[s] = weight;
    r += weight * rgb[3 * s];
    g += weight * rgb[3 * s + 1];
    b += weight * rgb[3 * s + 2];
    a += weight;
    d += weight * (t0[s] + t1[s]) / 2.0f;
    transmittance *= 1.0f - alpha + kCompositeEps;
  }
  out[0] = r;
  out[1] = g;
  out[2] = b;
  out[3] = a;
  out[4] = d;
  out[5] = transmittance;
}

constexpr int kMaxPackedMaps = 8;  // per-sample maps that composite_packed_ray sums (the head fields have one or two)

// One ray's samples of a piece of an early-stopped render, packed (samples begin..end-1, front to back): composited
// from the ray's transmittance *t_io, which is left holding the transmittance behind them; their colour,
// accumulation, depth and the weighted sum of each of the `channels` maps are added to out [5 + channels]. The
// per-sample arithmetic is composite_ray's (all samples valid), its sums started at zero for the piece.
RAD_HD void composite_packed_ray(int64_t begin, int64_t end, const float* sigma, const float* rgb, const float* maps,
                                 int64_t channels, const float* t0, const float* t1, float* t_io, float* out) {
  float transmittance = *t_io, r = 0.0f, g = 0.0f, b = 0.0f, a = 0.0f, d = 0.0f;
  float m[kMaxPackedMaps] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  for (int64_t s = begin; s < end; ++s) {
    const float alpha = sample_alpha(sigma[s], t0[s], t1[s], true);
    const float weight = alpha * transmittance;
    r += weight * rgb[3 * s];
    g += weight * rgb[3 * s + 1];
    b += weight * rgb[3 * s + 2];
    a += weight;
    d += weight * (t0[s] + t1[s]) / 2.0f;
    for (int64_t c = 0; c < channels; ++c) m[c] += weight * maps[s * channels + c];
    transmittance *= 1.0f - alpha + kCompositeEps;
  }
  out[0] += r;
  out[1] += g;
  out[2] += b;
  out[3] += a;
  out[4] += d;
  for (int64_t c = 0; c < channels; ++c) out[5 + c] += m[c];
  *t_io = transmittance;
}

// Where ray `ray[i]`'s samples end in a packed piece whose samples are grouped by ray (end of its run from i).
RAD_HD int64_t packed_run_end(const int64_t* ray, int64_t i, int64_t n) {
  int64_t end = i + 1;
  while (end < n && ray[end] == ray[i]) ++end;
  return end;
}

// Gradients of one ray's density and rgb from those of its weights (gw [k]) and of its rgb, accumulation and
// depth (g_out [5]). With g_i the total gradient reaching weight i, dL/dalpha_k = T_k (g_k - R_k), where
// R_k = sum_{i>k} g_i alpha_i prod_{k<j<i} (1 - alpha_j + eps): accumulated from the back, no division by
// 1 - alpha. The forward pass parks each sample's transmittance T_k in g_sigma until the backward pass reads it.
// g_t0 / g_t1 (null when the bounds need no gradient): those of the samples' bounds, through each sample's length
// in its alpha and its midpoint in the depth.
RAD_HD void composite_ray_backward(int64_t k, const float* sigma, const float* rgb, const float* t0, const float* t1,
                                   const bool* valid, float t_in, const float* gw, const float* g_out,
                                   float* g_sigma, float* g_rgb, float* g_t0 = nullptr, float* g_t1 = nullptr) {
  float transmittance = t_in;
  for (int64_t s = 0; s < k; ++s) {
    const float alpha = sample_alpha(sigma[s], t0[s], t1[s], valid[s]);
    for (int ch = 0; ch < 3; ++ch) g_rgb[3 * s + ch] = alpha * transmittance * g_out[ch];
    g_sigma[s] = transmittance;
    transmittance *= 1.0f - alpha + kCompositeEps;
  }
  float behind = 0.0f;
  for (int64_t s = k - 1; s >= 0; --s) {
    const float alpha = sample_alpha(sigma[s], t0[s], t1[s], valid[s]);
    const float total = gw[s] + g_out[0] * rgb[3 * s] + g_out[1] * rgb[3 * s + 1] + g_out[2] * rgb[3 * s + 2] +
                        g_out[3] + g_out[4] * (t0[s] + t1[s]) / 2.0f;
    const float grad_alpha = g_sigma[s] * (total - behind);
    const float half_depth = g_out[4] * alpha * g_sigma[s] / 2.0f;  // weight x depth's gradient / 2
    behind = total * alpha + (1.0f - alpha + kCompositeEps) * behind;
    const float delta = t1[s] - t0[s];
    const float grad_exp = valid[s] ? grad_alpha * expf(-sigma[s] * delta) : 0.0f;
    g_sigma[s] = grad_exp * delta;
    if (g_t0 != nullptr) {
      g_t0[s] = half_depth - grad_exp * sigma[s];
      g_t1[s] = half_depth + grad_exp * sigma[s];
    }
  }
}

}  // namespace rad
