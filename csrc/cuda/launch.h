// The thin interface between the ATen glue (ops_cuda.cpp) and the plain-CUDA kernels
// (*_cuda.cu): raw device pointers and sizes only, no ATen types.
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

namespace wmk {
namespace cuda {

constexpr int kMaxMats = 5;

struct DeviceNet {
  int L, D, A, K0, act;
  int Hmax;                 // max(K0, every hidden width): the activation buffer width
  int in[kMaxMats], out[kMaxMats];
  const float* W[kMaxMats];   // [in, out] row-major (x @ W)
  const float* WT[kMaxMats];  // [out, in]
  const float* b[kMaxMats];   // [out]
  const float* S;             // [D, D] or null (identity skip)
  const float* ST;            // [D, D] transpose, or null
};

struct DeviceObj {
  const float* w;   // [T] step weights
  const float* q;   // [D] state weights
  float lam;        // action penalty
  const float* lo;  // [A]
  const float* hi;  // [A]
};

struct RolloutArgs {
  const float* z0;       // [P, D]
  const float* goal;     // [P, D]
  const float* actions;  // [P, N, T, A]
  int64_t P, N;
  int T;
  float* cost;    // [P, N]
  float* states;  // [P, N, T+1, D] or null
  float* grad;    // [P, N, T, A] or null (rollout_grad)
};

struct AdamArgs {
  float* actions;
  const float* grad;
  float* m;
  float* v;
  const float* noise;  // or null
  const float* lo;
  const float* hi;
  int64_t numel;
  int A;
  float lr, b1, b2, one_minus_b1, one_minus_b2, bc1, bc2, eps;
};

struct GbpArgs {
  const float* z0;
  const float* goal;
  const float* init;  // [P, N, T, A]
  int64_t P, N;
  int T, iters;
  bool adam;
  double lr, beta1, beta2, eps;
  float noise;
  uint32_t seed;
  float* rows;      // [P, N, T, A] final actions of every candidate
  float* row_cost;  // [P, N]
  float* row_hist;  // [P, N, iters]
};

struct SamplingArgs {
  const float* z0;
  const float* goal;
  int64_t P;
  int T;
  int samples, elites, iters;  // elites == 0: MPPI
  float momentum, temperature;
  uint32_t seed;
  float* mean;     // [P, T, A] in: initial mean, out: final mean
  float* stdv;     // [P, T, A] in: initial std (updated in place by CEM)
  float* cost;     // [P]
  float* history;  // [P, iters]
};

// Workspace (global memory) each launcher needs, in floats; the glue allocates it.
int64_t rollout_workspace(const DeviceNet& net, const RolloutArgs& args);
int64_t gbp_workspace(const DeviceNet& net, const GbpArgs& args);
int64_t sampling_workspace(const DeviceNet& net, const SamplingArgs& args);

// Each returns cudaSuccess or the launch error.
cudaError_t launch_rollout(const DeviceNet& net, const DeviceObj& obj, const RolloutArgs& args, float* workspace,
                           cudaStream_t stream);
cudaError_t launch_adam(const AdamArgs& args, cudaStream_t stream);
cudaError_t launch_gbp(const DeviceNet& net, const DeviceObj& obj, const GbpArgs& args, float* workspace,
                       cudaStream_t stream);
cudaError_t launch_sampling(const DeviceNet& net, const DeviceObj& obj, const SamplingArgs& args, float* workspace,
                            cudaStream_t stream);

}  // namespace cuda
}  // namespace wmk
