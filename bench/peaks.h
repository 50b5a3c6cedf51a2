// What the benchmarks compare against: the device's datasheet peaks, chosen at run time from the
// name the CUDA runtime reports, and the counters every benchmark sets (rate and % of peak).
// Unknown devices (and the CPU) get the rate alone, never a made-up percentage.
#pragma once
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/context.h"

namespace cupick::bench {

// Dense (no structured sparsity) datasheet rates, TFLOP/s, and memory bandwidth, TB/s. Measured on
// the machines lent here: about 790 TFLOP/s for a large bf16 GEMM, a device-to-device copy at about
// 3.0 TB/s (H100) and 4.3 TB/s (H200), i.e. 80-90% of these.
struct Peaks {
  const char* device;
  double bf16, fp16;  // tensor cores, fp32 accumulation
  double tf32;        // tensor cores
  double fp32;        // CUDA cores (FMA), what cupick's fp32 convolutions use today
  double tb_per_s;    // HBM
};

// "NVIDIA H100 80GB HBM3" is the SXM card (132 SMs); the PCIe and NVL cards have other names and
// lower rates, and are deliberately not matched.
inline std::optional<Peaks> peaks_for(const std::string& name) {
  if (name.find("H200") != std::string::npos) return Peaks{"H200 SXM", 989.4, 989.4, 494.7, 66.9, 4.8};
  if (name.find("H100") != std::string::npos && name.find("HBM3") != std::string::npos)
    return Peaks{"H100 SXM", 989.4, 989.4, 494.7, 66.9, 3.35};
  return std::nullopt;
}

// The contexts every benchmark program runs on, made once: the host, and GPU 0 or nullptr where
// there is none.
inline Context& cpu_context() {
  static Context cpu;
  return cpu;
}
inline Context* gpu_context() {
  static std::unique_ptr<Context> gpu = Context::try_gpu();
  return gpu.get();
}

// The device's name, and what the JSON output's "context" should say about it.
inline std::string gpu_name(int id = 0) {
  cudaDeviceProp prop{};
  return cudaGetDeviceProperties(&prop, id) == cudaSuccess ? prop.name : "";
}
inline void add_device_context(bool have_gpu) {
  if (!have_gpu) return;
  const std::string name = gpu_name();
  const size_t cudnn = cudnnGetVersion();
  int driver = 0;
  cudaDriverGetVersion(&driver);
  benchmark::AddCustomContext("gpu", name);
  benchmark::AddCustomContext("cudnn", std::to_string(cudnn / 10000) + "." + std::to_string(cudnn / 100 % 100) +
                                           "." + std::to_string(cudnn % 100));
  benchmark::AddCustomContext("cuda_driver", std::to_string(driver / 1000) + "." + std::to_string(driver % 1000 / 10));
  const std::optional<Peaks> p = peaks_for(name);
  benchmark::AddCustomContext("peaks", p ? std::string(p->device) + ": bf16 " + std::to_string(p->bf16) +
                                               " TFLOP/s, fp32 " + std::to_string(p->fp32) + " TFLOP/s, " +
                                               std::to_string(p->tb_per_s) + " TB/s"
                                         : "unknown device: no percentages");
}

// Counters for `work` done in each of the state's iterations, which took `seconds` in all (summed by
// timed_iteration). On a GPU: TFLOP/s with the share of the fp32 (CUDA-core) and bf16 (tensor-core)
// peaks, or TB/s with the share of memory bandwidth; on the CPU: GFLOP/s or GB/s. No percentages for
// devices not in the table.
inline void report_flop(benchmark::State& state, double flop, double seconds, bool gpu, const std::optional<Peaks>& peaks) {
  const double rate = flop * double(state.iterations()) / seconds;  // FLOP/s
  if (!gpu) {
    state.counters["GFLOP/s"] = rate * 1e-9;
    return;
  }
  state.counters["TFLOP/s"] = rate * 1e-12;
  if (!peaks) return;
  state.counters["%fp32"] = rate * 1e-12 / peaks->fp32 * 100;
  state.counters["%bf16"] = rate * 1e-12 / peaks->bf16 * 100;
}
inline void report_bytes(benchmark::State& state, double bytes, double seconds, bool gpu, const std::optional<Peaks>& peaks) {
  const double rate = bytes * double(state.iterations()) / seconds;  // B/s
  if (!gpu) {
    state.counters["GB/s"] = rate * 1e-9;
    return;
  }
  state.counters["TB/s"] = rate * 1e-12;
  if (peaks) state.counters["%bw"] = rate * 1e-12 / peaks->tb_per_s * 100;
}

// Runs one iteration's work and returns its seconds: on the host by the wall clock, on a GPU with
// CUDA events around the stream's work, which also becomes the iteration's (manual) time.
inline double timed_iteration(benchmark::State& state, cudaStream_t stream, bool gpu, const std::function<void()>& work) {
  if (!gpu) {
    const auto start = std::chrono::steady_clock::now();
    work();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  cudaEventRecord(start, stream);
  work();
  cudaEventRecord(stop, stream);
  cudaEventSynchronize(stop);
  float ms = 0;
  if (cudaEventElapsedTime(&ms, start, stop) != cudaSuccess) state.SkipWithError("CUDA event timing failed");
  state.SetIterationTime(ms * 1e-3);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms * 1e-3;
}

}  // namespace cupick::bench
