// Input checks shared by the CPU and CUDA ops. The Python wrappers (wmkernels/ops/*/cpp.py)
// already validate user input with readable messages; these checks guard the C++ entry
// points against direct torch.ops.wmkernels.* calls with malformed arguments.
#pragma once
#include <ATen/ATen.h>

#include <string>

#include "activations.h"

namespace wmk {

constexpr int kMaxHiddenLayers = 4;

inline void check_tensor(const at::Tensor& t, const std::string& name, int64_t ndim, const at::Tensor& like) {
  TORCH_CHECK(t.defined(), name, " is undefined");
  TORCH_CHECK(t.dim() == ndim, name, " must have ", ndim, " dimensions, got ", t.sizes());
  TORCH_CHECK(t.scalar_type() == like.scalar_type(), name, " has dtype ", t.scalar_type(),
              ", expected ", like.scalar_type());
  TORCH_CHECK(t.device() == like.device(), name, " is on ", t.device(), ", expected ", like.device());
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

inline void check_float_dtype(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, name,
              " must be float32 or float64 (the wrappers cast other dtypes), got ", t.scalar_type());
}

// Shapes of a model given as flat tensors: weights[l] [in_l, out_l], biases[l] [out_l],
// skip [D, D] or empty (identity). Returns (D, A).
inline std::pair<int64_t, int64_t> check_model(at::TensorList weights,
                                               at::TensorList biases,
                                               const at::Tensor& skip, int64_t activation,
                                               const at::Tensor& like) {
  const int64_t n = static_cast<int64_t>(weights.size());
  TORCH_CHECK(n >= 2 && n <= kMaxHiddenLayers + 1, "weights must hold 2 to ", kMaxHiddenLayers + 1,
              " matrices, got ", n);
  TORCH_CHECK(static_cast<int64_t>(biases.size()) == n, "biases must hold ", n, " vectors, got ", biases.size());
  TORCH_CHECK(activation >= 0 && activation < kNumActivations, "activation id must be in [0, ", kNumActivations - 1,
              "], got ", activation);
  for (int64_t l = 0; l < n; ++l) {
    check_tensor(weights[l], "weights[" + std::to_string(l) + "]", 2, like);
    check_tensor(biases[l], "biases[" + std::to_string(l) + "]", 1, like);
    TORCH_CHECK(biases[l].size(0) == weights[l].size(1), "biases[", l, "] must have ", weights[l].size(1), " entries");
    if (l > 0) {
      TORCH_CHECK(weights[l].size(0) == weights[l - 1].size(1), "weights[", l, "] must have ",
                  weights[l - 1].size(1), " rows");
    }
  }
  const int64_t D = weights[n - 1].size(1);
  const int64_t A = weights[0].size(0) - D;
  TORCH_CHECK(A >= 1, "weights[0] must be [D + A, H_1] with A >= 1");
  if (skip.numel() > 0) {
    check_tensor(skip, "skip", 2, like);
    TORCH_CHECK(skip.size(0) == D && skip.size(1) == D, "skip must be [", D, ", ", D, "], got ", skip.sizes());
  }
  return {D, A};
}

// z0, goal [P, D]; a plan tensor [P, (N,) T, A]; step weights [T]; state weights [D].
inline void check_problem(const at::Tensor& z0, const at::Tensor& goal, const at::Tensor& plan, int64_t lead,
                          const at::Tensor& step_weights, const at::Tensor& state_weights, int64_t D,
                          int64_t A, const at::Tensor& like) {
  check_tensor(z0, "z0", 2, like);
  check_tensor(goal, "goal", 2, like);
  check_tensor(plan, "actions", 3 + lead, like);
  const int64_t P = z0.size(0);
  TORCH_CHECK(z0.size(1) == D, "z0 must be [P, ", D, "], got ", z0.sizes());
  TORCH_CHECK(goal.size(0) == P && goal.size(1) == D, "goal must be [", P, ", ", D, "], got ", goal.sizes());
  TORCH_CHECK(plan.size(0) == P && plan.size(-1) == A, "actions must be [", P, ", ..., ", A, "], got ", plan.sizes());
  const int64_t T = plan.size(-2);
  TORCH_CHECK(T >= 1, "the horizon must be >= 1");
  check_tensor(step_weights, "step_weights", 1, like);
  check_tensor(state_weights, "state_weights", 1, like);
  TORCH_CHECK(step_weights.size(0) == T, "step_weights must have ", T, " entries");
  TORCH_CHECK(state_weights.size(0) == D, "state_weights must have ", D, " entries");
}

inline void check_bounds(const at::Tensor& lo, const at::Tensor& hi, int64_t A, const at::Tensor& like) {
  check_tensor(lo, "lo", 1, like);
  check_tensor(hi, "hi", 1, like);
  TORCH_CHECK(lo.size(0) == A && hi.size(0) == A, "lo and hi must have ", A, " entries");
}

inline uint32_t check_seed(int64_t seed) {
  TORCH_CHECK(seed >= 0 && seed <= 0xFFFFFFFFLL, "seed must be in [0, 2**32), got ", seed);
  return static_cast<uint32_t>(seed);
}

}  // namespace wmk
