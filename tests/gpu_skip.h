// GPU tests skip where there is no usable GPU (the development and CI machines), and fail instead
// when CUPICK_REQUIRE_GPU=1: on a GPU machine (scripts/gpu.sh), a skip would hide a broken device.
#pragma once
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "engine/context.h"

namespace cupick::test {
inline bool gpu_required() {
  const char* v = std::getenv("CUPICK_REQUIRE_GPU");
  return v && std::strcmp(v, "1") == 0;
}
}  // namespace cupick::test

// Leaves the current test (or check) unless `gpu`, a context pointer, holds a GPU.
#define SKIP_WITHOUT(gpu)                                                                 \
  do {                                                                                    \
    if (!(gpu)) {                                                                         \
      if (cupick::test::gpu_required()) FAIL() << "CUPICK_REQUIRE_GPU=1, but no usable GPU"; \
      GTEST_SKIP() << "no GPU on this machine";                                           \
    }                                                                                     \
  } while (0)

// The same when the test opens its GPU context later.
#define SKIP_WITHOUT_GPU() SKIP_WITHOUT(cupick::Context::gpu_count() > 0)
