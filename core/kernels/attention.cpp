#include "kernels/attention.h"

#include "kernels/pool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

namespace qcw::kernels {

namespace {

// e^x for x in [-87.3, 88.7] to about 1 ulp: x = n ln2 + r with |r| <= ln2 / 2, e^r by its
// Taylor series to r^7 (truncation below 3e-9 relative), 2^n through the exponent bits. Written
// as straight-line float arithmetic so that the loops calling it vectorise.
inline float expApprox(float x) {
    x = std::min(88.3762626647949f, std::max(-87.3365447505531f, x));
    // Round to nearest by truncating t +- 0.5 (an integer conversion, no libm call, so the loop
    // vectorises; the usual 1.5 * 2^23 trick would not survive -fassociative-math).
    const float t = x * 1.44269504088896341f;
    const int ni = static_cast<int>(t + (t < 0.f ? -0.5f : 0.5f));
    const float n = static_cast<float>(ni);
    const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-06f;
    float p = 1.f / 5040.f;
    p = p * r + 1.f / 720.f;
    p = p * r + 1.f / 120.f;
    p = p * r + 1.f / 24.f;
    p = p * r + 1.f / 6.f;
    p = p * r + 0.5f;
    p = p * r + 1.f;
    p = p * r + 1.f;
    // 2^n for n in [-126, 127]; n = 128 (x near the top) as 2 * 2^127.
    const int e = std::min(ni, 127);
    const std::int32_t bits = (e + 127) << 23;
    float two;
    std::memcpy(&two, &bits, sizeof two);
    return p * two * (ni > 127 ? 2.f : 1.f);
}

// One version per instruction set, picked by the loader at run time (GCC's target_clones).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define QCW_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define QCW_CLONES
#endif

QCW_CLONES void attendRow(const DecodeAttention& a, std::int64_t b, int h, std::vector<float>& p) {
    const int group = a.heads / a.kvHeads;
    const int kvh = h / group;
    const std::int64_t hd = a.headDim;
    const float* q = a.q + (b * a.heads + h) * hd;
    const std::int64_t base = (b * a.kvHeads + kvh) * a.capacity * hd;
    const float* K = a.k + base;
    const float* V = a.v + base;
    const float* mask = a.mask ? a.mask + b * a.maskStride : nullptr;
    const std::int64_t L = a.length;
    p.resize(static_cast<std::size_t>(L));
    float mx = -std::numeric_limits<float>::infinity();
    for (std::int64_t j = 0; j < L; ++j) {
        const float* kj = K + j * hd;
        float s = 0.f;
        for (std::int64_t d = 0; d < hd; ++d) s += q[d] * kj[d];
        s = s * a.scale + (mask ? mask[j] : 0.f);
        p[static_cast<std::size_t>(j)] = s;
        mx = std::max(mx, s);
    }
    float sum = 0.f;
    for (std::int64_t j = 0; j < L; ++j) sum += p[static_cast<std::size_t>(j)] = expApprox(p[static_cast<std::size_t>(j)] - mx);
    const float inv = 1.f / sum;
    float* o = a.out + (b * a.heads + h) * hd;
    std::fill(o, o + hd, 0.f);
    for (std::int64_t j = 0; j < L; ++j) {
        const float w = p[static_cast<std::size_t>(j)] * inv;
        const float* vj = V + j * hd;
        for (std::int64_t d = 0; d < hd; ++d) o[d] += w * vj[d];
    }
}

}  // namespace

void decodeAttention(const DecodeAttention& a) {
    if (a.batch <= 0) return;
    if (!a.q || !a.k || !a.v || !a.out || a.heads <= 0 || a.kvHeads <= 0 || a.headDim <= 0 ||
        a.heads % a.kvHeads != 0 || a.length <= 0 || a.length > a.capacity)
        throw std::invalid_argument("kernels::decodeAttention: inconsistent shapes");
    const std::int64_t units = a.batch * a.heads;
    // Work in multiply-adds: below about 2^16 the pool's hand-off costs more than it saves.
    const std::int64_t work = units * a.length * a.headDim * 2;
    const std::int64_t chunks = work < (1 << 16) ? 1 : units;
    parallelChunks(chunks, [&](std::int64_t c) {
        thread_local std::vector<float> p;
        const std::int64_t u0 = chunks == 1 ? 0 : c, u1 = chunks == 1 ? units : c + 1;
        for (std::int64_t u = u0; u < u1; ++u) attendRow(a, u / a.heads, static_cast<int>(u % a.heads), p);
    });
}

QCW_CLONES void geluTanhInPlace(float* y, std::int64_t n) {
    constexpr float k2 = 2.f * 0.7978845608028654f;  // 2 sqrt(2 / pi)
    for (std::int64_t i = 0; i < n; ++i) {
        const float v = y[i];
        const float u2 = k2 * (v + 0.044715f * v * v * v);
        y[i] = v / (1.f + expApprox(-u2));
    }
}

}  // namespace qcw::kernels
