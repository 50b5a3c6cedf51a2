#include "engine/layers/winograd.h"

#include <cblas.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "engine/cpu.h"

namespace cupick::winograd {

namespace {

// F(4, 3) with the interpolation points 0, 1, -1, 2, -2 and infinity: B^T (6x6) transforms an input
// patch, G (6x3) a kernel, A^T (4x6) brings the product back to 4 outputs.
constexpr float kBT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                             {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
constexpr float kG[6][3] = {{1.f / 4, 0, 0},
                            {-1.f / 6, -1.f / 6, -1.f / 6},
                            {-1.f / 6, 1.f / 6, -1.f / 6},
                            {1.f / 24, 1.f / 12, 1.f / 6},
                            {1.f / 24, -1.f / 12, 1.f / 6},
                            {0, 0, 1}};
constexpr float kAT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};

constexpr int kTile = 4, kPatch = 6, kPoints = kPatch * kPatch;
// A band of tiles (their transformed inputs and products) is kept under this size, so that it stays
// in cache between the transforms and the matrix products where it can.
constexpr size_t kBandBytes = size_t(16) << 20, kBandTiles = 512;

// U[point][filter][channel] = (G g G^T)[point] for every kernel g: the left factors of the products.
// Blocks of 16 channels at a time, so that the arithmetic and the stores run along contiguous
// channels (the kernels of one filter lie 9 floats apart).
CUPICK_VECTOR_CLONES void transform_kernels(const float* kernel, int filters, int channels, float* u) {
  constexpr int kBlock = 16;
  const size_t plane = size_t(filters) * channels;
#pragma omp parallel for schedule(static)
  for (int f = 0; f < filters; ++f)
    for (int c0 = 0; c0 < channels; c0 += kBlock) {
      const int nc = std::min(kBlock, channels - c0);
      float g[9][kBlock] = {}, gt[kPatch][3][kBlock];  // the taps, then G g
      for (int c = 0; c < nc; ++c)
        for (int t = 0; t < 9; ++t) g[t][c] = kernel[(size_t(f) * channels + c0 + c) * 9 + t];
      for (int i = 0; i < kPatch; ++i)
        for (int j = 0; j < 3; ++j)
          for (int c = 0; c < kBlock; ++c)
            gt[i][j][c] = kG[i][0] * g[j][c] + kG[i][1] * g[3 + j][c] + kG[i][2] * g[6 + j][c];
      for (int i = 0; i < kPatch; ++i)
        for (int l = 0; l < kPatch; ++l) {
          float* dst = u + (i * kPatch + l) * plane + size_t(f) * channels + c0;
          for (int c = 0; c < nc; ++c)
            dst[c] = gt[i][0][c] * kG[l][0] + gt[i][1][c] * kG[l][1] + gt[i][2][c] * kG[l][2];
        }
    }
}

// V[point][channel][tile] = (B^T d B)[point] for the 6x6 patch d around every tile of tile rows
// [ty0, ty1) of one image: the right factors.
CUPICK_VECTOR_CLONES void transform_inputs(const float* x, int channels, int h, int w, int tw, int ty0, int ty1,
                                           float* v) {
  const int width = kTile * tw + 2;  // a padded row: column 0 is the image's column -1
  const size_t tiles = size_t(ty1 - ty0) * tw, plane = size_t(channels) * tiles;
#pragma omp parallel
  {
    std::vector<float> rows(size_t(kPatch) * width), bt(size_t(kPatch) * width);
#pragma omp for schedule(static)
    for (int c = 0; c < channels; ++c)
      for (int ty = ty0; ty < ty1; ++ty) {
        // The 6 image rows under this tile row, zero outside the image.
        for (int s = 0; s < kPatch; ++s) {
          float* row = rows.data() + size_t(s) * width;
          const int y = kTile * ty - 1 + s;
          std::fill(row, row + width, 0.f);
          if (y >= 0 && y < h) std::copy_n(x + (size_t(c) * h + y) * w, w, row + 1);
        }
        // B^T down the columns, all columns at once (contiguous: vectorises).
        for (int i = 0; i < kPatch; ++i) {
          float* out = bt.data() + size_t(i) * width;
          std::fill(out, out + width, 0.f);
          for (int s = 0; s < kPatch; ++s) {
            const float b = kBT[i][s];
            if (b == 0) continue;
            const float* row = rows.data() + size_t(s) * width;
            for (int col = 0; col < width; ++col) out[col] += b * row[col];
          }
        }
        // Then B along each tile's 6 columns.
        const size_t t0 = size_t(ty - ty0) * tw;
        for (int i = 0; i < kPatch; ++i) {
          const float* in = bt.data() + size_t(i) * width;
          for (int l = 0; l < kPatch; ++l) {
            float* out = v + (i * kPatch + l) * plane + size_t(c) * tiles + t0;
            const float* b = kBT[l];
            for (int tx = 0; tx < tw; ++tx) {
              const float* d = in + kTile * tx;
              out[tx] = b[0] * d[0] + b[1] * d[1] + b[2] * d[2] + b[3] * d[3] + b[4] * d[4] + b[5] * d[5];
            }
          }
        }
      }
  }
}

// y[filter] (rows of tile rows [ty0, ty1)) = out(A^T M A) for every tile, from the products
// M[point][filter][tile].
CUPICK_VECTOR_CLONES void transform_outputs(const float* m, int filters, int h, int w, int tw, int ty0, int ty1,
                                            const kernels::Epilogue& epi, float* y, bool accumulate) {
  const size_t tiles = size_t(ty1 - ty0) * tw, plane = size_t(filters) * tiles;
  const int width = kTile * tw;
#pragma omp parallel
  {
    std::vector<float> at(size_t(kPatch) * kTile * tw), out(size_t(kTile) * width);
#pragma omp for schedule(static)
    for (int f = 0; f < filters; ++f) {
      const float scale = epi.scale_of(f), shift = epi.shift_of(f);
      for (int ty = ty0; ty < ty1; ++ty) {
        const size_t t0 = size_t(ty - ty0) * tw;
        // M A along each tile's rows of the basis: at[i][q][tile], contiguous in the tile.
        for (int i = 0; i < kPatch; ++i) {
          const float* mi[kPatch];
          for (int l = 0; l < kPatch; ++l) mi[l] = m + (i * kPatch + l) * plane + size_t(f) * tiles + t0;
          for (int q = 0; q < kTile; ++q) {
            const float* a = kAT[q];
            float* dst = at.data() + (size_t(i) * kTile + q) * tw;
            for (int tx = 0; tx < tw; ++tx)
              dst[tx] = a[0] * mi[0][tx] + a[1] * mi[1][tx] + a[2] * mi[2][tx] + a[3] * mi[3][tx] +
                        a[4] * mi[4][tx] + a[5] * mi[5][tx];
          }
        }
        // Then A^T down them: 4 output rows of 4 tw pixels.
        for (int p = 0; p < kTile; ++p)
          for (int q = 0; q < kTile; ++q) {
            float* dst = out.data() + size_t(p) * width + q;
            for (int tx = 0; tx < tw; ++tx) {
              float sum = 0;
              for (int i = 0; i < kPatch; ++i) sum += kAT[p][i] * at[(size_t(i) * kTile + q) * tw + tx];
              dst[kTile * tx] = kernels::epilogue(sum, scale, shift, epi.slope);
            }
          }
        for (int p = 0; p < kTile; ++p) {
          const int row = kTile * ty + p;
          if (row >= h) break;
          float* dst = y + (size_t(f) * h + row) * w;
          const float* src = out.data() + size_t(p) * width;
          if (accumulate)
            for (int col = 0; col < w; ++col) dst[col] += src[col];
          else
            std::copy_n(src, w, dst);
        }
      }
    }
  }
}

}  // namespace

void input_1d(const float d[6], float out[6]) {
  for (int i = 0; i < kPatch; ++i) {
    out[i] = 0;
    for (int j = 0; j < kPatch; ++j) out[i] += kBT[i][j] * d[j];
  }
}

void kernel_1d(const float g[3], float out[6]) {
  for (int i = 0; i < kPatch; ++i) out[i] = kG[i][0] * g[0] + kG[i][1] * g[1] + kG[i][2] * g[2];
}

void output_1d(const float m[6], float out[4]) {
  for (int i = 0; i < kTile; ++i) {
    out[i] = 0;
    for (int j = 0; j < kPatch; ++j) out[i] += kAT[i][j] * m[j];
  }
}

void conv3x3(const float* x, int n, int channels, int h, int w, const float* kernel, int filters,
             const kernels::Epilogue& out, float* y, bool accumulate) {
  const int th = (h + kTile - 1) / kTile, tw = (w + kTile - 1) / kTile;
  // Tile rows per band: as many as fit kBandBytes, but at least kBandTiles tiles, so that the
  // products stay wide enough for sgemm to run at speed and the kernels' factors, read once per
  // band, are not read many times over for the deep layers.
  const size_t row_bytes = size_t(kPoints) * (channels + filters) * tw * sizeof(float);
  const size_t rows = std::max(kBandBytes / row_bytes, (kBandTiles + tw - 1) / tw);
  const int band = int(std::clamp<size_t>(rows, 1, th));
  thread_local std::vector<float> u, v, m;  // grown, never shrunk: the next call reuses them
  u.resize(std::max(u.size(), size_t(kPoints) * filters * channels));
  v.resize(std::max(v.size(), size_t(kPoints) * channels * band * tw));
  m.resize(std::max(m.size(), size_t(kPoints) * filters * band * tw));
  transform_kernels(kernel, filters, channels, u.data());
  for (int image = 0; image < n; ++image) {
    const float* xi = x + size_t(image) * channels * h * w;
    float* yi = y + size_t(image) * filters * h * w;
    for (int ty0 = 0; ty0 < th; ty0 += band) {
      const int ty1 = std::min(th, ty0 + band), tiles = (ty1 - ty0) * tw;
      transform_inputs(xi, channels, h, w, tw, ty0, ty1, v.data());
      for (int p = 0; p < kPoints; ++p)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, filters, tiles, channels, 1.f,
                    u.data() + size_t(p) * filters * channels, channels, v.data() + size_t(p) * channels * tiles,
                    tiles, 0.f, m.data() + size_t(p) * filters * tiles, tiles);
      transform_outputs(m.data(), filters, h, w, tw, ty0, ty1, out, yi, accumulate);
    }
  }
}

}  // namespace cupick::winograd
