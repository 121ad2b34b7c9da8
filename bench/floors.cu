// Floors of an on-chip GBP plan, measured on the card (docs/benchmarks.md, "Latency floors").
//
//   nvcc -O3 -arch=sm_90 -o floors bench/floors.cu && ./floors > floors.md
//
// Three dependent chains, each timed with CUDA events over many links and reported per link:
//   cluster  a 2-CTA thread-block cluster (sm_90): one CTA writes a word into its partner's shared
//            memory (distributed shared memory), a cluster barrier, the partner reads it and
//            writes back, a barrier: ns per (DSM write + cluster barrier).
//   grid     a cooperative grid of one block per SM: ns per grid-wide barrier (grid.sync()).
//   matvec   one 256-thread block per SM holding half a 256x256 float32 matrix (128 rows,
//            128 KiB) in shared memory: y = W x with x[k] = sin(y[k mod 128]) fed back, so each
//            product waits for the last: ns per 128x256 product, against the shared-memory read
//            floor of 128 KiB at 128 B per cycle.
// Each chain first runs a few links whose result is checked against a host reference (matvec,
// float64) or a closed form (cluster, grid); a failed check exits 1 before any timing.
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

namespace cg = cooperative_groups;

#define CHECK(call)                                                                           \
  do {                                                                                        \
    cudaError_t err_ = (call);                                                                \
    if (err_ != cudaSuccess) {                                                                \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(err_)); \
      std::exit(1);                                                                           \
    }                                                                                         \
  } while (0)

constexpr int kRows = 128, kCols = 256, kThreads = 256;

// ---- cluster: DSM write + cluster barrier ---------------------------------------------------
__global__ void __cluster_dims__(2, 1, 1) cluster_chain(int links, unsigned* out) {
  __shared__ unsigned slot;
  cg::cluster_group cluster = cg::this_cluster();
  const unsigned rank = cluster.block_rank();
  if (threadIdx.x == 0) slot = 0;
  cluster.sync();
  unsigned* partner = cluster.map_shared_rank(&slot, rank ^ 1u);
  for (int i = 0; i < links; ++i) {
    // link i: the CTA of rank i % 2 adds 1 to what it holds and writes it into its partner.
    if (threadIdx.x == 0 && rank == unsigned(i & 1)) *partner = slot + 1;
    cluster.sync();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = slot;
}

// ---- grid: grid-wide barrier -----------------------------------------------------------------
__global__ void grid_chain(int links, unsigned* counter, unsigned* out) {
  cg::grid_group grid = cg::this_grid();
  for (int i = 0; i < links; ++i) {
    if (threadIdx.x == 0 && blockIdx.x == unsigned(i) % gridDim.x) atomicAdd(counter, 1u);
    grid.sync();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = atomicAdd(counter, 0u);
}

// ---- matvec: shared-memory-bound 128x256 product in a dependent chain ---------------------------
// W is held transposed, wt[k][r], so the threads of a warp read consecutive rows (no bank
// conflicts) and x[k] is a broadcast. Thread t sums k in [h * 128, h * 128 + 128) for row
// r = t mod 128, h = t / 128; the two halves meet in shared memory.
__global__ void matvec_chain(int links, const float* w, float* out) {
  extern __shared__ float smem[];
  float* wt = smem;                      // [kCols][kRows]
  float* x = wt + kCols * kRows;         // [kCols]
  float* part = x + kCols;               // [2][kRows]
  for (int i = threadIdx.x; i < kCols * kRows; i += blockDim.x) {
    const int k = i / kRows, r = i % kRows;
    wt[i] = w[r * kCols + k];
  }
  x[threadIdx.x] = 0.01f * float(threadIdx.x % 17);
  __syncthreads();
  const int r = threadIdx.x % kRows, h = threadIdx.x / kRows;
  for (int i = 0; i < links; ++i) {
    float acc0 = 0.f, acc1 = 0.f;
    const float* col = wt + (h * kCols / 2) * kRows + r;
    const float* xs = x + h * kCols / 2;
#pragma unroll 8
    for (int k = 0; k < kCols / 2; k += 2) {
      acc0 = fmaf(col[k * kRows], xs[k], acc0);
      acc1 = fmaf(col[(k + 1) * kRows], xs[k + 1], acc1);
    }
    part[h * kRows + r] = acc0 + acc1;
    __syncthreads();
    x[threadIdx.x] = __sinf(part[threadIdx.x % kRows] + part[kRows + threadIdx.x % kRows]);
    __syncthreads();
  }
  out[blockIdx.x * kCols + threadIdx.x] = x[threadIdx.x];
}

// Host reference of matvec_chain's output after `links` links, in float64.
std::vector<double> matvec_reference(const std::vector<float>& w, int links) {
  std::vector<double> x(kCols), y(kRows);
  for (int t = 0; t < kCols; ++t) x[t] = 0.01f * float(t % 17);
  for (int i = 0; i < links; ++i) {
    for (int r = 0; r < kRows; ++r) {
      double s = 0;
      for (int k = 0; k < kCols; ++k) s += double(w[r * kCols + k]) * x[k];
      y[r] = s;
    }
    for (int t = 0; t < kCols; ++t) x[t] = std::sin(y[t % kRows]);
  }
  return x;
}

template <typename Launch>
float time_ms(Launch launch) {
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  launch();  // warm-up
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  std::vector<float> runs;
  for (int rep = 0; rep < 5; ++rep) {
    CHECK(cudaEventRecord(a));
    launch();
    CHECK(cudaEventRecord(b));
    CHECK(cudaEventSynchronize(b));
    CHECK(cudaGetLastError());
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, a, b));
    runs.push_back(ms);
  }
  std::sort(runs.begin(), runs.end());
  CHECK(cudaEventDestroy(a));
  CHECK(cudaEventDestroy(b));
  return runs[runs.size() / 2];
}

void fail(const char* what) {
  std::fprintf(stderr, "floors: %s\n", what);
  std::exit(1);
}

int main() {
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  const int sms = prop.multiProcessorCount;
  int khz = 0;
  CHECK(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, 0));
  const double ghz = khz * 1e-6;
  unsigned *d_out, *d_counter;
  CHECK(cudaMalloc(&d_out, sizeof(unsigned) * 2 * sms));
  CHECK(cudaMalloc(&d_counter, sizeof(unsigned)));
  std::vector<unsigned> h_out(2 * sms);

  // cluster: links alternate between the two CTAs, each adding 1, so `links` links leave
  // `links` in the slot of rank links % 2 (and links - 1 in the other).
  const int cl_blocks = sms / 2 * 2, check_links = 7, cl_links = 200000;
  cluster_chain<<<cl_blocks, 32>>>(check_links, d_out);
  CHECK(cudaGetLastError());
  CHECK(cudaMemcpy(h_out.data(), d_out, sizeof(unsigned) * cl_blocks, cudaMemcpyDeviceToHost));
  for (int b = 0; b < cl_blocks; ++b)
    if (h_out[b] != unsigned((b % 2) == (check_links % 2) ? check_links : check_links - 1)) fail("cluster chain check");
  const float cl_ms = time_ms([&] { cluster_chain<<<cl_blocks, 32>>>(cl_links, d_out); });

  // grid: one increment per link, so every block reads `links` at the end.
  const int gr_links = 20000;
  auto grid_launch = [&](int links) {
    CHECK(cudaMemset(d_counter, 0, sizeof(unsigned)));
    void* args[] = {&links, &d_counter, &d_out};
    CHECK(cudaLaunchCooperativeKernel((void*)grid_chain, sms, 32, args, 0, nullptr));
  };
  grid_launch(check_links);
  CHECK(cudaMemcpy(h_out.data(), d_out, sizeof(unsigned) * sms, cudaMemcpyDeviceToHost));
  for (int b = 0; b < sms; ++b)
    if (h_out[b] != unsigned(check_links)) fail("grid chain check");
  const float gr_ms = time_ms([&] { grid_launch(gr_links); });

  // matvec
  const size_t smem = sizeof(float) * (kCols * kRows + kCols + 2 * kRows);
  CHECK(cudaFuncSetAttribute(matvec_chain, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.f, 1.f / 16.f);
  std::vector<float> h_w(kRows * kCols);
  for (float& v : h_w) v = normal(gen);
  float *d_w, *d_x;
  CHECK(cudaMalloc(&d_w, sizeof(float) * h_w.size()));
  CHECK(cudaMalloc(&d_x, sizeof(float) * kCols * sms));
  CHECK(cudaMemcpy(d_w, h_w.data(), sizeof(float) * h_w.size(), cudaMemcpyHostToDevice));
  matvec_chain<<<sms, kThreads, smem>>>(check_links, d_w, d_x);
  CHECK(cudaGetLastError());
  std::vector<float> h_x(kCols * sms);
  CHECK(cudaMemcpy(h_x.data(), d_x, sizeof(float) * h_x.size(), cudaMemcpyDeviceToHost));
  const std::vector<double> ref = matvec_reference(h_w, check_links);
  double num = 0, den = 0;
  for (int b = 0; b < sms; ++b)
    for (int t = 0; t < kCols; ++t) {
      const double e = double(h_x[b * kCols + t]) - ref[t];
      num += e * e;
      den += ref[t] * ref[t];
    }
  const double rel = std::sqrt(num / den);
  if (!(rel < 1e-4)) fail("matvec chain check (relative error against float64)");
  const int mv_links = 20000;
  const float mv_ms = time_ms([&] { matvec_chain<<<sms, kThreads, smem>>>(mv_links, d_w, d_x); });
  const double floor_cycles = double(kRows * kCols * sizeof(float)) / 128.0;

  std::printf("# Latency floors on %s (%d SMs, %.2f GHz boost clock)\n\n", prop.name, sms, ghz);
  std::printf("`bench/floors.cu`: median of 5 timed launches, each a dependent chain; per link.\n\n");
  std::printf("| chain | links | ns per link | cycles per link | note |\n|---|---:|---:|---:|---|\n");
  std::printf("| cluster (DSM write + cluster barrier, 2 CTAs) | %d | %.1f | %.0f | %d clusters at once |\n", cl_links,
              1e6 * cl_ms / cl_links, 1e6 * cl_ms / cl_links * ghz, cl_blocks / 2);
  std::printf("| grid (grid.sync, one block per SM) | %d | %.1f | %.0f | %d blocks |\n", gr_links, 1e6 * gr_ms / gr_links,
              1e6 * gr_ms / gr_links * ghz, sms);
  std::printf("| matvec (128x256 float32 in shared memory) | %d | %.1f | %.0f | read floor %.0f cycles; check %.1e |\n",
              mv_links, 1e6 * mv_ms / mv_links, 1e6 * mv_ms / mv_links * ghz, floor_cycles, rel);
  CHECK(cudaFree(d_w));
  CHECK(cudaFree(d_x));
  CHECK(cudaFree(d_out));
  CHECK(cudaFree(d_counter));
  return 0;
}
