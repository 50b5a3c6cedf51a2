#include "engine/cpu.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <thread>

namespace cupick {
namespace {

// OpenMP keeps its thread count per thread: a thread started after set_threads (the picker's) has
// the default until it adopts the chosen count.
TEST(Cpu, ThreadsStartedLaterAdoptTheChosenCount) {
  cpu::set_threads(1);
  EXPECT_EQ(cpu::threads(), 1);
  int seen = 0;
  std::thread([&] {
    cpu::adopt_threads();
    seen = omp_get_max_threads();
  }).join();
  EXPECT_EQ(seen, 1);
  cpu::set_threads(0);  // every core again, for the tests after this one
  EXPECT_EQ(cpu::threads(), int(std::max(1u, std::thread::hardware_concurrency())));
}

TEST(Cpu, DescribeNamesTheBlasKernels) {
  const std::string d = cpu::describe();
  EXPECT_NE(d.find("OpenBLAS"), std::string::npos) << d;
  EXPECT_NE(d.find(" kernels"), std::string::npos) << d;
}

}  // namespace
}  // namespace cupick
