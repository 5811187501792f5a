// AVX-512 kernels (F, BW, VL, DQ, VNNI; F16C and FMA): 16 fp32 lanes, masked tails, and
// int8 dot products with vpdpbusd. Compiled with those -m flags; called only when the CPU has them.
#include "kernels/isa.h"

#include <immintrin.h>

namespace qcw::kernels::avx512 {

namespace {

// How far ahead of its loads each weight row is prefetched (4-bit rows twice as far): 2.3x the
// q8 and 1.3x the f16 decode throughput from memory on the development VM with 2 threads.
// A prefetch past the row's end is harmless (a hint, never a fault).
constexpr int kPrefetchBytes = 512;

template <Format F>
inline __m512 load16(const void* base, std::int64_t off) {
    if constexpr (F == Format::F32) {
        return _mm512_loadu_ps(static_cast<const float*>(base) + off);
    } else if constexpr (F == Format::F16) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const std::uint16_t*>(base) + off)));
    } else {
        const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const std::uint16_t*>(base) + off));
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
}

template <Format F>
inline __m512 load16Masked(const void* base, std::int64_t off, __mmask16 m) {
    if constexpr (F == Format::F32) {
        return _mm512_maskz_loadu_ps(m, static_cast<const float*>(base) + off);
    } else if constexpr (F == Format::F16) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const std::uint16_t*>(base) + off));
    } else {
        const __m256i h = _mm256_maskz_loadu_epi16(m, static_cast<const std::uint16_t*>(base) + off);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
}

template <Format F>
inline const void* rowPtr(const WeightView& w, std::int64_t r) {
    if constexpr (F == Format::F32) return static_cast<const float*>(w.data) + r * w.ld;
    else return static_cast<const std::uint16_t*>(w.data) + r * w.ld;
}

// RX input rows against RW weight rows: RX x RW dot products of length cols.
template <Format F, int RX, int RW>
inline void tile(const float* x, std::int64_t ldx, const WeightView& w, std::int64_t r, float* y, std::int64_t ldy) {
    __m512 acc[RX][RW];
    for (int i = 0; i < RX; ++i)
        for (int j = 0; j < RW; ++j) acc[i][j] = _mm512_setzero_ps();
    const void* wr[RW];
    for (int j = 0; j < RW; ++j) wr[j] = rowPtr<F>(w, r + j);
    const std::int64_t cols = w.cols, full = cols & ~std::int64_t(15);
    for (std::int64_t k = 0; k < full; k += 16) {
        __m512 wv[RW];
        for (int j = 0; j < RW; ++j) wv[j] = load16<F>(wr[j], k);
        for (int i = 0; i < RX; ++i) {
            const __m512 xv = _mm512_loadu_ps(x + i * ldx + k);
            for (int j = 0; j < RW; ++j) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    if (full < cols) {
        const __mmask16 m = static_cast<__mmask16>((1u << (cols - full)) - 1u);
        __m512 wv[RW];
        for (int j = 0; j < RW; ++j) wv[j] = load16Masked<F>(wr[j], full, m);
        for (int i = 0; i < RX; ++i) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, x + i * ldx + full);
            for (int j = 0; j < RW; ++j) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < RX; ++i)
        for (int j = 0; j < RW; ++j) y[i * ldy + r + j] = _mm512_reduce_add_ps(acc[i][j]);
}

// One input row (decode) against 4 weight rows, two 16-wide steps per iteration with their own
// accumulators: measured 1.4x the single-step loop on Zen 4 (the conversions and FMAs of the
// two steps overlap).
template <Format F>
inline void decodeTile4(const float* x, const WeightView& w, std::int64_t r, float* y) {
    __m512 a0[4], a1[4];
    for (int j = 0; j < 4; ++j) a0[j] = a1[j] = _mm512_setzero_ps();
    const void* wr[4];
    for (int j = 0; j < 4; ++j) wr[j] = rowPtr<F>(w, r + j);
    const std::int64_t cols = w.cols, full2 = cols & ~std::int64_t(31), full = cols & ~std::int64_t(15);
    std::int64_t k = 0;
    for (; k < full2; k += 32) {
        const __m512 x0 = _mm512_loadu_ps(x + k), x1 = _mm512_loadu_ps(x + k + 16);
        for (int j = 0; j < 4; ++j) {
            _mm_prefetch(static_cast<const char*>(wr[j]) + k * (F == Format::F32 ? 4 : 2) + kPrefetchBytes, _MM_HINT_T0);
            a0[j] = _mm512_fmadd_ps(x0, load16<F>(wr[j], k), a0[j]);
            a1[j] = _mm512_fmadd_ps(x1, load16<F>(wr[j], k + 16), a1[j]);
        }
    }
    for (; k < full; k += 16) {
        const __m512 x0 = _mm512_loadu_ps(x + k);
        for (int j = 0; j < 4; ++j) a0[j] = _mm512_fmadd_ps(x0, load16<F>(wr[j], k), a0[j]);
    }
    if (full < cols) {
        const __mmask16 m = static_cast<__mmask16>((1u << (cols - full)) - 1u);
        const __m512 x0 = _mm512_maskz_loadu_ps(m, x + full);
        for (int j = 0; j < 4; ++j) a1[j] = _mm512_fmadd_ps(x0, load16Masked<F>(wr[j], full, m), a1[j]);
    }
    for (int j = 0; j < 4; ++j) y[r + j] = _mm512_reduce_add_ps(_mm512_add_ps(a0[j], a1[j]));
}

template <Format F, int RX>
inline void rowsFor(const float* x, std::int64_t ldx, const WeightView& w, std::int64_t r0, std::int64_t r1, float* y,
                    std::int64_t ldy) {
    std::int64_t r = r0;
    if constexpr (RX == 1)
        for (; r + 4 <= r1; r += 4) decodeTile4<F>(x, w, r, y);
    for (; r + 4 <= r1; r += 4) tile<F, RX, 4>(x, ldx, w, r, y, ldy);
    for (; r < r1; ++r) tile<F, RX, 1>(x, ldx, w, r, y, ldy);
}

template <Format F>
void floatRowsT(const float* x, std::int64_t n, std::int64_t ldx, const WeightView& w, std::int64_t r0, std::int64_t r1,
                float* y, std::int64_t ldy) {
    // Weight rows in groups small enough to stay in L1/L2 while every input row passes them.
    const std::int64_t group = n <= 4 ? (r1 - r0) : 16;
    for (std::int64_t g0 = r0; g0 < r1; g0 += group) {
        const std::int64_t g1 = std::min(r1, g0 + group);
        std::int64_t i = 0;
        for (; i + 4 <= n; i += 4) rowsFor<F, 4>(x + i * ldx, ldx, w, g0, g1, y + i * ldy, ldy);
        for (; i < n; ++i) rowsFor<F, 1>(x + i * ldx, ldx, w, g0, g1, y + i * ldy, ldy);
    }
}

// Two blocks (64 values) at a time in 512-bit registers. Activations are shared by the RW
// rows of a tile: |x| and x's sign mask (Q8), or 8 x the block sums of x (Q4, whose unsigned
// nibbles meet the signed activations in vpdpbusd directly: sum (q - 8) x = sum q x - 8 sum x).
// [s(r, b) x 8 | s(r, b + 1) x 8]: the block scales of a row are adjacent (one 8-byte load).
inline __m512 pairScale(const WeightView& w, std::int64_t r, std::int64_t b, bool single) {
    static const __m512i spread = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const float* p = w.scales + r * w.scaleRowStride + b;
    const __m128 two = single ? _mm_load_ss(p) : _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(p)));
    return _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(two));
}

inline __m512i loadQ4Pair(const std::uint8_t* p, bool single) {
    // Bytes 0-15 are block b, 16-31 block b + 1; each byte holds element j (low nibble) and
    // j + 16 (high nibble). Wanted: [b: lo, hi | b+1: lo, hi], as unsigned values 0-15.
    const __m256i raw = single ? _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))
                               : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i m = _mm256_set1_epi8(0x0f);
    const __m256i lo = _mm256_and_si256(raw, m), hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m);
    const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);  // [lo b, lo b+1, hi b, hi b+1]
    return _mm512_shuffle_i64x2(v, v, _MM_SHUFFLE(3, 1, 2, 0));
}

template <Format F, int RW>
inline void qtile(const QuantActs& a, std::int64_t i, const WeightView& w, std::int64_t r, float* y, std::int64_t ldy) {
    __m512 acc[RW];
    for (int j = 0; j < RW; ++j) acc[j] = _mm512_setzero_ps();
    const std::int64_t nb = w.blocksPerRow();
    const std::int8_t* xq = a.q + i * a.ldq;
    const float* xd = a.d + i * a.ldd;
    const bool perRow = w.scaleBlockStride == 0;  // int8 files: one scale per row, applied at the end
    for (std::int64_t b = 0; b < nb; b += 2) {
        const bool single = b + 1 == nb;
        const __mmask64 live = single ? __mmask64(0xffffffffull) : ~__mmask64(0);
        const __m512i xv = _mm512_maskz_loadu_epi8(live, xq + b * 32);
        const __m512 dx = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(xd[b])),
                                             _mm256_set1_ps(single ? 0.f : xd[b + 1]), 1);
        if constexpr (F == Format::Q8) {
            const __m512i ax = _mm512_abs_epi8(xv);
            const __mmask64 neg = _mm512_movepi8_mask(xv);
            for (int j = 0; j < RW; ++j) {
                _mm_prefetch(reinterpret_cast<const char*>(q8Block(w, r + j, b)) + kPrefetchBytes, _MM_HINT_T0);
                const __m512i wv = _mm512_maskz_loadu_epi8(live, q8Block(w, r + j, b));
                const __m512i sw = _mm512_mask_sub_epi8(wv, neg, _mm512_setzero_si512(), wv);  // w with x's sign
                const __m512 d = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ax, sw));
                acc[j] = perRow ? _mm512_fmadd_ps(d, dx, acc[j])
                                : _mm512_fmadd_ps(d, _mm512_mul_ps(dx, pairScale(w, r + j, b, single)), acc[j]);
            }
        } else {
            // -8 x (sum of the 4 activations feeding each int32 lane), the start of every row's sum.
            const __m512i corr = _mm512_sub_epi32(_mm512_setzero_si512(),
                                                  _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), xv));
            for (int j = 0; j < RW; ++j) {
                _mm_prefetch(reinterpret_cast<const char*>(q4Block(w, r + j, b)) + 2 * kPrefetchBytes, _MM_HINT_T0);
                const __m512i q = loadQ4Pair(q4Block(w, r + j, b), single);
                const __m512 d = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(corr, q, xv));
                acc[j] = perRow ? _mm512_fmadd_ps(d, dx, acc[j])
                                : _mm512_fmadd_ps(d, _mm512_mul_ps(dx, pairScale(w, r + j, b, single)), acc[j]);
            }
        }
    }
    for (int j = 0; j < RW; ++j) {
        const float s = _mm512_reduce_add_ps(acc[j]);
        y[i * ldy + r + j] = perRow ? s * w.scale(r + j, 0) : s;
    }
}

template <Format F>
void quantRowsT(const QuantActs& a, std::int64_t n, const WeightView& w, std::int64_t r0, std::int64_t r1, float* y,
                std::int64_t ldy) {
    for (std::int64_t i = 0; i < n; ++i) {
        std::int64_t r = r0;
        for (; r + 4 <= r1; r += 4) qtile<F, 4>(a, i, w, r, y, ldy);
        for (; r < r1; ++r) qtile<F, 1>(a, i, w, r, y, ldy);
    }
}

}  // namespace

void floatRows(const float* x, std::int64_t n, std::int64_t ldx, const WeightView& w, std::int64_t r0, std::int64_t r1,
               float* y, std::int64_t ldy) {
    switch (w.format) {
        case Format::F32: return floatRowsT<Format::F32>(x, n, ldx, w, r0, r1, y, ldy);
        case Format::F16: return floatRowsT<Format::F16>(x, n, ldx, w, r0, r1, y, ldy);
        case Format::BF16: return floatRowsT<Format::BF16>(x, n, ldx, w, r0, r1, y, ldy);
        default: return generic::floatRows(x, n, ldx, w, r0, r1, y, ldy);
    }
}

void quantRows(const QuantActs& a, std::int64_t n, const WeightView& w, std::int64_t r0, std::int64_t r1, float* y,
               std::int64_t ldy) {
    // Scales one per row (stride 0) or adjacent per block (stride 1, what pack() writes).
    if (w.scaleBlockStride > 1) return generic::quantRows(a, n, w, r0, r1, y, ldy);
    if (w.format == Format::Q8) return quantRowsT<Format::Q8>(a, n, w, r0, r1, y, ldy);
    return quantRowsT<Format::Q4>(a, n, w, r0, r1, y, ldy);
}

}  // namespace qcw::kernels::avx512
