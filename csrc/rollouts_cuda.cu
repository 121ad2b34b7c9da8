// CUDA rollout and rollout_grad: a persistent grid of blocks, each rolling tiles of TILE
// candidate rows (r = p * N + n) through the model (forward, and for rollout_grad the
// backward pass through time) with the maths of wmkernels/ops/rollouts/naive.py.
// Plain CUDA (no ATen): compiles standalone for the compile gate.
#include "cuda/common.cuh"
#include "cuda/launch_util.cuh"

namespace wmk {
namespace cuda {

template <int TILE>
__global__ void __launch_bounds__(kThreads, 1) rollout_kernel(DeviceNet net, DeviceObj obj, RolloutArgs a, float* ws,
                                                           int64_t ws_per_block, bool staged, bool with_grad) {
  extern __shared__ float smem[];
  __shared__ int64_t prob[TILE];
  __shared__ DeviceNet n;
  prepare_net(net, smem, staged, with_grad, n);
  float* tile_mem = smem + (staged ? weight_floats(net, with_grad) : 0);
  const TileBufs b = carve_tile(tile_mem, net, TILE, a.T, ws + blockIdx.x * ws_per_block);
  const int64_t R = a.P * a.N, tiles = (R + TILE - 1) / TILE;
  const int TA = a.T * n.A, D = n.D, tid = threadIdx.x, nt = blockDim.x;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t row0 = tile * TILE;
    const int rows = static_cast<int>(R - row0 < TILE ? R - row0 : TILE);
    __syncthreads();
    if (tid < TILE) prob[tid] = (row0 + tid) / a.N;
    __syncthreads();
    tile_load_states(n, b, TILE, a.z0, a.goal, prob, rows);
    for (int e = tid; e < TILE * TA; e += nt) b.act[e] = e / TA < rows ? a.actions[row0 * TA + e] : 0.f;
    tile_forward<TILE>(n, obj, b, a.T, with_grad);
    if (tid < rows) a.cost[row0 + tid] = b.cost[tid];
    if (a.states != nullptr) {
      const int per_row = (a.T + 1) * D;
      for (int e = tid; e < rows * per_row; e += nt) {
        const int r = e / per_row, t = (e % per_row) / D, d = e % D;
        a.states[(row0 + r) * per_row + t * D + d] = b.zs[(t * TILE + r) * D + d];
      }
    }
    if (with_grad) {
      tile_backward<TILE>(n, obj, b, a.T);
      for (int e = tid; e < rows * TA; e += nt) a.grad[row0 * TA + e] = b.grad[e];
    }
  }
}

static LaunchPlan rollout_plan_of(const DeviceNet& net, const RolloutArgs& args) {
  const int64_t rows = args.P * args.N;
  const bool with_grad = args.grad != nullptr;
  const LaunchPlan p = plan_launch(net, args.T, with_grad, 0, 1, rows);
  return plan_launch(net, args.T, with_grad, 0, (rows + p.tile - 1) / p.tile, rows);
}

int64_t rollout_workspace(const DeviceNet& net, const RolloutArgs& args) {
  const LaunchPlan p = rollout_plan_of(net, args);
  return int64_t(p.grid) * tile_global_floats(net, p.tile, args.T);
}

cudaError_t launch_rollout(const DeviceNet& net, const DeviceObj& obj, const RolloutArgs& args, float* workspace,
                           cudaStream_t stream) {
  const bool with_grad = args.grad != nullptr;
  const LaunchPlan p = rollout_plan_of(net, args);
  const int64_t per_block = tile_global_floats(net, p.tile, args.T);
  if (!p.fits) return cudaErrorInvalidValue;
  cudaError_t err;
  switch (p.tile) {
#define WMK_LAUNCH(TL)                                                                                    \
  case TL:                                                                                                \
    err = allow_smem(rollout_kernel<TL>, p.smem);                                                         \
    if (err != cudaSuccess) return err;                                                                   \
    rollout_kernel<TL><<<p.grid, kThreads, p.smem, stream>>>(net, obj, args, workspace, per_block, p.staged, \
                                                             with_grad);                                  \
    break;
    WMK_LAUNCH(16)
    default:
      WMK_LAUNCH(8)
#undef WMK_LAUNCH
  }
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace wmk
