// Winograd's minimal filtering F(4x4, 3x3) (Lavin and Gray, 2016): the host's fast path for the 3x3
// convolutions, in float. Each 4x4 block of output pixels (a tile) is made from the 6x6 input patch
// around it with 36 multiplications per pair of channels instead of direct convolution's 144; the
// multiplications of all tiles and channel pairs become 36 matrix products (OpenBLAS sgemm), one per
// point of the 6x6 transformed basis. The transforms scale values by up to 8 and 1/24, so its rounding
// error is a few times direct convolution's: tests/test_conv.cpp measures it against the double
// reference and bounds it.
#pragma once
#include "kernels/epilogue.h"

namespace cupick::winograd {

// The 1-D transforms, exposed for the tests: with d6 = input_1d(d), g6 = kernel_1d(g),
// output_1d(d6 * g6) = {sum_j g[j] d[i + j] : i < 4}, a 4-output correlation with a 3-tap kernel.
void input_1d(const float d[6], float out[6]);   // B^T d
void kernel_1d(const float g[3], float out[6]);  // G g
void output_1d(const float m[6], float out[4]);  // A^T m

// y = (accumulate ? y : 0) + out(the 3x3 "same" cross-correlation of x with kernel), as the conv
// layer defines it: x is n x channels x h x w, kernel filters x channels x 3 x 3 (OIHW), y n x
// filters x h x w; `out` scales, shifts (a bias: shift) and activates each filter's outputs. Uses the
// calling thread's scratch (about 36 x 4 bytes per kernel entry, plus a band of tiles of 16 MB or
// 512 tiles) and OpenMP threads for the transforms.
void conv3x3(const float* x, int n, int channels, int h, int w, const float* kernel, int filters,
             const kernels::Epilogue& out, float* y, bool accumulate);

}  // namespace cupick::winograd
