// CPU adam_step: one projected Adam step in place on actions [..., A] (and m, v).
#include "adam_update.h"
#include "cpu/cpu_common.h"
#include "ops.h"

namespace wmk {

void adam_step_cpu(const at::Tensor& actions, const at::Tensor& grad, const at::Tensor& m, const at::Tensor& v,
                   int64_t step, double lr, double beta1, double beta2, double eps, const at::Tensor& lo,
                   const at::Tensor& hi, const c10::optional<at::Tensor>& noise) {
  check_float_dtype(actions, "actions");
  TORCH_CHECK(actions.device().is_cpu(), "the cpp backend runs on CPU tensors");
  TORCH_CHECK(actions.dim() >= 1, "actions must have at least one dimension");
  TORCH_CHECK(step >= 1, "step must be >= 1");
  const int64_t A = actions.size(-1);
  for (const at::Tensor* t : {&grad, &m, &v}) {
    check_tensor(*t, "grad/m/v", actions.dim(), actions);
    TORCH_CHECK(t->sizes() == actions.sizes(), "grad, m and v must have the shape of actions");
  }
  TORCH_CHECK(actions.is_contiguous(), "actions must be contiguous");
  check_bounds(lo, hi, A, actions);
  const bool has_noise = noise.has_value() && noise->defined();
  if (has_noise) {
    check_tensor(*noise, "noise", actions.dim(), actions);
    TORCH_CHECK(noise->sizes() == actions.sizes(), "noise must have the shape of actions");
  }
  const int64_t numel = actions.numel();
  AT_DISPATCH_FLOATING_TYPES(actions.scalar_type(), "wmkernels::adam_step", [&] {
    using T = scalar_t;
    const AdamConsts<T> c = adam_consts<T>(lr, beta1, beta2, eps, step);
    T* a = actions.data_ptr<T>();
    T* mp = m.data_ptr<T>();
    T* vp = v.data_ptr<T>();
    const T* g = grad.data_ptr<T>();
    const T* nz = has_noise ? noise->data_ptr<T>() : nullptr;
    const T* lop = lo.data_ptr<T>();
    const T* hip = hi.data_ptr<T>();
    at::parallel_for(0, numel, 16384, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        T x = adam_update<T>(a[i], g[i], mp[i], vp[i], c);
        if (nz) x += nz[i];
        const int64_t j = i % A;
        a[i] = clamp_bounds<T>(x, lop[j], hip[j]);
      }
    });
  });
}

}  // namespace wmk
