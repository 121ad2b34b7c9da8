// The CPU kernels' matrix product over packed weight panels, compiled once per instruction set
// (see foreach_isa.h): included inside namespace wmk::cpu::WMK_ISA with WMK_VEC_BYTES and
// WMK_TILE defined. No include guard on purpose. Nothing here allocates.
//
//   out[c, :N] = (out[c, :N] if accumulate, else bias or 0) + in[c, :K] @ M[:K, :N]
//
// for the `rows` candidate rows of a tile. M comes packed by pack_panels (cpu_common.h) in
// column panels of kPanel = two vectors: panel p holds columns [p kPanel, (p + 1) kPanel) as
// K contiguous rows, so the micro-kernel streams it with unit stride (no cache-set conflicts
// whatever the layer width, and the hardware prefetcher follows it).
//
// Blocking: K is cut into balanced blocks of at most kBlockK rows, so that a panel's block
// stays in L1 (or L2 on small L1s) while every register tile of the rows reuses it; column
// panels within a K block; register tiles of at most WMK_TILE rows (balanced sizes) by one
// panel, whose accumulators stay in registers across the K block.
// Each K block's products are summed from zero and then added to the output (blocked
// summation: the rounding error grows with kBlockK + K / kBlockK rather than with K).
namespace {

template <typename T>
struct VecOf {
  typedef T type __attribute__((vector_size(WMK_VEC_BYTES), may_alias));
};

template <typename T>
inline typename VecOf<T>::type vload(const T* p) {
  return *reinterpret_cast<const typename VecOf<T>::type*>(p);
}
template <typename T>
inline void vstore(T* p, typename VecOf<T>::type v) {
  *reinterpret_cast<typename VecOf<T>::type*>(p) = v;
}

template <typename T>
constexpr int kVecLen = WMK_VEC_BYTES / static_cast<int>(sizeof(T));
template <typename T>
constexpr int kPanel = 2 * kVecLen<T>;  // must equal panel_width<T>() for this instruction set
constexpr int kBlockK = 256;  // a panel block: 16 KB (AVX2), 32 KB (AVX-512), 8 KB (baseline)

// The model must be packed for this instruction set (pack_model and WMK_ISA_CALL agree).
template <typename T>
inline void check_panels(const Net<T>& net) {
  TORCH_CHECK(net.nr == kPanel<T>, "wmkernels: weights packed in panels of ", net.nr,
              " columns for kernels that read ", kPanel<T>);
}

// One register tile: R rows by NV vectors of one panel, over the K block [k0, k1):
//   out[c, j] = add[c, j] + sum_{k0 <= k < k1} in[c, k] P[k, j]
// where `add` is the output itself (add_ld = ldout), the bias (add_ld = 0) or null (zero).
// `panel` points at the panel's row 0 (rows NV vectors wide); `out` at the panel's column 0.
template <typename T, int R, int NV>
inline void panel_tile(const T* __restrict in, int64_t ldin, int k0, int k1, const T* __restrict panel,
                       const T* add, int64_t add_ld, T* out, int64_t ldout) {
  typedef typename VecOf<T>::type vec;
  constexpr int VL = kVecLen<T>;
  vec acc[R][NV];
  for (int c = 0; c < R; ++c)
    for (int v = 0; v < NV; ++v) acc[c][v] = vec{};
  const T* p = panel + int64_t(k0) * NV * VL;
  const T* a = in + k0;
  for (int k = k0; k < k1; ++k, p += NV * VL, ++a) {
    vec w[NV];
    for (int v = 0; v < NV; ++v) w[v] = vload(p + v * VL);
#pragma GCC unroll 16
    for (int c = 0; c < R; ++c) {
      const T s = a[c * ldin];
      for (int v = 0; v < NV; ++v) acc[c][v] += s * w[v];
    }
  }
  for (int c = 0; c < R; ++c)
    for (int v = 0; v < NV; ++v) {
      const vec base = add != nullptr ? vload(add + c * add_ld + v * VL) : vec{};
      vstore(out + c * ldout + v * VL, base + acc[c][v]);
    }
}

template <typename T, int NV>
inline void panel_tile_rows(int r, const T* in, int64_t ldin, int k0, int k1, const T* panel, const T* add,
                            int64_t add_ld, T* out, int64_t ldout) {
#define WMK_PANEL_CASE(n) \
  case n: panel_tile<T, (n <= WMK_TILE ? n : 1), NV>(in, ldin, k0, k1, panel, add, add_ld, out, ldout); break;
  switch (r) {
    WMK_PANEL_CASE(1) WMK_PANEL_CASE(2) WMK_PANEL_CASE(3) WMK_PANEL_CASE(4)
    WMK_PANEL_CASE(5) WMK_PANEL_CASE(6) WMK_PANEL_CASE(7) WMK_PANEL_CASE(8)
    default: break;
  }
#undef WMK_PANEL_CASE
}

// out[c, :N] = (out[c, :N] if accumulate, else bias (null: 0)) + in[c, kb:ke] @ M[kb:ke] for
// c < rows: rows [kb, ke) of M [K, N], packed by pack_panels (`in` is indexed by the same k).
// out (and bias) must hold whole panels (padded rows).
template <typename T>
inline void panel_gemm_range(int rows, const T* __restrict in, int64_t ldin, int kb, int ke, int K,
                             const T* __restrict panels, const T* __restrict bias, int N, T* __restrict out,
                             int64_t ldout, bool accumulate) {
  constexpr int NR = kPanel<T>, VL = kVecLen<T>, KC = kBlockK;
  const int subtiles = (rows + WMK_TILE - 1) / WMK_TILE;
  const int npanels = (N + NR - 1) / NR;
  const int kblocks = (ke - kb + KC - 1) / KC;  // balanced: 518 = 259 + 259, not 256 + 256 + 6
  for (int b = 0; b < kblocks; ++b) {
    const int k0 = kb + int(int64_t(ke - kb) * b / kblocks), k1 = kb + int(int64_t(ke - kb) * (b + 1) / kblocks);
    for (int p = 0; p < npanels; ++p) {
      const T* panel = panels + int64_t(p) * K * NR;
      const bool two = N - p * NR > VL;
      for (int s = 0; s < subtiles; ++s) {
        const int r0 = rows * s / subtiles, r1 = rows * (s + 1) / subtiles;
        T* o = out + r0 * ldout + p * NR;
        const bool onto_out = b > 0 || accumulate;
        const T* add = onto_out ? o : (bias != nullptr ? bias + p * NR : nullptr);
        const int64_t add_ld = onto_out ? ldout : 0;
        if (two)
          panel_tile_rows<T, 2>(r1 - r0, in + r0 * ldin, ldin, k0, k1, panel, add, add_ld, o, ldout);
        else
          panel_tile_rows<T, 1>(r1 - r0, in + r0 * ldin, ldin, k0, k1, panel, add, add_ld, o, ldout);
      }
    }
  }
}

// panel_gemm_range over all K rows of M.
template <typename T>
inline void panel_gemm(int rows, const T* in, int64_t ldin, int K, const T* panels, const T* bias, int N, T* out,
                       int64_t ldout, bool accumulate) {
  panel_gemm_range<T>(rows, in, ldin, 0, K, K, panels, bias, N, out, ldout, accumulate);
}

}  // namespace
