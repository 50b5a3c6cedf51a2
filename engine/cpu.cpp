#include "engine/cpu.h"

#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

// OpenBLAS's own interface (cblas.h declares the first three). The dynamic-architecture entry
// points are exported by builds with DYNAMIC_ARCH (Debian's) but not declared in a header: weak, so
// that a build without them links and leaves the kernels as they are.
extern "C" {
char* openblas_get_corename(void);
char* openblas_get_config(void);
void openblas_set_num_threads(int);
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace cupick::cpu {

namespace {

std::string chosen_because;  // why cupick chose the kernels, or empty when OpenBLAS did
std::atomic<int> chosen_threads{0};  // the last set_threads, for threads started later

// The OpenBLAS kernels for the instruction sets this CPU and its OS support, or nullptr when the
// fallback is as good as it gets. __builtin_cpu_supports checks that the OS saves the registers.
const char* kernels_for_this_cpu() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return nullptr;
}

}  // namespace

void choose_blas_kernels() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || std::getenv("OPENBLAS_CORETYPE")) return;
    const char* core = openblas_get_corename();
    // The generic fallbacks OpenBLAS takes for a model it does not know.
    if (!core || (std::strcmp(core, "Prescott") != 0 && std::strcmp(core, "Core2") != 0 &&
                  std::strcmp(core, "Nehalem") != 0 && std::strcmp(core, "Sandybridge") != 0))
      return;
    const char* better = kernels_for_this_cpu();
    if (!better) return;
    const std::string before = core;
    // OpenBLAS reads OPENBLAS_CORETYPE when it initialises: start it again with it set. No BLAS call
    // is running (this runs before the first layer does), so nothing uses the old kernel table.
    setenv("OPENBLAS_CORETYPE", better, 1);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");  // not passed on to other programs
    chosen_because = "chosen by cupick: OpenBLAS took " + before + "'s for a CPU model it does not know";
  });
}

std::string describe() {
  choose_blas_kernels();
  std::string d = std::string(openblas_get_config()) + "; " + openblas_get_corename() + " kernels";
  if (!chosen_because.empty()) d += " (" + chosen_because + ")";
  return d + "; " + std::to_string(threads()) + " threads";
}

void set_threads(int n) {
  choose_blas_kernels();  // OpenBLAS settled first, so that its restart cannot undo the count
  if (n <= 0) n = int(std::max(1u, std::thread::hardware_concurrency()));
  openblas_set_num_threads(n);
  omp_set_num_threads(n);
  chosen_threads = n;
}

void adopt_threads() {
  if (const int n = chosen_threads) omp_set_num_threads(n);
}

int threads() { return omp_get_max_threads(); }

}  // namespace cupick::cpu
