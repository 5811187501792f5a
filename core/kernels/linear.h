#pragma once
// The kernel room: y = x W^T (+ bias) (then GELU) on the CPU for weights kept in their stored
// form, fp32 accumulation throughout. No torch and no Qt here; the model wraps these in
// PackedLinear (model/packed.h).
//
// Formats (rows = output features, cols = input features):
//   F32, F16, BF16: row-major, `ld` elements between rows.
//   Q8: int8 values, blocks of 32 along a row (a row holds `ld` blocks, zero-padded past
//       cols), value = q * scale(row, block).
//   Q4: 4-bit values, blocks of 32 in 16 bytes (byte j holds element j in its low nibble and
//       element j + 16 in its high nibble, as GGML's Q4_0), value = (q - 8) * scale(row, block).
// Quantized weights are multiplied against activations quantized to int8 in blocks of 32
// (one fp32 scale per block, as llama.cpp's Q8_0 activations) when few rows come in (decode),
// and against exact fp32 activations through a dequantized tile when many rows come in
// (prefill); both are reported by the tests against a double-precision reference.
#include <cstdint>
#include <string>
#include <vector>

namespace qcw::kernels {

enum class Format : std::uint8_t { F32, F16, BF16, Q8, Q4 };
const char* formatName(Format f);
bool parseFormat(const std::string& name, Format& out);  // "f32", "f16", "bf16", "q8", "q4"
bool isQuantized(Format f);
constexpr std::int64_t kBlock = 32;

enum class Isa : std::uint8_t { Generic, Avx2, Avx512 };
const char* isaName(Isa isa);
// The widest instruction set this CPU and this build both have (AVX2 needs FMA and F16C;
// AVX-512 needs F, BW, VL, DQ and VNNI).
Isa detectIsa();
// The one in use: detectIsa(), or QCW_KERNEL_ISA=generic|avx2|avx512 (capped at what the CPU
// has), or what setIsa() chose. setIsa() is for tests and benchmarks; it returns false (and
// changes nothing) when the CPU lacks it.
Isa activeIsa();
bool setIsa(Isa isa);

struct WeightView {
    Format format = Format::F32;
    std::int64_t rows = 0, cols = 0;
    const void* data = nullptr;
    std::int64_t ld = 0;                 // elements (F32/F16/BF16) or blocks (Q8/Q4) per row
    const float* scales = nullptr;       // Q8/Q4: scale(r, b) = scales[r * scaleRowStride + b * scaleBlockStride]
    std::int64_t scaleRowStride = 0, scaleBlockStride = 0;

    std::int64_t blocksPerRow() const { return (cols + kBlock - 1) / kBlock; }
    // Bytes this view reads for one pass over the matrix (scales included).
    std::int64_t bytes() const;
    float scale(std::int64_t r, std::int64_t b) const { return scales[r * scaleRowStride + b * scaleBlockStride]; }
};

enum class Epilogue : std::uint8_t { None, GeluTanh };

// One map of a multi-map call: its weight, optional bias (rows floats), output and epilogue.
struct LinearJob {
    const WeightView* w = nullptr;
    const float* bias = nullptr;
    float* y = nullptr;
    std::int64_t ldy = 0;
    Epilogue epilogue = Epilogue::None;
    const float* x = nullptr;  // this job's own input (ldx apart), or null for the call's x
    std::int64_t ldx = 0;
};

// y[i, r] = sum_k x[i, k] W[r, k] + bias[r] for i < n, then the epilogue. x is n rows of
// w.cols floats, ldx apart; y is n rows of w.rows floats, ldy apart. Split over output rows
// on the persistent thread pool.
void linear(const float* x, std::int64_t n, std::int64_t ldx, const WeightView& w, const float* bias, float* y,
            std::int64_t ldy, Epilogue epilogue = Epilogue::None);
// Several maps in one parallel pass with one barrier at its end: q, k and v of a block over
// their shared input x (read, and for quantized weights quantized, once), or the second
// factors of several low-rank maps, each job with its own input (LinearJob::x). Every job
// has n input rows.
void linearMany(const float* x, std::int64_t n, std::int64_t ldx, const LinearJob* jobs, int count);

// Owned storage for a packed matrix.
struct PackedMatrix {
    Format format = Format::F32;
    std::int64_t rows = 0, cols = 0;
    std::vector<std::uint8_t> data;      // aligned enough for every format (malloc alignment)
    std::vector<float> scales;           // Q8/Q4: rows x blocksPerRow
    WeightView view() const;
};
// Packs a row-major fp32 matrix (ld floats between rows) into `format`. Q8: scale =
// max|w| / 127 per block, q = round(w / scale). Q4: as GGML's Q4_0: d = m / -8 with m the
// block's value of largest magnitude (sign kept), q = clamp(round(w / d) + 8, 0, 15).
PackedMatrix pack(const float* w, std::int64_t rows, std::int64_t cols, std::int64_t ld, Format format);
// The fp32 values a view stands for (tests, fallbacks, analysis): rows x cols, row-major.
std::vector<float> dequantize(const WeightView& w);

float halfToFloat(std::uint16_t h);
std::uint16_t floatToHalf(float f);      // round to nearest even
float bf16ToFloat(std::uint16_t h);
std::uint16_t floatToBf16(float f);      // round to nearest even

// The persistent pool the kernels run on: `threads` workers in all, the caller included.
void setThreads(int threads);            // 0: every core
int threads();

}  // namespace qcw::kernels

namespace qcw::kernels {

// Time and bytes spent in linear maps since the last reset, summed over calls (every thread's
// work counts once: the wall time of each call). `bench` reports them per decode step.
struct LinearStats {
    std::uint64_t calls = 0;
    std::uint64_t nanoseconds = 0;
    std::uint64_t weightBytes = 0;
};
LinearStats linearStats();
void resetLinearStats();

}  // namespace qcw::kernels
