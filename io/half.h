// IEEE half precision (binary16) to and from float, exactly as the standard rounds: MRC mode 12
// micrographs and fp16 weight files (the pretrained start ships in fp16 to stay small).
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace cupick {

// Exact: subnormals, infinities and NaN included.
inline float half_to_float(uint16_t half) {
  const bool negative = half & 0x8000;
  const int exponent = half >> 10 & 0x1f;
  const uint32_t mantissa = half & 0x3ff;
  if (exponent == 0) {  // zero or subnormal: mantissa x 2^-24, exact in float
    const float v = std::ldexp(float(mantissa), -24);
    return negative ? -v : v;
  }
  const uint32_t sign = negative ? 0x80000000u : 0;
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | mantissa << 13);  // inf, NaN
  return std::bit_cast<float>(sign | uint32_t(exponent - 15 + 127) << 23 | mantissa << 13);
}

// Rounded to the nearest half, ties to even; beyond the largest half (65504) infinity, NaN stays NaN.
inline uint16_t float_to_half(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const auto sign = uint16_t(bits >> 16 & 0x8000);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return sign | 0x7e00;  // NaN
  if (magnitude >= 0x477ff000u) return sign | 0x7c00;  // 65520 and above round to infinity
  if (magnitude < 0x38800000u)  // below 2^-14: a subnormal half, a multiple of 2^-24 (exact product)
    return sign | uint16_t(std::nearbyint(std::bit_cast<float>(magnitude) * 0x1p24f));
  const uint32_t rebiased = magnitude - (uint32_t(127 - 15) << 23);  // the exponent in half's bias
  return sign | uint16_t((rebiased + 0xfffu + (rebiased >> 13 & 1)) >> 13);  // 13 bits dropped, ties to even
}

}  // namespace cupick
