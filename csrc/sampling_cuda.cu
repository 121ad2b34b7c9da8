// CUDA cem_plan and mppi_plan: the whole plan of a problem inside one block, every
// iteration inside one launch (a persistent grid over problems).
//
// Per iteration k of problem p (wmkernels/ops/sampling/naive.py):
//   candidates a_s = clamp(mean + std * normal(seed, 2, k, p, s, t*A + j), lo, hi), a_0 = mean
//   (global workspace, L2), rolled out in tiles of TILE rows -> costs in shared memory;
//   a bitonic sort of (cost, index) in shared memory orders them;
//   CEM: mean/std of the `elites` first; MPPI: softmax(-cost / temperature) weighted mean;
//   both blended with momentum, the mean clamped into [lo, hi]. mean and std stay in shared memory
//   for the whole plan.
// Plain CUDA (no ATen): compiles standalone for the compile gate.
#include "cuda/common.cuh"
#include "cuda/launch_util.cuh"

namespace wmk {
namespace cuda {

__host__ __device__ inline int next_pow2(int x) {
  int p = 1;
  while (p < x) p <<= 1;
  return p;
}

// Sum over the block of one value per thread; every thread gets the result.
__device__ inline float block_sum(float value, float* red) {
  red[threadIdx.x] = value;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) red[threadIdx.x] += red[threadIdx.x + s];
    __syncthreads();
  }
  const float total = red[0];
  __syncthreads();
  return total;
}

// Ascending bitonic sort of (key, idx) pairs, n a power of two, ties broken by index.
__device__ inline void block_sort(float* key, int* idx, int n) {
  for (int k = 2; k <= n; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const int ixj = i ^ j;
        if (ixj > i) {
          const bool up = (i & k) == 0;
          const bool greater = key[i] > key[ixj] || (key[i] == key[ixj] && idx[i] > idx[ixj]);
          if (greater == up) {
            const float tk = key[i];
            key[i] = key[ixj];
            key[ixj] = tk;
            const int ti = idx[i];
            idx[i] = idx[ixj];
            idx[ixj] = ti;
          }
        }
      }
      __syncthreads();
    }
  }
}

__host__ __device__ inline int64_t sampling_extra_floats(int T, int A, int samples) {
  return 2 * int64_t(T) * A + 2 * int64_t(next_pow2(samples)) + kThreads;
}

template <int TILE>
__global__ void __launch_bounds__(kThreads, 1) sampling_plan_kernel(DeviceNet net, DeviceObj obj, SamplingArgs a,
                                                                 float* ws, int64_t ws_per_block, bool staged) {
  extern __shared__ float smem[];
  __shared__ int64_t prob[TILE];
  __shared__ DeviceNet n;
  prepare_net(net, smem, staged, false, n);
  float* tile_mem = smem + (staged ? weight_floats(net, false) : 0);
  const TileBufs b = carve_tile(tile_mem, net, TILE, a.T, ws + blockIdx.x * ws_per_block);
  const int A = n.A, TA = a.T * A, S = a.samples, S2 = next_pow2(S), tid = threadIdx.x, nt = blockDim.x;
  float* mu = tile_mem + tile_smem_floats(net, TILE, a.T);
  float* sd = mu + TA;
  float* key = sd + TA;
  int* idx = reinterpret_cast<int*>(key + S2);
  float* red = key + 2 * S2;
  float* cand = b.deriv + int64_t(a.T) * n.L * TILE * n.Hmax;  // [S, T, A] after the tile workspace
  if (tid < TILE) prob[tid] = 0;
  const float keep = 1.f - a.momentum;
  for (int64_t p = blockIdx.x; p < a.P; p += gridDim.x) {
    __syncthreads();
    for (int i = tid; i < TA; i += nt) {
      mu[i] = a.mean[p * TA + i];
      sd[i] = a.stdv[p * TA + i];
    }
    __syncthreads();
    const float* z0p = a.z0 + p * n.D;
    const float* gp = a.goal + p * n.D;
    for (int k = 0; k <= a.iters; ++k) {
      const bool final_pass = k == a.iters;  // the cost of the returned mean
      const int count = final_pass ? 1 : S;
      for (int e = tid; e < count * TA; e += nt) {
        const int s = e / TA, i = e % TA;
        const float eps = (s == 0 || final_pass)
                              ? 0.f
                              : philox_normal(a.seed, kStreamSample, uint32_t(k), uint32_t(p), uint32_t(s), uint32_t(i));
        const float x = mu[i] + sd[i] * eps;
        cand[e] = final_pass ? x : clamp_bounds<float>(x, obj.lo[i % A], obj.hi[i % A]);
      }
      __syncthreads();
      for (int s0 = 0; s0 < count; s0 += TILE) {
        const int rows = count - s0 < TILE ? count - s0 : TILE;
        tile_load_states(n, b, TILE, z0p, gp, prob, TILE);
        for (int e = tid; e < TILE * TA; e += nt) b.act[e] = e / TA < rows ? cand[s0 * TA + e] : 0.f;
        tile_forward<TILE>(n, obj, b, a.T, false);
        if (tid < rows) {
          key[s0 + tid] = b.cost[tid];
          idx[s0 + tid] = s0 + tid;
        }
      }
      __syncthreads();
      if (final_pass) {
        if (tid == 0) a.cost[p] = key[0];
        break;
      }
      for (int i = S + tid; i < S2; i += nt) {
        key[i] = INFINITY;
        idx[i] = i;
      }
      __syncthreads();
      block_sort(key, idx, S2);
      if (a.elites > 0) {  // CEM
        const int E = a.elites;
        float part = 0.f;
        for (int e = tid; e < E; e += nt) part += key[e];
        const float elite_cost = block_sum(part, red);
        if (tid == 0) a.history[p * a.iters + k] = elite_cost / float(E);
        for (int i = tid; i < TA; i += nt) {
          float sum = 0.f;
          for (int e = 0; e < E; ++e) sum += cand[int64_t(idx[e]) * TA + i];
          const float em = sum / float(E);
          float var = 0.f;
          for (int e = 0; e < E; ++e) {
            const float d = cand[int64_t(idx[e]) * TA + i] - em;
            var = fmaf(d, d, var);
          }
          mu[i] = clamp_bounds<float>(a.momentum * mu[i] + keep * em, obj.lo[i % A], obj.hi[i % A]);
          sd[i] = a.momentum * sd[i] + keep * sqrtf(var / float(E));
        }
      } else {  // MPPI: key[0] is the lowest cost after the sort
        const float lowest = key[0];
        float part_w = 0.f, part_wc = 0.f;
        for (int s = tid; s < S; s += nt) {
          const float w = expf(-(key[s] - lowest) / a.temperature);
          part_w += w;
          part_wc += w * key[s];
        }
        const float total = block_sum(part_w, red);
        const float weighted = block_sum(part_wc, red);
        if (tid == 0) a.history[p * a.iters + k] = weighted / total;
        for (int i = tid; i < TA; i += nt) {
          float acc = 0.f;
          for (int s = 0; s < S; ++s) acc += expf(-(key[s] - lowest) / a.temperature) * cand[int64_t(idx[s]) * TA + i];
          mu[i] = clamp_bounds<float>(a.momentum * mu[i] + keep * (acc / total), obj.lo[i % A], obj.hi[i % A]);
        }
      }
      __syncthreads();
    }
    for (int i = tid; i < TA; i += nt) {
      a.mean[p * TA + i] = mu[i];
      a.stdv[p * TA + i] = sd[i];
    }
  }
}

static LaunchPlan sampling_plan_of(const DeviceNet& net, const SamplingArgs& args) {
  return plan_launch(net, args.T, false, sampling_extra_floats(args.T, net.A, args.samples), args.P);
}

int64_t sampling_workspace(const DeviceNet& net, const SamplingArgs& args) {
  const LaunchPlan p = sampling_plan_of(net, args);
  return int64_t(p.grid) * (tile_global_floats(net, p.tile, args.T) + int64_t(args.samples) * args.T * net.A);
}

cudaError_t launch_sampling(const DeviceNet& net, const DeviceObj& obj, const SamplingArgs& args, float* workspace,
                            cudaStream_t stream) {
  const LaunchPlan p = sampling_plan_of(net, args);
  const int64_t per_block = tile_global_floats(net, p.tile, args.T) + int64_t(args.samples) * args.T * net.A;
  if (!p.fits) return cudaErrorInvalidValue;
  cudaError_t err;
  switch (p.tile) {
#define WMK_LAUNCH(TL)                                                                                      \
  case TL:                                                                                                  \
    err = allow_smem(sampling_plan_kernel<TL>, p.smem);                                                     \
    if (err != cudaSuccess) return err;                                                                     \
    sampling_plan_kernel<TL><<<p.grid, kThreads, p.smem, stream>>>(net, obj, args, workspace, per_block,    \
                                                                   p.staged);                               \
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
