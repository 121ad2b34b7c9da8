// Output allocation shared by the CPU and CUDA ops. With WMK_POISON=1 (tests) every floating
// output and scratch buffer starts as NaN: an element the kernels forget to write, or scratch
// they read before writing, then shows up as NaN.
#pragma once
#include <ATen/ATen.h>

#include <cstdlib>
#include <limits>

namespace wmk {

inline bool poison_enabled() {
  const char* env = std::getenv("WMK_POISON");
  return env != nullptr && env[0] == '1';
}

inline at::Tensor new_output(at::IntArrayRef sizes, const at::TensorOptions& opts) {
  at::Tensor t = at::empty(sizes, opts);
  if (poison_enabled() && t.is_floating_point()) t.fill_(std::numeric_limits<double>::quiet_NaN());
  return t;
}

}  // namespace wmk
