// The host's compute resources: which OpenBLAS kernels run, and on how many threads.
#pragma once
#include <string>

// For the host's own loops of multiply-adds and copies (Winograd's transforms, the conv epilogue):
// compiled for AVX-512 and AVX2 beside the baseline x86-64 (SSE2) that the rest is built for, the
// one for this CPU chosen when the program starts (GCC's function multi-versioning).
#define CUPICK_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace cupick::cpu {

// OpenBLAS picks its kernels by the CPU's model number and falls back to its oldest x86-64 ones
// ("Prescott": SSE3, no FMA) for a model it does not know, as on the virtual machines that report a
// newer Xeon than its release (OpenBLAS 0.3.21 on an Emerald Rapids VM: 4x slower GEMM). Here the
// kernels follow the instruction sets instead: SkylakeX's where the CPU and the OS have AVX-512,
// Haswell's for AVX2 + FMA. Nothing changes where OpenBLAS knew the CPU, where OPENBLAS_CORETYPE is
// set (the user's choice), or where OpenBLAS was built for one CPU only. Idempotent; the host
// Context calls it before any layer runs.
void choose_blas_kernels();

// "OpenBLAS 0.3.21, SkylakeX kernels (chosen by cupick: OpenBLAS did not know this CPU), 2 threads".
std::string describe();

// Threads for OpenBLAS and for cupick's own host loops (OpenMP); n <= 0: every core. OpenMP keeps
// the count per thread: a thread the program starts itself (the picker's) calls adopt_threads().
void set_threads(int n);
void adopt_threads();
int threads();

}  // namespace cupick::cpu
