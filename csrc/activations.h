// The activation ids every C++ and CUDA kernel switches on: position in
// wmkernels.activations.NAMES (tests/test_activations.py pins both tables together).
// Their formulas are in activation_math.h.
#pragma once

namespace wmk {

enum Activation : int { kRelu = 0, kSilu = 1, kGelu = 2, kTanh = 3, kElu = 4, kNumActivations = 5 };

}  // namespace wmk
