// CPU cem_plan and mppi_plan: whole sampling-based plans in one call.
//
// Iteration k of problem p draws S candidates around the mean (sample 0 is the mean):
//   a_s = clamp(mean + std * normal(seed, 2, k, p, s, t*A + j), lo, hi)
// rolls them out in tiles of WMK_TILE rows, and refits:
//   CEM:  the `elites` lowest costs -> elite mean and population std, blended with momentum
//   MPPI: softmax(-cost / temperature) weighted mean, blended with momentum (std fixed)
// and the blended mean is clamped into [lo, hi].
// With P >= threads each thread runs whole problems (no synchronisation at all); with fewer
// problems than threads the candidate tiles of each iteration are spread over the threads.
#ifndef WMK_ISA
#include "adam_update.h"
#include "cpu/cpu_common.h"
#include "ops.h"

#define WMK_TARGET_INCLUDE "sampling_cpu.cpp"
namespace wmk {
namespace cpu {
struct SamplingSettings {
  int64_t samples, elites, iters;  // elites == 0: MPPI
  double momentum, temperature;
  uint32_t seed;
};
#include "cpu/foreach_isa.h"
}  // namespace cpu

namespace {
Triple sampling_plan(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& mean, const at::Tensor& std,
                     WMK_MODEL_ARGS, WMK_OBJ_ARGS, const cpu::SamplingSettings& s) {
  check_float_dtype(mean, "mean");
  TORCH_CHECK(mean.device().is_cpu(), "the cpp backend runs on CPU tensors");
  const at::Tensor skip = skip_tensor(skip_arg, mean);
  const auto da = check_model(weights, biases, skip, activation, mean);
  check_problem(z0, goal, mean, 0, step_weights, state_weights, da.first, da.second, mean);
  check_tensor(std, "std", 3, mean);
  TORCH_CHECK(std.sizes() == mean.sizes(), "std must have the shape of mean");
  check_bounds(lo, hi, da.second, mean);
  TORCH_CHECK(s.samples >= 1 && s.iters >= 1, "samples and iters must be >= 1");
  TORCH_CHECK(s.elites <= s.samples, "elites must be <= samples");
  const int64_t P = mean.size(0), T_ = mean.size(1), A = mean.size(2);
  at::Tensor mean_out = mean.clone();
  at::Tensor std_work = std.clone();
  at::Tensor cost_out = cpu::new_output({P}, mean.options());
  at::Tensor history = cpu::new_output({P, s.iters}, mean.options());
  if (P == 0) return {mean_out, cost_out, history};
  AT_DISPATCH_FLOATING_TYPES(mean.scalar_type(), "wmkernels::sampling_plan", [&] {
    using T = scalar_t;
    const cpu::Net<T> net = cpu::pack_model<T>(weights, biases, skip, activation, false);
    const cpu::Obj<T> obj = cpu::make_obj<T>(step_weights, state_weights, action_penalty, lo, hi);
    cpu::ScratchPool<T> pool(net, T_, s.samples, mean.options());
    const int threads = std::max(1, at::get_num_threads());
    const bool outer = P >= threads || threads == 1;
    const int64_t slots = outer ? threads : 1;
    // Per-problem workspace: candidates [S, T, A], costs and weights [2, S] (double), elite order [S].
    at::Tensor cand = cpu::new_output({slots, s.samples, T_, A}, mean.options());
    at::Tensor costs = cpu::new_output({slots, 2, s.samples}, mean.options().dtype(at::kDouble));
    at::Tensor eps = cpu::new_output({threads, T_ * A}, mean.options().dtype(at::kFloat));  // per thread
    std::vector<std::vector<int64_t>> order(slots, std::vector<int64_t>(s.samples));
    WMK_ISA_CALL(T, sampling_problems, net, obj, pool, s, z0.data_ptr<T>(), goal.data_ptr<T>(), P,
                 static_cast<int>(T_), mean_out.data_ptr<T>(), std_work.data_ptr<T>(), cost_out.data_ptr<T>(),
                 history.data_ptr<T>(), cand.data_ptr<T>(), costs.data_ptr<double>(), eps.data_ptr<float>(), order,
                 outer);
  });
  return {mean_out, cost_out, history};
}
}  // namespace

Triple cem_plan_cpu(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& mean, const at::Tensor& std,
                    WMK_MODEL_ARGS, WMK_OBJ_ARGS, int64_t samples, int64_t elites, int64_t iters, double momentum,
                    int64_t seed) {
  TORCH_CHECK(elites >= 1, "elites must be >= 1");
  const cpu::SamplingSettings s{samples, elites, iters, momentum, 1.0, check_seed(seed)};
  return sampling_plan(z0, goal, mean, std, weights, biases, skip_arg, activation, step_weights, state_weights,
                       action_penalty, lo, hi, s);
}

Triple mppi_plan_cpu(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& mean, const at::Tensor& std,
                     WMK_MODEL_ARGS, WMK_OBJ_ARGS, int64_t samples, int64_t iters, double temperature,
                     double momentum, int64_t seed) {
  TORCH_CHECK(temperature > 0, "temperature must be > 0");
  const cpu::SamplingSettings s{samples, 0, iters, momentum, temperature, check_seed(seed)};
  return sampling_plan(z0, goal, mean, std, weights, biases, skip_arg, activation, step_weights, state_weights,
                       action_penalty, lo, hi, s);
}

// counters [M, 4] int64 (i, n, p, step) -> words [M, 4] int64 (uint32 values).
at::Tensor philox_words_cpu(const at::Tensor& counters, int64_t seed, int64_t stream) {
  TORCH_CHECK(counters.dim() == 2 && counters.size(1) == 4 && counters.scalar_type() == at::kLong,
              "counters must be an int64 [M, 4] tensor");
  const at::Tensor c = counters.contiguous();
  at::Tensor out = at::empty_like(c);
  const int64_t* src = c.data_ptr<int64_t>();
  int64_t* dst = out.data_ptr<int64_t>();
  const uint32_t k0 = check_seed(seed), k1 = static_cast<uint32_t>(stream);
  for (int64_t r = 0; r < c.size(0); ++r) {
    const PhiloxOut w = philox4x32(uint32_t(src[4 * r]), uint32_t(src[4 * r + 1]), uint32_t(src[4 * r + 2]),
                                   uint32_t(src[4 * r + 3]), k0, k1);
    dst[4 * r] = w.x0;
    dst[4 * r + 1] = w.x1;
    dst[4 * r + 2] = w.x2;
    dst[4 * r + 3] = w.x3;
  }
  return out;
}

// counters [M, 4] int64 (i, n, p, step) -> float32 normals [M].
at::Tensor philox_normal_cpu(const at::Tensor& counters, int64_t seed, int64_t stream) {
  TORCH_CHECK(counters.dim() == 2 && counters.size(1) == 4 && counters.scalar_type() == at::kLong,
              "counters must be an int64 [M, 4] tensor");
  const at::Tensor c = counters.contiguous();
  at::Tensor out = cpu::new_output({c.size(0)}, c.options().dtype(at::kFloat));
  const int64_t* src = c.data_ptr<int64_t>();
  float* dst = out.data_ptr<float>();
  const uint32_t k0 = check_seed(seed), k1 = static_cast<uint32_t>(stream);
  for (int64_t r = 0; r < c.size(0); ++r)
    dst[r] = philox_normal(k0, k1, uint32_t(src[4 * r + 3]), uint32_t(src[4 * r + 2]), uint32_t(src[4 * r + 1]),
                           uint32_t(src[4 * r]));
  return out;
}

}  // namespace wmk

#else  // ---- per instruction set --------------------------------------------------------
namespace WMK_ISA {
#include "cpu/mlp_tile.h"

// Standard normals for i = 0..count-1 of one (seed, stream, step, p, n), equal to
// philox_normal(...): the Philox rounds run over a block of counters at a time so that the
// compiler vectorises them (32x32->64 multiplies); Box-Muller (log, cos) stays scalar.
inline void normal_row(uint32_t seed, uint32_t stream, uint32_t step, uint32_t p, uint32_t n, int count,
                       float* out) {
  constexpr int B = 64;
  uint32_t w0[B], w1[B];
  for (int i0 = 0; i0 < count; i0 += B) {
    for (int j = 0; j < B; ++j) {
      uint32_t c0 = static_cast<uint32_t>(i0 + j), c1 = n, c2 = p, c3 = step, k0 = seed, k1 = stream;
#pragma GCC unroll 10
      for (int r = 0; r < kPhiloxRounds; ++r) {
        const uint64_t pb = uint64_t(c2) * kPhiloxRoundB, pa = uint64_t(c0) * kPhiloxRoundA;
        const uint32_t n0 = static_cast<uint32_t>(pb >> 32) ^ c1 ^ k0;
        const uint32_t n2 = static_cast<uint32_t>(pa >> 32) ^ c3 ^ k1;
        c1 = static_cast<uint32_t>(pb);
        c3 = static_cast<uint32_t>(pa);
        c0 = n0;
        c2 = n2;
        k0 += kPhiloxKeyA;
        k1 += kPhiloxKeyB;
      }
      w0[j] = c0;
      w1[j] = c1;
    }
    const int m = std::min(B, count - i0);
    for (int j = 0; j < m; ++j) out[i0 + j] = box_muller(w0[j], w1[j]);
  }
}

// Costs of S candidate rows [S, T, A] of one problem into costs[S]; fill(row0, rows) writes a
// tile's candidate rows first (on the thread that rolls them out). Tiles spread over the threads
// when `parallel`, else run on the calling thread.
template <typename T, typename Fill>
inline void evaluate(const Net<T>& net, const Obj<T>& obj, ScratchPool<T>& pool, const T* z0p, const T* goalp,
                     const T* cand, int64_t S, int T_, double* costs, bool parallel, const Fill& fill) {
  auto run = [&](int64_t begin, int64_t end) {
    TileScratch<T>& sc = pool.mine();
    for_each_tile(begin, end, [&](int64_t row0, int rows) {
      fill(row0, rows);
      // z0p/goalp are the problem's rows: N = S maps every candidate row to "problem" 0.
      tile_load<T>(rows, net, sc, z0p, goalp, cand, row0, S, T_);
      tile_forward<T>(rows, net, obj, sc, T_, false);
      for (int c = 0; c < rows; ++c) costs[row0 + c] = sc.cost[c];
    });
  };
  if (parallel) at::parallel_for(0, S, 1, run);
  else run(0, S);
}

template <typename T>
void sampling_problems(const Net<T>& net, const Obj<T>& obj, ScratchPool<T>& pool, const SamplingSettings& s,
                       const T* z0, const T* goal, int64_t P, int T_, T* mean, T* stdv, T* cost_out, T* history,
                       T* cand_all, double* costs_all, float* eps_all, std::vector<std::vector<int64_t>>& order_all,
                       bool outer) {
  check_panels(net);
  const int A = net.A, D = net.D, TA = T_ * A;
  const int64_t S = s.samples;
  const T mom = T(s.momentum), keep = T(1.0 - s.momentum);
  auto problem = [&](int64_t p, int64_t slot, bool inner_parallel) {
    T* cand = cand_all + slot * S * TA;
    double* costs = costs_all + slot * 2 * S;
    double* weights = costs + S;
    std::vector<int64_t>& order = order_all[slot];
    T* mu = mean + p * TA;
    T* sd = stdv + p * TA;
    const T* zp = z0 + p * D;
    const T* gp = goal + p * D;
    for (int64_t k = 0; k < s.iters; ++k) {
      auto draw = [&](int64_t row0, int rows) {
        float* eps = eps_all + at::get_thread_num() * TA;
        for (int64_t n = row0; n < row0 + rows; ++n) {
          T* row = cand + n * TA;
          if (n == 0) {
            std::fill(eps, eps + TA, 0.f);
          } else {
            normal_row(s.seed, kStreamSample, uint32_t(k), uint32_t(p), uint32_t(n), TA, eps);
          }
          for (int i = 0; i < TA; ++i)
            row[i] = clamp_bounds<T>(mu[i] + sd[i] * static_cast<T>(eps[i]), obj.lo[i % A], obj.hi[i % A]);
        }
      };
      evaluate<T>(net, obj, pool, zp, gp, cand, S, T_, costs, inner_parallel, draw);
      if (s.elites > 0) {  // CEM
        const int64_t E = s.elites;
        for (int64_t n = 0; n < S; ++n) order[n] = n;
        auto less = [costs](int64_t a, int64_t b) { return costs[a] < costs[b] || (costs[a] == costs[b] && a < b); };
        if (E < S) std::nth_element(order.begin(), order.begin() + (E - 1), order.end(), less);
        double elite_cost = 0;
        for (int64_t e = 0; e < E; ++e) elite_cost += costs[order[e]];
        history[p * s.iters + k] = static_cast<T>(elite_cost / double(E));
        for (int i = 0; i < TA; ++i) {
          double sum = 0;
          for (int64_t e = 0; e < E; ++e) sum += double(cand[order[e] * TA + i]);
          const double em = sum / double(E);
          double var = 0;
          for (int64_t e = 0; e < E; ++e) {
            const double d = double(cand[order[e] * TA + i]) - em;
            var += d * d;
          }
          mu[i] = clamp_bounds<T>(mom * mu[i] + keep * static_cast<T>(em), obj.lo[i % A], obj.hi[i % A]);
          sd[i] = mom * sd[i] + keep * static_cast<T>(std::sqrt(var / double(E)));
        }
      } else {  // MPPI
        double lowest = costs[0];
        for (int64_t n = 1; n < S; ++n) lowest = std::min(lowest, costs[n]);
        double total = 0;
        for (int64_t n = 0; n < S; ++n) {
          weights[n] = std::exp(-(costs[n] - lowest) / s.temperature);
          total += weights[n];
        }
        double hist = 0;
        for (int64_t n = 0; n < S; ++n) hist += weights[n] / total * costs[n];
        history[p * s.iters + k] = static_cast<T>(hist);
        for (int i = 0; i < TA; ++i) {
          double acc = 0;
          for (int64_t n = 0; n < S; ++n) acc += weights[n] * double(cand[n * TA + i]);
          mu[i] = clamp_bounds<T>(mom * mu[i] + keep * static_cast<T>(acc / total), obj.lo[i % A], obj.hi[i % A]);
        }
      }
    }
    // Cost of the returned mean.
    T* row = cand;
    std::memcpy(row, mu, sizeof(T) * TA);
    evaluate<T>(net, obj, pool, zp, gp, row, 1, T_, costs, false, [](int64_t, int) {});
    cost_out[p] = static_cast<T>(costs[0]);
  };
  if (outer) {
    at::parallel_for(0, P, 1, [&](int64_t begin, int64_t end) {
      const int slot = at::get_thread_num();
      for (int64_t p = begin; p < end; ++p) problem(p, slot, false);
    });
  } else {
    for (int64_t p = 0; p < P; ++p) problem(p, 0, true);
  }
}

}  // namespace WMK_ISA
#endif
