// AVX2 kernels (with FMA and F16C): 8 fp32 lanes, scalar tails, and int8 dot products through
// vpmaddubsw / vpmaddwd. Compiled with those -m flags; called only when the CPU has them.
#include "kernels/isa.h"

#include <immintrin.h>

namespace qcw::kernels::avx2 {

namespace {

template <Format F>
inline __m256 load8(const void* base, std::int64_t off) {
    if constexpr (F == Format::F32) {
        return _mm256_loadu_ps(static_cast<const float*>(base) + off);
    } else if constexpr (F == Format::F16) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const std::uint16_t*>(base) + off)));
    } else {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const std::uint16_t*>(base) + off));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
}

template <Format F>
inline float scalarAt(const void* base, std::int64_t off) {
    if constexpr (F == Format::F32) return static_cast<const float*>(base)[off];
    else if constexpr (F == Format::F16) return _cvtsh_ss(static_cast<const std::uint16_t*>(base)[off]);
    else return bf16ToFloat(static_cast<const std::uint16_t*>(base)[off]);
}

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

template <Format F>
inline const void* rowPtr(const WeightView& w, std::int64_t r) {
    if constexpr (F == Format::F32) return static_cast<const float*>(w.data) + r * w.ld;
    else return static_cast<const std::uint16_t*>(w.data) + r * w.ld;
}

template <Format F, int RX, int RW>
inline void tile(const float* x, std::int64_t ldx, const WeightView& w, std::int64_t r, float* y, std::int64_t ldy) {
    __m256 acc[RX][RW];
    for (int i = 0; i < RX; ++i)
        for (int j = 0; j < RW; ++j) acc[i][j] = _mm256_setzero_ps();
    const void* wr[RW];
    for (int j = 0; j < RW; ++j) wr[j] = rowPtr<F>(w, r + j);
    const std::int64_t cols = w.cols, full = cols & ~std::int64_t(7);
    for (std::int64_t k = 0; k < full; k += 8) {
        __m256 wv[RW];
        if ((k & 15) == 0)
            for (int j = 0; j < RW; ++j)
                _mm_prefetch(static_cast<const char*>(wr[j]) + k * (F == Format::F32 ? 4 : 2) + 512, _MM_HINT_T0);
        for (int j = 0; j < RW; ++j) wv[j] = load8<F>(wr[j], k);
        for (int i = 0; i < RX; ++i) {
            const __m256 xv = _mm256_loadu_ps(x + i * ldx + k);
            for (int j = 0; j < RW; ++j) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < RX; ++i)
        for (int j = 0; j < RW; ++j) {
            float s = hsum(acc[i][j]);
            for (std::int64_t k = full; k < cols; ++k) s += x[i * ldx + k] * scalarAt<F>(wr[j], k);
            y[i * ldy + r + j] = s;
        }
}

template <Format F, int RX>
inline void rowsFor(const float* x, std::int64_t ldx, const WeightView& w, std::int64_t r0, std::int64_t r1, float* y,
                    std::int64_t ldy) {
    std::int64_t r = r0;
    for (; r + 4 <= r1; r += 4) tile<F, RX, 4>(x, ldx, w, r, y, ldy);
    for (; r < r1; ++r) tile<F, RX, 1>(x, ldx, w, r, y, ldy);
}

template <Format F>
void floatRowsT(const float* x, std::int64_t n, std::int64_t ldx, const WeightView& w, std::int64_t r0, std::int64_t r1,
                float* y, std::int64_t ldy) {
    const std::int64_t group = n <= 2 ? (r1 - r0) : 16;
    for (std::int64_t g0 = r0; g0 < r1; g0 += group) {
        const std::int64_t g1 = std::min(r1, g0 + group);
        std::int64_t i = 0;
        for (; i + 2 <= n; i += 2) rowsFor<F, 2>(x + i * ldx, ldx, w, g0, g1, y + i * ldy, ldy);
        for (; i < n; ++i) rowsFor<F, 1>(x + i * ldx, ldx, w, g0, g1, y + i * ldy, ldy);
    }
}

inline __m256i dot32(__m256i xq, __m256i wq) {
    const __m256i ax = _mm256_sign_epi8(xq, xq);
    const __m256i sw = _mm256_sign_epi8(wq, xq);
    const __m256i s16 = _mm256_maddubs_epi16(ax, sw);  // at most 2 x 127 x 127: no saturation
    return _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
}

inline __m256i loadQ4(const std::uint8_t* p) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0f));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
    return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
}

template <Format F, int RW>
inline void qtile(const QuantActs& a, std::int64_t i, const WeightView& w, std::int64_t r, float* y, std::int64_t ldy) {
    __m256 acc[RW];
    for (int j = 0; j < RW; ++j) acc[j] = _mm256_setzero_ps();
    const std::int64_t nb = w.blocksPerRow();
    const std::int8_t* xq = a.q + i * a.ldq;
    const float* xd = a.d + i * a.ldd;
    for (std::int64_t b = 0; b < nb; ++b) {
        const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + b * 32));
        for (int j = 0; j < RW; ++j) {
            _mm_prefetch(F == Format::Q8 ? reinterpret_cast<const char*>(q8Block(w, r + j, b)) + 512
                                         : reinterpret_cast<const char*>(q4Block(w, r + j, b)) + 1024, _MM_HINT_T0);
            __m256i wv;
            if constexpr (F == Format::Q8) wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8Block(w, r + j, b)));
            else wv = loadQ4(q4Block(w, r + j, b));
            const __m256 s = _mm256_set1_ps(xd[b] * w.scale(r + j, b));
            acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot32(xv, wv)), s, acc[j]);
        }
    }
    for (int j = 0; j < RW; ++j) y[i * ldy + r + j] = hsum(acc[j]);
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
    if (w.format == Format::Q8) return quantRowsT<Format::Q8>(a, n, w, r0, r1, y, ldy);
    return quantRowsT<Format::Q4>(a, n, w, r0, r1, y, ldy);
}

}  // namespace qcw::kernels::avx2
