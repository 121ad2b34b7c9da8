// CUDA gbp_plan: the whole gradient-based plan in one launch.
//
// A persistent grid of blocks; each block owns tiles of TILE candidate rows (r = p * N + n)
// and runs all `iters` iterations on a tile before taking the next: the tile's actions,
// Adam moments and gradients stay in shared memory, the weights in shared memory where they
// fit (else L1/L2), and only the per-step activation derivatives and states go to the
// block's global workspace (L2). Per iteration k (wmkernels/ops/gbp/naive.py):
//   cost, grad = forward + backward through time;  row_hist[r, k] = cost
//   a = clamp(adam(a, grad) + noise * normal(seed, 1, k, p, n, t*A + j), lo, hi)
// then a final forward gives row_cost; the ATen glue picks the best candidate per problem.
// Plain CUDA (no ATen): compiles standalone for the compile gate.
#include "cuda/common.cuh"
#include "cuda/launch_util.cuh"

namespace wmk {
namespace cuda {

template <int TILE>
__global__ void __launch_bounds__(kThreads, 1) gbp_plan_kernel(DeviceNet net, DeviceObj obj, GbpArgs a, float* ws,
                                                            int64_t ws_per_block, bool staged) {
  extern __shared__ float smem[];
  __shared__ int64_t prob[TILE];
  __shared__ DeviceNet n;
  prepare_net(net, smem, staged, true, n);
  float* tile_mem = smem + (staged ? weight_floats(net, true) : 0);
  const TileBufs b = carve_tile(tile_mem, net, TILE, a.T, ws + blockIdx.x * ws_per_block);
  const int64_t R = a.P * a.N, tiles = (R + TILE - 1) / TILE;
  const int A = n.A, TA = a.T * A, tid = threadIdx.x, nt = blockDim.x;
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const int64_t row0 = tile * TILE;
    const int rows = static_cast<int>(R - row0 < TILE ? R - row0 : TILE);
    __syncthreads();
    if (tid < TILE) prob[tid] = (row0 + tid) / a.N;
    __syncthreads();
    tile_load_states(n, b, TILE, a.z0, a.goal, prob, rows);
    for (int e = tid; e < TILE * TA; e += nt) {
      b.act[e] = e / TA < rows ? a.init[row0 * TA + e] : 0.f;
      b.m[e] = 0.f;
      b.v[e] = 0.f;
    }
    double b1k = 1.0, b2k = 1.0;  // beta^k, kept as products (no pow: a call would cap the registers)
    for (int k = 0; k < a.iters; ++k) {
      b1k *= a.beta1;
      b2k *= a.beta2;
      tile_forward<TILE>(n, obj, b, a.T, true);
      if (tid < rows) a.row_hist[(row0 + tid) * a.iters + k] = b.cost[tid];
      tile_backward<TILE>(n, obj, b, a.T);
      AdamConsts<float> c;
      c.lr = float(a.lr);
      c.b1 = float(a.beta1);
      c.b2 = float(a.beta2);
      c.one_minus_b1 = float(1.0 - a.beta1);
      c.one_minus_b2 = float(1.0 - a.beta2);
      c.bc1 = float(1.0 - b1k);
      c.bc2 = float(1.0 - b2k);
      c.eps = float(a.eps);
      for (int e = tid; e < TILE * TA; e += nt) {
        const int r = e / TA, i = e % TA;
        float m = b.m[e], v = b.v[e];
        float x = a.adam ? adam_update<float>(b.act[e], b.grad[e], m, v, c) : b.act[e] - c.lr * b.grad[e];
        if (a.noise > 0.f) {
          const int64_t row = row0 + (r < rows ? r : 0);
          x += a.noise * philox_normal(a.seed, kStreamNoise, uint32_t(k), uint32_t(row / a.N), uint32_t(row % a.N),
                                       uint32_t(i));
        }
        b.act[e] = clamp_bounds<float>(x, obj.lo[i % A], obj.hi[i % A]);
        b.m[e] = m;
        b.v[e] = v;
      }
    }
    tile_forward<TILE>(n, obj, b, a.T, false);
    if (tid < rows) a.row_cost[row0 + tid] = b.cost[tid];
    for (int e = tid; e < rows * TA; e += nt) a.rows[row0 * TA + e] = b.act[e];
  }
}

static LaunchPlan gbp_plan_of(const DeviceNet& net, const GbpArgs& args) {
  const int64_t rows = args.P * args.N;
  LaunchPlan p = plan_launch(net, args.T, true, 0, 1, rows);
  const int64_t tiles = (rows + p.tile - 1) / p.tile;
  return plan_launch(net, args.T, true, 0, tiles, rows);
}

int64_t gbp_workspace(const DeviceNet& net, const GbpArgs& args) {
  const LaunchPlan p = gbp_plan_of(net, args);
  return int64_t(p.grid) * tile_global_floats(net, p.tile, args.T);
}

cudaError_t launch_gbp(const DeviceNet& net, const DeviceObj& obj, const GbpArgs& args, float* workspace,
                       cudaStream_t stream) {
  const LaunchPlan p = gbp_plan_of(net, args);
  const int64_t per_block = tile_global_floats(net, p.tile, args.T);
  if (!p.fits) return cudaErrorInvalidValue;
  cudaError_t err;
  switch (p.tile) {
#define WMK_LAUNCH(TL)                                                                                        \
  case TL:                                                                                                    \
    err = allow_smem(gbp_plan_kernel<TL>, p.smem);                                                            \
    if (err != cudaSuccess) return err;                                                                       \
    gbp_plan_kernel<TL><<<p.grid, kThreads, p.smem, stream>>>(net, obj, args, workspace, per_block, p.staged); \
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
