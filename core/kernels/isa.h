#pragma once
// Internal: the per-instruction-set kernels behind kernels::linear. Each set lives in its own
// translation unit, compiled with its own -m flags, and is only called when the CPU has it.
#include "kernels/linear.h"

#include <cstdint>

namespace qcw::kernels {

// Activations quantized to int8 in blocks of 32: row i's values at q + i * ldq (ldq bytes,
// a multiple of 32, zero past cols) and its block scales at d + i * ldd.
struct QuantActs {
    const std::int8_t* q = nullptr;
    const float* d = nullptr;
    std::int64_t ldq = 0, ldd = 0;
};

// y[i, r] = x_i . W_r for i < n and r0 <= r < r1 (F32, F16, BF16 weights), no bias.
using FloatRowsFn = void (*)(const float* x, std::int64_t n, std::int64_t ldx, const WeightView& w, std::int64_t r0,
                             std::int64_t r1, float* y, std::int64_t ldy);
// The same for Q8 and Q4 weights against quantized activations.
using QuantRowsFn = void (*)(const QuantActs& a, std::int64_t n, const WeightView& w, std::int64_t r0, std::int64_t r1,
                             float* y, std::int64_t ldy);

struct IsaKernels {
    FloatRowsFn floatRows;
    QuantRowsFn quantRows;
};

namespace generic {
void floatRows(const float*, std::int64_t, std::int64_t, const WeightView&, std::int64_t, std::int64_t, float*, std::int64_t);
void quantRows(const QuantActs&, std::int64_t, const WeightView&, std::int64_t, std::int64_t, float*, std::int64_t);
}  // namespace generic
#ifdef QCW_KERNELS_AVX2
namespace avx2 {
void floatRows(const float*, std::int64_t, std::int64_t, const WeightView&, std::int64_t, std::int64_t, float*, std::int64_t);
void quantRows(const QuantActs&, std::int64_t, const WeightView&, std::int64_t, std::int64_t, float*, std::int64_t);
}  // namespace avx2
#endif
#ifdef QCW_KERNELS_AVX512
namespace avx512 {
void floatRows(const float*, std::int64_t, std::int64_t, const WeightView&, std::int64_t, std::int64_t, float*, std::int64_t);
void quantRows(const QuantActs&, std::int64_t, const WeightView&, std::int64_t, std::int64_t, float*, std::int64_t);
}  // namespace avx512
#endif

// Q4 block b of row r: 16 bytes.
inline const std::uint8_t* q4Block(const WeightView& w, std::int64_t r, std::int64_t b) {
    return static_cast<const std::uint8_t*>(w.data) + (r * w.ld + b) * 16;
}
inline const std::int8_t* q8Block(const WeightView& w, std::int64_t r, std::int64_t b) {
    return static_cast<const std::int8_t*>(w.data) + (r * w.ld + b) * 32;
}

}  // namespace qcw::kernels
