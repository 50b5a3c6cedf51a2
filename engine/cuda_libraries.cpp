#include "engine/cuda_libraries.h"

#include <cudnn.h>
#include <cufft.h>
#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace cupick::cuda_libraries {

namespace detail {

struct Opened {
  Library info;
  void* handle = nullptr;
};

// The first of `names` the loader opens; RTLD_LOCAL keeps its symbols out of the global namespace,
// where they would meet the forwarders below.
Opened open_first(const std::vector<std::string>& names) {
  Opened lib;
  for (const std::string& name : names) {
    dlerror();
    if (void* handle = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL)) {
      lib.handle = handle;
      lib.info.loaded = true;
      char folder[4096] = "";  // PATH_MAX: what RTLD_DI_ORIGIN may write
      const std::string file = std::filesystem::path(name).filename().string();
      lib.info.path = dlinfo(handle, RTLD_DI_ORIGIN, folder) == 0 ? std::string(folder) + "/" + file : name;
      lib.info.error.clear();
      return lib;
    }
    const char* why = dlerror();
    lib.info.error += (lib.info.error.empty() ? "" : "; ") + std::string(why ? why : name + ": not found");
  }
  return lib;
}

void* symbol(const Opened& lib, const char* name) { return lib.handle ? dlsym(lib.handle, name) : nullptr; }

const Opened& cudnn_library() {
  static const Opened lib = [] {
    std::vector<std::string> names;
    if (const char* where = std::getenv("CUPICK_CUDNN_PATH"); where && *where) {
      std::error_code ec;
      names.push_back(std::filesystem::is_directory(where, ec) ? (std::filesystem::path(where) / "libcudnn.so.9").string()
                                                               : std::string(where));
    }
    names.push_back("libcudnn.so.9");
    Opened opened = open_first(names);
    if (opened.handle) {
      using Version = size_t (*)();
      const auto version = reinterpret_cast<Version>(symbol(opened, "cudnnGetVersion"));
      const size_t v = version ? version() : 0;
      opened.info.version = std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100);
    }
    return opened;
  }();
  return lib;
}

const Opened& cufft_library() {
  static const Opened lib = [] {
    Opened opened = open_first({"libcufft.so." + std::to_string(CUFFT_VER_MAJOR)});
    if (opened.handle) {
      using Version = cufftResult (*)(int*);
      int v = 0;
      if (const auto version = reinterpret_cast<Version>(symbol(opened, "cufftGetVersion")); version) version(&v);
      opened.info.version = std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 100) + "." + std::to_string(v % 100);
    }
    return opened;
  }();
  return lib;
}

}  // namespace detail

const Library& cudnn() { return detail::cudnn_library().info; }
const Library& cufft() { return detail::cufft_library().info; }

std::string describe() {
  std::string text;
  auto line = [&](const char* name, const Library& lib, const char* without) {
    text += lib.loaded ? std::string(name) + " " + lib.version + " (" + lib.path + ")\n"
                       : std::string(name) + ": not found (" + lib.error + "): " + without + "\n";
  };
  line("cuDNN", cudnn(), "GPU convolutions are unavailable (install cuDNN 9 or set CUPICK_CUDNN_PATH)");
  line("cuFFT", cufft(), "the GPU low-pass filter is unavailable");
  return text;
}

}  // namespace cupick::cuda_libraries

// The forwarders: each function of cuDNN and cuFFT that cupick calls, under its own name and with
// its header's signature, looked up once and called; where the library is missing, its status for
// "not initialised" (cuDNN) or "setup failed" (cuFFT), a stand-in message, or version 0.
#define CUPICK_FORWARD(lib, failed, ret, name, params, args)                                          \
  extern "C" ret name params {                                                                         \
    using Function = decltype(&::name);                                                                \
    static const Function f =                                                                          \
        reinterpret_cast<Function>(cupick::cuda_libraries::detail::symbol(                             \
            cupick::cuda_libraries::detail::lib##_library(), #name));                                  \
    return f ? f args : failed;                                                                        \
  }

CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnAddTensor, (cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t aDesc, const void *A, const void *beta, const cudnnTensorDescriptor_t cDesc, void *C), (handle, alpha, aDesc, A, beta, cDesc, C))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnConvolutionBackwardBias, (cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t dyDesc, const void *dy, const void *beta, const cudnnTensorDescriptor_t dbDesc, void *db), (handle, alpha, dyDesc, dy, beta, dbDesc, db))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnConvolutionBackwardData, (cudnnHandle_t handle, const void *alpha, const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdDataAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta, const cudnnTensorDescriptor_t dxDesc, void *dx), (handle, alpha, wDesc, w, dyDesc, dy, convDesc, algo, workSpace, workSpaceSizeInBytes, beta, dxDesc, dx))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnConvolutionBackwardFilter, (cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnTensorDescriptor_t dyDesc, const void *dy, const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionBwdFilterAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta, const cudnnFilterDescriptor_t dwDesc, void *dw), (handle, alpha, xDesc, x, dyDesc, dy, convDesc, algo, workSpace, workSpaceSizeInBytes, beta, dwDesc, dw))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnConvolutionForward, (cudnnHandle_t handle, const void *alpha, const cudnnTensorDescriptor_t xDesc, const void *x, const cudnnFilterDescriptor_t wDesc, const void *w, const cudnnConvolutionDescriptor_t convDesc, cudnnConvolutionFwdAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes, const void *beta, const cudnnTensorDescriptor_t yDesc, void *y), (handle, alpha, xDesc, x, wDesc, w, convDesc, algo, workSpace, workSpaceSizeInBytes, beta, yDesc, y))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnCreate, (cudnnHandle_t *handle), (handle))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnCreateConvolutionDescriptor, (cudnnConvolutionDescriptor_t *convDesc), (convDesc))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnCreateFilterDescriptor, (cudnnFilterDescriptor_t *filterDesc), (filterDesc))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnCreateTensorDescriptor, (cudnnTensorDescriptor_t *tensorDesc), (tensorDesc))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnDestroy, (cudnnHandle_t handle), (handle))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnDestroyConvolutionDescriptor, (cudnnConvolutionDescriptor_t convDesc), (convDesc))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnDestroyFilterDescriptor, (cudnnFilterDescriptor_t filterDesc), (filterDesc))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnDestroyTensorDescriptor, (cudnnTensorDescriptor_t tensorDesc), (tensorDesc))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnGetConvolutionBackwardDataAlgorithmMaxCount, (cudnnHandle_t handle, int *count), (handle, count))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnGetConvolutionBackwardDataAlgorithm_v7, (cudnnHandle_t handle, const cudnnFilterDescriptor_t filterDesc, const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t gradDesc, const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdDataAlgoPerf_t *perfResults), (handle, filterDesc, diffDesc, convDesc, gradDesc, requestedAlgoCount, returnedAlgoCount, perfResults))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnGetConvolutionBackwardDataWorkspaceSize, (cudnnHandle_t handle, const cudnnFilterDescriptor_t wDesc, const cudnnTensorDescriptor_t dyDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t dxDesc, cudnnConvolutionBwdDataAlgo_t algo, size_t *sizeInBytes), (handle, wDesc, dyDesc, convDesc, dxDesc, algo, sizeInBytes))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnGetConvolutionBackwardFilterAlgorithmMaxCount, (cudnnHandle_t handle, int *count), (handle, count))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnGetConvolutionBackwardFilterAlgorithm_v7, (cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc, const cudnnTensorDescriptor_t diffDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc, const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionBwdFilterAlgoPerf_t *perfResults), (handle, srcDesc, diffDesc, convDesc, gradDesc, requestedAlgoCount, returnedAlgoCount, perfResults))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnGetConvolutionBackwardFilterWorkspaceSize, (cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnTensorDescriptor_t dyDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnFilterDescriptor_t gradDesc, cudnnConvolutionBwdFilterAlgo_t algo, size_t *sizeInBytes), (handle, xDesc, dyDesc, convDesc, gradDesc, algo, sizeInBytes))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnGetConvolutionForwardAlgorithmMaxCount, (cudnnHandle_t handle, int *count), (handle, count))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnGetConvolutionForwardAlgorithm_v7, (cudnnHandle_t handle, const cudnnTensorDescriptor_t srcDesc, const cudnnFilterDescriptor_t filterDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t destDesc, const int requestedAlgoCount, int *returnedAlgoCount, cudnnConvolutionFwdAlgoPerf_t *perfResults), (handle, srcDesc, filterDesc, convDesc, destDesc, requestedAlgoCount, returnedAlgoCount, perfResults))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnGetConvolutionForwardWorkspaceSize, (cudnnHandle_t handle, const cudnnTensorDescriptor_t xDesc, const cudnnFilterDescriptor_t wDesc, const cudnnConvolutionDescriptor_t convDesc, const cudnnTensorDescriptor_t yDesc, cudnnConvolutionFwdAlgo_t algo, size_t *sizeInBytes), (handle, xDesc, wDesc, convDesc, yDesc, algo, sizeInBytes))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnSetConvolution2dDescriptor, (cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w, int u, int v, int dilation_h, int dilation_w, cudnnConvolutionMode_t mode, cudnnDataType_t computeType), (convDesc, pad_h, pad_w, u, v, dilation_h, dilation_w, mode, computeType))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnSetConvolutionMathType, (cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType), (convDesc, mathType))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnSetFilter4dDescriptor, (cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType, cudnnTensorFormat_t format, int k, int c, int h, int w), (filterDesc, dataType, format, k, c, h, w))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnSetStream, (cudnnHandle_t handle, cudaStream_t streamId), (handle, streamId))
CUPICK_FORWARD(cudnn, CUDNN_STATUS_NOT_INITIALIZED, cudnnStatus_t, cudnnSetTensor4dDescriptor, (cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format, cudnnDataType_t dataType, int n, int c, int h, int w), (tensorDesc, format, dataType, n, c, h, w))
CUPICK_FORWARD(cufft, CUFFT_SETUP_FAILED, cufftResult, cufftCreate, (cufftHandle * handle), (handle))
CUPICK_FORWARD(cufft, CUFFT_SETUP_FAILED, cufftResult, cufftDestroy, (cufftHandle plan), (plan))
CUPICK_FORWARD(cufft, CUFFT_SETUP_FAILED, cufftResult, cufftExecC2R, (cufftHandle plan, cufftComplex *idata, cufftReal *odata), (plan, idata, odata))
CUPICK_FORWARD(cufft, CUFFT_SETUP_FAILED, cufftResult, cufftExecR2C, (cufftHandle plan, cufftReal *idata, cufftComplex *odata), (plan, idata, odata))
CUPICK_FORWARD(cufft, CUFFT_SETUP_FAILED, cufftResult, cufftMakePlan2d, (cufftHandle plan, int nx, int ny, cufftType type, size_t *workSize), (plan, nx, ny, type, workSize))
CUPICK_FORWARD(cufft, CUFFT_SETUP_FAILED, cufftResult, cufftSetAutoAllocation, (cufftHandle plan, int autoAllocate), (plan, autoAllocate))
CUPICK_FORWARD(cufft, CUFFT_SETUP_FAILED, cufftResult, cufftSetStream, (cufftHandle plan, cudaStream_t stream), (plan, stream))
CUPICK_FORWARD(cufft, CUFFT_SETUP_FAILED, cufftResult, cufftSetWorkArea, (cufftHandle plan, void *workArea), (plan, workArea))

CUPICK_FORWARD(cudnn, "cuDNN is not loaded", const char*, cudnnGetErrorString, (cudnnStatus_t status), (status))
CUPICK_FORWARD(cudnn, 0, size_t, cudnnGetVersion, (), ())
