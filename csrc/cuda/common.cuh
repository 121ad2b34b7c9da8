// Device code shared by the CUDA kernels. Plain CUDA: no ATen, no torch headers, so every
// .cu compiles standalone (bench/compile_gate_cuda.py) and the ATen glue lives in ops_cuda.cpp.
//
// A block rolls a tile of TILE candidate rows through the model together. Activations of the
// tile live in shared memory ([TILE, Hmax] ping-pong buffers); the weights are read from
// shared memory when the launcher could stage them there (DeviceNet.staged), else straight
// from global memory through L1/L2 (they are small and shared by every block). Each product
// [TILE, K] x [K, N] is computed by `block_gemm`: thread j owns output columns
// j, j + blockDim, ... (COLS of them) for all TILE rows, so every weight loaded feeds TILE
// FMAs and the loads of a warp are coalesced along the row of W.
// float32 throughout (the ATen glue casts float64 inputs and casts the results back).
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

#include "activations.h"
#include "adam_update.h"
#include "cuda/launch.h"
#include "philox.h"

namespace wmk {
namespace cuda {

constexpr int kThreads = 256;
constexpr int kCols = 2;

#include "activation_math.h"

// out[r, j] (+)= sum_{k<K} in[r, k] W[k, j] (+ bias[j]) for r < TILE, j < N.
template <int TILE, int COLS>
__device__ __forceinline__ void block_gemm(const float* __restrict__ in, int ldin, int K, const float* __restrict__ W,
                                           int ldw, const float* __restrict__ bias, int N, float* __restrict__ out,
                                           int ldout, bool accumulate) {
  for (int j0 = threadIdx.x; j0 < N; j0 += blockDim.x * COLS) {
    float acc[TILE][COLS];
#pragma unroll
    for (int c = 0; c < COLS; ++c) {
      const int j = j0 + c * blockDim.x;
      const float init = (j < N && bias != nullptr && !accumulate) ? bias[j] : 0.f;
#pragma unroll
      for (int r = 0; r < TILE; ++r) acc[r][c] = (j < N && accumulate) ? out[r * ldout + j] : init;
    }
#pragma unroll 2
    for (int k = 0; k < K; ++k) {
      float w[COLS];
#pragma unroll
      for (int c = 0; c < COLS; ++c) {
        const int j = j0 + c * blockDim.x;
        w[c] = j < N ? W[k * ldw + j] : 0.f;
      }
#pragma unroll
      for (int r = 0; r < TILE; ++r) {
        const float x = in[r * ldin + k];
#pragma unroll
        for (int c = 0; c < COLS; ++c) acc[r][c] = fmaf(x, w[c], acc[r][c]);
      }
    }
#pragma unroll
    for (int c = 0; c < COLS; ++c) {
      const int j = j0 + c * blockDim.x;
      if (j < N) {
#pragma unroll
        for (int r = 0; r < TILE; ++r) out[r * ldout + j] = acc[r][c];
      }
    }
  }
}

// The buffers of one tile. Shared memory: x, y, dz, dz2, goal, act, m, v, grad, cost.
// Global workspace (per block): zs [T+1, TILE, D], deriv [T, L, TILE, Hmax].
struct TileBufs {
  float* x;
  float* y;
  float* dz;
  float* dz2;
  float* goal;
  float* act;
  float* m;
  float* v;
  float* grad;
  float* cost;
  float* zs;
  float* deriv;
};

// Shared-memory floats a tile needs (weights excluded).
__host__ __device__ inline int64_t tile_smem_floats(const DeviceNet& n, int tile, int T) {
  const int64_t ta = int64_t(tile) * T * n.A;
  return 2 * int64_t(tile) * n.Hmax + 3 * int64_t(tile) * n.D + 4 * ta + tile;
}
__host__ __device__ inline int64_t tile_global_floats(const DeviceNet& n, int tile, int T) {
  return int64_t(T + 1) * tile * n.D + int64_t(T) * n.L * tile * n.Hmax;
}
// Shared-memory floats of the staged weights (W and, for the backward pass, W^T and S^T).
__host__ __device__ inline int64_t weight_floats(const DeviceNet& n, bool backward) {
  int64_t total = 0;
  for (int l = 0; l <= n.L; ++l) total += int64_t(n.in[l]) * n.out[l] * (backward ? 2 : 1) + n.out[l];
  if (n.S != nullptr) total += int64_t(n.D) * n.D * (backward ? 2 : 1);
  return total;
}

// Carves the tile buffers from dynamic shared memory (after the staged weights, if any)
// and this block's slice of the global workspace.
__device__ inline TileBufs carve_tile(float* smem, const DeviceNet& n, int tile, int T, float* ws) {
  TileBufs b;
  float* c = smem;
  const int ta = tile * T * n.A;
  b.x = c; c += tile * n.Hmax;
  b.y = c; c += tile * n.Hmax;
  b.dz = c; c += tile * n.D;
  b.dz2 = c; c += tile * n.D;
  b.goal = c; c += tile * n.D;
  b.act = c; c += ta;
  b.m = c; c += ta;
  b.v = c; c += ta;
  b.grad = c; c += ta;
  b.cost = c;
  b.zs = ws;
  b.deriv = ws + int64_t(T + 1) * tile * n.D;
  return b;
}

// Fills the block's shared copy of the model description `sn` (kept in shared memory so that
// the per-layer pointers are indexed without local memory) and, when `staged`, copies the
// weights into shared memory at `smem` and points `sn` at them.
__device__ inline void prepare_net(const DeviceNet& n, float* smem, bool staged, bool backward, DeviceNet& sn) {
  if (threadIdx.x == 0) sn = n;
  __syncthreads();
  if (!staged) return;
  float* c = smem;
  for (int l = 0; l <= n.L; ++l) {
    const int sz = n.in[l] * n.out[l];
    for (int e = threadIdx.x; e < sz; e += blockDim.x) c[e] = n.W[l][e];
    if (threadIdx.x == 0) sn.W[l] = c;
    c += sz;
    if (backward) {
      for (int e = threadIdx.x; e < sz; e += blockDim.x) c[e] = n.WT[l][e];
      if (threadIdx.x == 0) sn.WT[l] = c;
      c += sz;
    }
    for (int e = threadIdx.x; e < n.out[l]; e += blockDim.x) c[e] = n.b[l][e];
    if (threadIdx.x == 0) sn.b[l] = c;
    c += n.out[l];
  }
  if (n.S != nullptr) {
    const int sz = n.D * n.D;
    for (int e = threadIdx.x; e < sz; e += blockDim.x) c[e] = n.S[e];
    if (threadIdx.x == 0) sn.S = c;
    c += sz;
    if (backward) {
      for (int e = threadIdx.x; e < sz; e += blockDim.x) c[e] = n.ST[e];
      if (threadIdx.x == 0) sn.ST = c;
      c += sz;
    }
  }
  __syncthreads();
}

// Loads z0 / goal rows of the tile (rows >= `rows` get zeros) into zs[0] and goal.
__device__ __forceinline__ void tile_load_states(const DeviceNet& n, const TileBufs& b, int TILE, const float* z0,
                                        const float* goal, const int64_t* problem_of_row, int rows) {
  for (int e = threadIdx.x; e < TILE * n.D; e += blockDim.x) {
    const int r = e / n.D, d = e % n.D;
    const bool ok = r < rows;
    const int64_t p = ok ? problem_of_row[r] : 0;
    b.zs[e] = ok ? z0[p * n.D + d] : 0.f;
    b.goal[e] = ok ? goal[p * n.D + d] : 0.f;
  }
}

// Forward through T steps: reads zs[0], goal, act; writes zs[1..T], cost and (store_deriv) act'.
template <int TILE>
__device__ __forceinline__ void tile_forward(const DeviceNet& n, const DeviceObj& o, const TileBufs& b, int T, bool store_deriv) {
  const int tid = threadIdx.x, nt = blockDim.x;
  const int D = n.D, A = n.A, H = n.Hmax, L = n.L, TA = T * A;
  __syncthreads();
  if (tid < TILE) {
    float pen = 0.f;
    for (int i = 0; i < TA; ++i) pen = fmaf(b.act[tid * TA + i], b.act[tid * TA + i], pen);
    b.cost[tid] = o.lam * pen;
  }
  for (int t = 0; t < T; ++t) {
    const float* z = b.zs + t * TILE * D;
    float* zn = b.zs + (t + 1) * TILE * D;
    for (int e = tid; e < TILE * n.K0; e += nt) {
      const int r = e / n.K0, c = e % n.K0;
      b.x[r * H + c] = c < D ? z[r * D + c] : b.act[r * TA + t * A + (c - D)];
    }
    __syncthreads();
    float* in = b.x;
    float* out = b.y;
    for (int l = 0; l < L; ++l) {
      block_gemm<TILE, kCols>(in, H, n.in[l], n.W[l], n.out[l], n.b[l], n.out[l], out, H, false);
      __syncthreads();
      float* dv = b.deriv + int64_t(t * L + l) * TILE * H;
      for (int e = tid; e < TILE * n.out[l]; e += nt) {
        const int r = e / n.out[l], j = e % n.out[l];
        float d;
        out[r * H + j] = activation(n.act, out[r * H + j], &d);
        if (store_deriv) dv[r * H + j] = d;
      }
      __syncthreads();
      float* tmp = in;
      in = out;
      out = tmp;
    }
    block_gemm<TILE, kCols>(in, H, n.in[L], n.W[L], D, n.b[L], D, zn, D, false);
    __syncthreads();
    if (n.S != nullptr) {
      block_gemm<TILE, kCols>(z, D, D, n.S, D, nullptr, D, zn, D, true);
    } else {
      for (int e = tid; e < TILE * D; e += nt) zn[e] += z[e];
    }
    __syncthreads();
    if (tid < TILE) {
      float s = 0.f;
      for (int d = 0; d < D; ++d) {
        const float err = zn[tid * D + d] - b.goal[tid * D + d];
        s = fmaf(o.q[d] * err, err, s);
      }
      b.cost[tid] = fmaf(o.w[t], s, b.cost[tid]);
    }
  }
  __syncthreads();
}

// Backward through time after tile_forward(store_deriv = true): grad [TILE, T, A] = dC/da.
template <int TILE>
__device__ __forceinline__ void tile_backward(const DeviceNet& n, const DeviceObj& o, const TileBufs& b, int T) {
  const int tid = threadIdx.x, nt = blockDim.x;
  const int D = n.D, A = n.A, H = n.Hmax, L = n.L, TA = T * A;
  float* dz = b.dz;
  float* dz2 = b.dz2;
  for (int e = tid; e < TILE * D; e += nt) dz[e] = 0.f;
  __syncthreads();
  for (int t = T - 1; t >= 0; --t) {
    const float* zn = b.zs + (t + 1) * TILE * D;
    const float two_w = 2.f * o.w[t];
    for (int e = tid; e < TILE * D; e += nt) dz[e] += two_w * o.q[e % D] * (zn[e] - b.goal[e]);
    __syncthreads();
    float* dh = b.x;
    float* dn = b.y;
    block_gemm<TILE, kCols>(dz, D, D, n.WT[L], n.in[L], nullptr, n.in[L], dh, H, false);
    __syncthreads();
    for (int l = L - 1; l >= 0; --l) {
      const float* dv = b.deriv + int64_t(t * L + l) * TILE * H;
      for (int e = tid; e < TILE * n.out[l]; e += nt) {
        const int r = e / n.out[l], j = e % n.out[l];
        dh[r * H + j] *= dv[r * H + j];
      }
      __syncthreads();
      block_gemm<TILE, kCols>(dh, H, n.out[l], n.WT[l], n.in[l], nullptr, n.in[l], dn, H, false);
      __syncthreads();
      float* tmp = dh;
      dh = dn;
      dn = tmp;
    }
    for (int e = tid; e < TILE * A; e += nt) {
      const int r = e / A, j = e % A;
      b.grad[r * TA + t * A + j] = dh[r * H + D + j] + 2.f * o.lam * b.act[r * TA + t * A + j];
    }
    if (t == 0) break;
    if (n.S != nullptr) {
      block_gemm<TILE, kCols>(dz, D, D, n.ST, D, nullptr, D, dz2, D, false);
      __syncthreads();
      float* tmp = dz;
      dz = dz2;
      dz2 = tmp;
    }
    for (int e = tid; e < TILE * D; e += nt) dz[e] += dh[(e / D) * H + e % D];
    __syncthreads();
  }
  __syncthreads();
}

}  // namespace cuda
}  // namespace wmk
