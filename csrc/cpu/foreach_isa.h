// Compiles WMK_TARGET_INCLUDE once per instruction set, each pass inside its own
// namespace wmk::cpu::<isa> with the matching target options, so one binary carries
// AVX-512, AVX2+FMA and baseline code and picks at run time (cpu_common.h detect_isa).
// No -march flag is needed: the wheel runs on any x86-64 (and any aarch64: base only).
// Each pass defines WMK_ISA (namespace), WMK_VEC_BYTES (vector width) and WMK_TILE
// (candidates per register tile, chosen so the accumulators fit the register file).
#if WMK_CPU_MULTI_ISA
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,bmi2")
#define WMK_ISA avx512
#define WMK_VEC_BYTES 64
#define WMK_TILE 8
#include WMK_TARGET_INCLUDE
#undef WMK_ISA
#undef WMK_VEC_BYTES
#undef WMK_TILE
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi2")
#define WMK_ISA avx2
#define WMK_VEC_BYTES 32
#define WMK_TILE 6
#include WMK_TARGET_INCLUDE
#undef WMK_ISA
#undef WMK_VEC_BYTES
#undef WMK_TILE
#pragma GCC pop_options
#endif

#define WMK_ISA base
#define WMK_VEC_BYTES 16
#define WMK_TILE 6
#include WMK_TARGET_INCLUDE
#undef WMK_ISA
#undef WMK_VEC_BYTES
#undef WMK_TILE
