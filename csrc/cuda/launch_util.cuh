// Host-side helpers of the launchers: shared-memory budget, tile size, persistent grid.
#pragma once
#include <cuda_runtime.h>

#include "cuda/common.cuh"

namespace wmk {
namespace cuda {

// Floats kept free for the kernels' static shared memory (DeviceNet copy, row ids: < 1 KB).
constexpr int64_t kSmemSlack = 256;

struct LaunchPlan {
  int tile = 16;        // candidate rows per block tile
  bool staged = false;  // weights in shared memory
  size_t smem = 0;      // dynamic shared memory bytes
  int grid = 1;         // persistent blocks
  bool fits = true;
};

inline int device_smem_optin() {
  int dev = 0, bytes = 48 * 1024;
  if (cudaGetDevice(&dev) == cudaSuccess) cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
  return bytes;
}

inline int device_sms() {
  int dev = 0, sms = 1;
  if (cudaGetDevice(&dev) == cudaSuccess) cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  return sms;
}

// The largest tile of {16, 8} whose buffers (plus `extra_floats`) fit, then whether the
// weights fit beside them. `fits` is false when not even a tile of 8 fits (a model wider
// than about 2,500 units on an H100): the launchers then refuse with cudaErrorInvalidValue.
// With `rows` > 0 (candidate rows cut into tiles, one block per tile) a tile of 8 is taken
// when tiles of 16 would leave SMs idle: per-block time grows with the tile.
inline LaunchPlan plan_launch(const DeviceNet& net, int T, bool backward, int64_t extra_floats, int64_t work_items,
                              int64_t rows = 0) {
  LaunchPlan p;
  const int64_t budget = device_smem_optin() / 4;  // floats
  p.tile = tile_smem_floats(net, 16, T) + extra_floats + kSmemSlack <= budget ? 16 : 8;
  if (rows > 0 && (rows + 15) / 16 < device_sms()) p.tile = 8;
  p.fits = tile_smem_floats(net, p.tile, T) + extra_floats + kSmemSlack <= budget;
  int64_t floats = tile_smem_floats(net, p.tile, T) + extra_floats;
  const int64_t weights = weight_floats(net, backward);
  p.staged = floats + weights + kSmemSlack <= budget;
  if (p.staged) floats += weights;
  p.smem = static_cast<size_t>(floats) * sizeof(float);
  const int64_t blocks = work_items < 1 ? 1 : work_items;
  const int64_t cap = int64_t(device_sms()) * 2;
  p.grid = static_cast<int>(blocks < cap ? blocks : cap);
  return p;
}

template <typename Kernel>
inline cudaError_t allow_smem(Kernel kernel, size_t bytes) {
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
}

}  // namespace cuda
}  // namespace wmk
