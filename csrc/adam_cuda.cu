// CUDA adam_step: one projected Adam step, elementwise, in place (adam_update.h).
// Plain CUDA (no ATen): compiles standalone for the compile gate.
#include "cuda/common.cuh"

namespace wmk {
namespace cuda {

__global__ void __launch_bounds__(kThreads) adam_kernel(AdamArgs a) {
  AdamConsts<float> c;
  c.lr = a.lr;
  c.b1 = a.b1;
  c.b2 = a.b2;
  c.one_minus_b1 = a.one_minus_b1;
  c.one_minus_b2 = a.one_minus_b2;
  c.bc1 = a.bc1;
  c.bc2 = a.bc2;
  c.eps = a.eps;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < a.numel; i += int64_t(gridDim.x) * blockDim.x) {
    float m = a.m[i], v = a.v[i];
    float x = adam_update<float>(a.actions[i], a.grad[i], m, v, c);
    if (a.noise != nullptr) x += a.noise[i];
    const int j = static_cast<int>(i % a.A);
    a.actions[i] = clamp_bounds<float>(x, a.lo[j], a.hi[j]);
    a.m[i] = m;
    a.v[i] = v;
  }
}

cudaError_t launch_adam(const AdamArgs& args, cudaStream_t stream) {
  if (args.numel == 0) return cudaSuccess;
  int64_t blocks = (args.numel + kThreads - 1) / kThreads;
  const int64_t cap = int64_t(65535) * 8;
  if (blocks > cap) blocks = cap;
  adam_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(args);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace wmk
