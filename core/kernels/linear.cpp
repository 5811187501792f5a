#include "kernels/linear.h"

#include "kernels/isa.h"
#include "kernels/attention.h"
#include "kernels/pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace qcw::kernels {

// ---- formats and conversions ----------------------------------------------------------------

const char* formatName(Format f) {
    switch (f) {
        case Format::F32: return "f32";
        case Format::F16: return "f16";
        case Format::BF16: return "bf16";
        case Format::Q8: return "q8";
        case Format::Q4: return "q4";
    }
    return "?";
}

bool parseFormat(const std::string& name, Format& out) {
    static const std::pair<const char*, Format> table[] = {
        {"f32", Format::F32}, {"f16", Format::F16}, {"bf16", Format::BF16}, {"q8", Format::Q8}, {"q4", Format::Q4}};
    for (const auto& [n, f] : table)
        if (name == n) {
            out = f;
            return true;
        }
    return false;
}

bool isQuantized(Format f) { return f == Format::Q8 || f == Format::Q4; }

float halfToFloat(std::uint16_t h) {
    const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
    std::uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do {
                ++e;
                man <<= 1;
            } while ((man & 0x400u) == 0);
            bits = sign | (std::uint32_t(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::uint16_t floatToHalf(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    const std::uint16_t sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
    const std::uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0);  // inf / nan
    if (ax >= 0x477ff000u) return sign | 0x7c00u;                                      // overflow
    if (ax < 0x38800000u) {  // subnormal or zero in half
        if (ax < 0x33000000u) return sign;
        const std::uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        const int shift = 126 - static_cast<int>(e);  // m x 2^(e - 150) in units of 2^-24
        std::uint32_t v = m >> shift;
        const std::uint32_t rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (v & 1u))) ++v;
        return sign | static_cast<std::uint16_t>(v);
    }
    std::uint32_t v = ((ax >> 23) - 127 + 15) << 10 | ((ax >> 13) & 0x3ffu);
    const std::uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (v & 1u))) ++v;
    return sign | static_cast<std::uint16_t>(v);
}

float bf16ToFloat(std::uint16_t h) {
    const std::uint32_t bits = std::uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

std::uint16_t floatToBf16(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // quiet nan
    x += 0x7fffu + ((x >> 16) & 1u);
    return static_cast<std::uint16_t>(x >> 16);
}

std::int64_t WeightView::bytes() const {
    switch (format) {
        case Format::F32: return rows * cols * 4;
        case Format::F16:
        case Format::BF16: return rows * cols * 2;
        case Format::Q8: return rows * blocksPerRow() * 32 + (scaleBlockStride ? rows * blocksPerRow() : rows) * 4;
        case Format::Q4: return rows * blocksPerRow() * 16 + (scaleBlockStride ? rows * blocksPerRow() : rows) * 4;
    }
    return 0;
}

// ---- instruction sets --------------------------------------------------------------------------

const char* isaName(Isa isa) {
    switch (isa) {
        case Isa::Generic: return "generic";
        case Isa::Avx2: return "avx2";
        case Isa::Avx512: return "avx512";
    }
    return "?";
}

Isa detectIsa() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
#ifdef QCW_KERNELS_AVX512
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("f16c") &&
        __builtin_cpu_supports("fma"))
        return Isa::Avx512;
#endif
#ifdef QCW_KERNELS_AVX2
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) return Isa::Avx2;
#endif
#endif
    return Isa::Generic;
}

namespace {

std::atomic<int> g_isa{-1};

Isa initialIsa() {
    const Isa best = detectIsa();
    const char* env = std::getenv("QCW_KERNEL_ISA");
    if (!env) return best;
    const std::string s(env);
    Isa want = best;
    if (s == "generic") want = Isa::Generic;
    else if (s == "avx2") want = Isa::Avx2;
    else if (s == "avx512") want = Isa::Avx512;
    return static_cast<int>(want) <= static_cast<int>(best) ? want : best;
}

IsaKernels kernelsFor(Isa isa) {
    switch (isa) {
#ifdef QCW_KERNELS_AVX512
        case Isa::Avx512: return {avx512::floatRows, avx512::quantRows};
#endif
#ifdef QCW_KERNELS_AVX2
        case Isa::Avx2: return {avx2::floatRows, avx2::quantRows};
#endif
        default: return {generic::floatRows, generic::quantRows};
    }
}

}  // namespace

Isa activeIsa() {
    int v = g_isa.load(std::memory_order_relaxed);
    if (v < 0) {
        v = static_cast<int>(initialIsa());
        g_isa.store(v);
    }
    return static_cast<Isa>(v);
}

bool setIsa(Isa isa) {
    if (static_cast<int>(isa) > static_cast<int>(detectIsa())) return false;
    g_isa.store(static_cast<int>(isa));
    return true;
}

// ---- the portable kernels ------------------------------------------------------------------------

// The integer values of block b of row r of a Q8 or Q4 weight (Q4's offset of 8 removed);
// elements past cols are 0.
inline void blockValues(const WeightView& w, std::int64_t r, std::int64_t b, std::int8_t out[32]) {
    if (w.format == Format::Q8) {
        std::memcpy(out, q8Block(w, r, b), 32);
        return;
    }
    const std::uint8_t* q = q4Block(w, r, b);
    for (int j = 0; j < 16; ++j) {
        out[j] = static_cast<std::int8_t>(int(q[j] & 0x0f) - 8);
        out[j + 16] = static_cast<std::int8_t>(int(q[j] >> 4) - 8);
    }
}

namespace generic {

inline float weightAt(const WeightView& w, std::int64_t r, std::int64_t k) {
    switch (w.format) {
        case Format::F32: return static_cast<const float*>(w.data)[r * w.ld + k];
        case Format::F16: return halfToFloat(static_cast<const std::uint16_t*>(w.data)[r * w.ld + k]);
        case Format::BF16: return bf16ToFloat(static_cast<const std::uint16_t*>(w.data)[r * w.ld + k]);
        default: return 0.f;
    }
}

void floatRows(const float* x, std::int64_t n, std::int64_t ldx, const WeightView& w, std::int64_t r0, std::int64_t r1,
               float* y, std::int64_t ldy) {
    for (std::int64_t r = r0; r < r1; ++r)
        for (std::int64_t i = 0; i < n; ++i) {
            const float* xi = x + i * ldx;
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            std::int64_t k = 0;
            for (; k + 8 <= w.cols; k += 8)
                for (int j = 0; j < 8; ++j) acc[j] += xi[k + j] * weightAt(w, r, k + j);
            for (; k < w.cols; ++k) acc[0] += xi[k] * weightAt(w, r, k);
            y[i * ldy + r] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        }
}

void quantRows(const QuantActs& a, std::int64_t n, const WeightView& w, std::int64_t r0, std::int64_t r1, float* y,
               std::int64_t ldy) {
    const std::int64_t nb = w.blocksPerRow();
    for (std::int64_t r = r0; r < r1; ++r)
        for (std::int64_t i = 0; i < n; ++i) {
            const std::int8_t* xq = a.q + i * a.ldq;
            const float* xd = a.d + i * a.ldd;
            float acc = 0;
            for (std::int64_t b = 0; b < nb; ++b) {
                std::int8_t wq[32];
                blockValues(w, r, b, wq);
                std::int32_t s = 0;
                for (int j = 0; j < 32; ++j) s += std::int32_t(wq[j]) * xq[b * 32 + j];
                acc += float(s) * (xd[b] * w.scale(r, b));
            }
            y[i * ldy + r] = acc;
        }
}

}  // namespace generic

// ---- packing -----------------------------------------------------------------------------------

WeightView PackedMatrix::view() const {
    WeightView v;
    v.format = format;
    v.rows = rows;
    v.cols = cols;
    v.data = data.data();
    if (isQuantized(format)) {
        v.ld = (cols + kBlock - 1) / kBlock;
        v.scales = scales.data();
        v.scaleRowStride = v.ld;
        v.scaleBlockStride = 1;
    } else {
        v.ld = cols;
    }
    return v;
}

PackedMatrix pack(const float* w, std::int64_t rows, std::int64_t cols, std::int64_t ld, Format format) {
    PackedMatrix p;
    p.format = format;
    p.rows = rows;
    p.cols = cols;
    const std::int64_t nb = (cols + kBlock - 1) / kBlock;
    switch (format) {
        case Format::F32:
            p.data.resize(static_cast<std::size_t>(rows * cols * 4));
            for (std::int64_t r = 0; r < rows; ++r) std::memcpy(p.data.data() + r * cols * 4, w + r * ld, cols * 4);
            break;
        case Format::F16:
        case Format::BF16: {
            p.data.resize(static_cast<std::size_t>(rows * cols * 2));
            auto* d = reinterpret_cast<std::uint16_t*>(p.data.data());
            for (std::int64_t r = 0; r < rows; ++r)
                for (std::int64_t k = 0; k < cols; ++k)
                    d[r * cols + k] = format == Format::F16 ? floatToHalf(w[r * ld + k]) : floatToBf16(w[r * ld + k]);
            break;
        }
        case Format::Q8:
        case Format::Q4: {
            const bool q8 = format == Format::Q8;
            p.data.assign(static_cast<std::size_t>(rows * nb * (q8 ? 32 : 16)), 0);
            p.scales.assign(static_cast<std::size_t>(rows * nb), 0.f);
            for (std::int64_t r = 0; r < rows; ++r)
                for (std::int64_t b = 0; b < nb; ++b) {
                    float v[32] = {};
                    const std::int64_t k0 = b * kBlock, len = std::min<std::int64_t>(kBlock, cols - k0);
                    for (std::int64_t j = 0; j < len; ++j) v[j] = w[r * ld + k0 + j];
                    float amax = 0, m = 0;
                    for (float f : v)
                        if (std::fabs(f) > amax) {
                            amax = std::fabs(f);
                            m = f;
                        }
                    if (q8) {
                        const float d = amax / 127.f, id = d > 0 ? 1.f / d : 0.f;
                        auto* q = reinterpret_cast<std::int8_t*>(p.data.data()) + (r * nb + b) * 32;
                        for (int j = 0; j < 32; ++j)
                            q[j] = static_cast<std::int8_t>(std::clamp(std::lrintf(v[j] * id), -127l, 127l));
                        p.scales[static_cast<std::size_t>(r * nb + b)] = d;
                    } else {
                        const float d = m / -8.f, id = d != 0 ? 1.f / d : 0.f;
                        auto* q = p.data.data() + (r * nb + b) * 16;
                        for (int j = 0; j < 16; ++j) {
                            const auto lo = static_cast<std::uint8_t>(std::clamp(std::lrintf(v[j] * id) + 8, 0l, 15l));
                            const auto hi = static_cast<std::uint8_t>(std::clamp(std::lrintf(v[j + 16] * id) + 8, 0l, 15l));
                            q[j] = static_cast<std::uint8_t>(lo | (hi << 4));
                        }
                        p.scales[static_cast<std::size_t>(r * nb + b)] = d;
                    }
                }
            break;
        }
    }
    return p;
}

std::vector<float> dequantize(const WeightView& w) {
    std::vector<float> out(static_cast<std::size_t>(w.rows * w.cols));
    for (std::int64_t r = 0; r < w.rows; ++r) {
        float* dst = out.data() + r * w.cols;
        if (isQuantized(w.format)) {
            for (std::int64_t b = 0; b < w.blocksPerRow(); ++b) {
                std::int8_t q[32];
                blockValues(w, r, b, q);
                const std::int64_t len = std::min<std::int64_t>(kBlock, w.cols - b * kBlock);
                for (std::int64_t j = 0; j < len; ++j) dst[b * kBlock + j] = float(q[j]) * w.scale(r, b);
            }
        } else {
            for (std::int64_t k = 0; k < w.cols; ++k) dst[k] = generic::weightAt(w, r, k);
        }
    }
    return out;
}

// ---- the dispatcher ------------------------------------------------------------------------------

namespace {

// Below this many input rows quantized weights meet quantized activations (decode); from it on
// they are dequantized a tile at a time and meet the exact activations (prefill).
constexpr std::int64_t kQuantActRows = 8;
constexpr std::int64_t kTile = 16;  // rows of W a thread's range is aligned to

void quantizeActs(const float* x, std::int64_t n, std::int64_t ldx, std::int64_t cols, std::vector<std::int8_t>& q,
                  std::vector<float>& d, QuantActs& a) {
    const std::int64_t nb = (cols + kBlock - 1) / kBlock;
    q.assign(static_cast<std::size_t>(n * nb * kBlock), 0);
    d.assign(static_cast<std::size_t>(n * nb), 0.f);
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t b = 0; b < nb; ++b) {
            const float* xb = x + i * ldx + b * kBlock;
            const std::int64_t len = std::min<std::int64_t>(kBlock, cols - b * kBlock);
            float amax = 0;
            for (std::int64_t j = 0; j < len; ++j) amax = std::max(amax, std::fabs(xb[j]));
            const float s = amax / 127.f, is = s > 0 ? 1.f / s : 0.f;
            std::int8_t* qb = q.data() + (i * nb + b) * kBlock;
            for (std::int64_t j = 0; j < len; ++j) qb[j] = static_cast<std::int8_t>(std::lrintf(xb[j] * is));
            d[static_cast<std::size_t>(i * nb + b)] = s;
        }
    a.q = q.data();
    a.d = d.data();
    a.ldq = nb * kBlock;
    a.ldd = nb;
}

void finish(const LinearJob& job, std::int64_t n, std::int64_t r0, std::int64_t r1) {
    if (!job.bias && job.epilogue == Epilogue::None) return;
    for (std::int64_t i = 0; i < n; ++i) {
        float* yi = job.y + i * job.ldy;
        if (job.bias)
            for (std::int64_t r = r0; r < r1; ++r) yi[r] += job.bias[r];
        if (job.epilogue == Epilogue::GeluTanh)
            geluTanhInPlace(yi + r0, r1 - r0);
    }
}

// Quantized weights against many rows: dequantize kTile rows of W at a time into fp32 and run
// the fp32 kernel over every input row.
void dequantRows(const IsaKernels& k, const float* x, std::int64_t n, std::int64_t ldx, const WeightView& w,
                 std::int64_t r0, std::int64_t r1, float* y, std::int64_t ldy) {
    thread_local std::vector<float> tile;
    tile.resize(static_cast<std::size_t>(kTile * w.cols));
    for (std::int64_t t0 = r0; t0 < r1; t0 += kTile) {
        const std::int64_t t1 = std::min(r1, t0 + kTile);
        const std::int64_t nb = w.blocksPerRow();
        for (std::int64_t r = t0; r < t1; ++r) {
            float* dst = tile.data() + (r - t0) * w.cols;
            for (std::int64_t b = 0; b < nb; ++b) {
                std::int8_t q[32];
                blockValues(w, r, b, q);
                const float s = w.scale(r, b);
                const std::int64_t len = std::min<std::int64_t>(kBlock, w.cols - b * kBlock);
                for (std::int64_t j = 0; j < len; ++j) dst[b * kBlock + j] = float(q[j]) * s;
            }
        }
        WeightView tv;
        tv.format = Format::F32;
        tv.rows = t1 - t0;
        tv.cols = w.cols;
        tv.data = tile.data();
        tv.ld = w.cols;
        k.floatRows(x, n, ldx, tv, 0, t1 - t0, y + t0, ldy);
    }
}

void runJobs(const float* x, std::int64_t n, std::int64_t ldx, const LinearJob* jobs, int count) {
    if (count <= 0 || n <= 0) return;
    std::int64_t total = 0;
    bool anyQuant = false;
    for (int j = 0; j < count; ++j) {
        const WeightView& w = *jobs[j].w;
        if (!w.data || w.rows < 0 || w.cols <= 0) throw std::invalid_argument("kernels::linear: empty weight");
        if (isQuantized(w.format) && !w.scales) throw std::invalid_argument("kernels::linear: quantized weight without scales");
        if (!jobs[j].x && !x) throw std::invalid_argument("kernels::linear: a job has no input");
        total += w.rows;
        anyQuant = anyQuant || isQuantized(w.format);
    }
    const IsaKernels k = kernelsFor(activeIsa());
    // Quantized activations, once per distinct input.
    struct Quantized {
        const float* x;
        std::vector<std::int8_t> q;
        std::vector<float> d;
        QuantActs acts;
    };
    thread_local std::vector<Quantized> quantized;
    const bool quantActs = anyQuant && n < kQuantActRows;
    std::vector<const QuantActs*> actsOf(static_cast<std::size_t>(count), nullptr);
    if (quantActs) {
        std::size_t used = 0;
        for (int j = 0; j < count; ++j) {
            const WeightView& w = *jobs[j].w;
            if (!isQuantized(w.format)) continue;
            const float* xj = jobs[j].x ? jobs[j].x : x;
            std::size_t u = 0;
            while (u < used && quantized[u].x != xj) ++u;
            if (u == used) {
                if (quantized.size() <= used) quantized.resize(used + 1);
                Quantized& qz = quantized[used++];
                qz.x = xj;
                quantizeActs(xj, n, jobs[j].x ? jobs[j].ldx : ldx, w.cols, qz.q, qz.d, qz.acts);
            }
            actsOf[static_cast<std::size_t>(j)] = &quantized[u].acts;
        }
    }

    std::int64_t work = 0;
    for (int j = 0; j < count; ++j) work += jobs[j].w->rows * jobs[j].w->cols * n;
    // Rows of all jobs laid end to end, cut into chunks of whole tiles that the threads claim
    // as they come: about 8 chunks a thread, so a thread the OS delays leaves little behind.
    const std::int64_t tiles = (total + kTile - 1) / kTile;
    const int nt = threads();
    // Small maps are not worth waking the pool for: below about 260,000 multiply-adds (a
    // 512 x 512 map of one row) the hand-off costs more than the second thread saves (demo
    // model, 2 cores: one row 1,140-1,500 tok/s at 2^18 and at 2^20 alike, four rows 2,680-2,810
    // against 2,420-2,840). QCW_KERNEL_MIN_PARALLEL overrides it.
    static const std::int64_t minParallel = [] {
        const char* e = std::getenv("QCW_KERNEL_MIN_PARALLEL");
        return e && *e ? std::max<std::int64_t>(0, std::atoll(e)) : std::int64_t(1) << 18;
    }();
    const std::int64_t chunks = work < minParallel || nt == 1 ? 1 : std::min<std::int64_t>(tiles, 8 * nt);
    auto chunk = [&](std::int64_t c) {
        const std::int64_t g0 = std::min(total, (tiles * c / chunks) * kTile), g1 = std::min(total, (tiles * (c + 1) / chunks) * kTile);
        std::int64_t base = 0;
        for (int j = 0; j < count && base < g1; ++j) {
            const LinearJob& job = jobs[j];
            const WeightView& w = *job.w;
            const std::int64_t r0 = std::max<std::int64_t>(0, g0 - base), r1 = std::min<std::int64_t>(w.rows, g1 - base);
            base += w.rows;
            if (r0 >= r1) continue;
            const float* xj = job.x ? job.x : x;
            const std::int64_t ldxj = job.x ? job.ldx : ldx;
            if (!isQuantized(w.format)) k.floatRows(xj, n, ldxj, w, r0, r1, job.y, job.ldy);
            else if (quantActs) k.quantRows(*actsOf[static_cast<std::size_t>(j)], n, w, r0, r1, job.y, job.ldy);
            else dequantRows(k, xj, n, ldxj, w, r0, r1, job.y, job.ldy);
            finish(job, n, r0, r1);
        }
    };
    parallelChunks(chunks, chunk);
}

std::atomic<std::uint64_t> g_calls{0}, g_ns{0}, g_bytes{0};

void timedJobs(const float* x, std::int64_t n, std::int64_t ldx, const LinearJob* jobs, int count) {
    const auto t0 = std::chrono::steady_clock::now();
    runJobs(x, n, ldx, jobs, count);
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
    std::uint64_t bytes = 0;
    for (int j = 0; j < count; ++j) bytes += static_cast<std::uint64_t>(jobs[j].w->bytes());
    g_calls.fetch_add(1, std::memory_order_relaxed);
    g_ns.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
    g_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

}  // namespace

void linear(const float* x, std::int64_t n, std::int64_t ldx, const WeightView& w, const float* bias, float* y,
            std::int64_t ldy, Epilogue epilogue) {
    LinearJob job{&w, bias, y, ldy, epilogue};
    timedJobs(x, n, ldx, &job, 1);
}

void linearMany(const float* x, std::int64_t n, std::int64_t ldx, const LinearJob* jobs, int count) {
    timedJobs(x, n, ldx, jobs, count);
}

LinearStats linearStats() { return {g_calls.load(), g_ns.load(), g_bytes.load()}; }

void resetLinearStats() {
    g_calls = 0;
    g_ns = 0;
    g_bytes = 0;
}

}  // namespace qcw::kernels
