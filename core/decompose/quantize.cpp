#include "decompose/quantize.h"

#include "common/error.h"
#include "kernels/linear.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

namespace qcw {

using kernels::Format;
using kernels::kBlock;

namespace {

bool isBlockFormat(Format f) { return f == Format::Q8 || f == Format::Q4; }

struct BlockScale {
    float d = 0, id = 0;
};

BlockScale scaleOf(const float* x, Format f) {
    BlockScale s;
    blockScale(x, f, s.d, s.id);
    return s;
}

inline int q8Of(float x, float id) { return static_cast<int>(std::clamp(std::roundf(x * id), -127.f, 127.f)); }
inline int q4Of(float x, float id) { return static_cast<int>(std::clamp(std::floor(x * id + 8.5f), 0.f, 15.f)); }

void checkMatrix(const at::Tensor& w, Format f, const char* what) {
    if (!isBlockFormat(f)) fail(what, std::string("format ") + kernels::formatName(f) + " is not a block format (q8 or q4)");
    if (w.dim() != 2 || w.size(0) < 1 || w.size(1) < 1) fail(what, "expects a non-empty 2-D matrix");
    if (!at::isfinite(w).all().item<bool>()) fail(what, "the matrix holds NaN or Inf");
}

BlockMatrix emptyLike(std::int64_t rows, std::int64_t cols, Format f) { return BlockMatrix::zeros(f, rows, cols); }

}  // namespace

BlockMatrix quantizeRtn(const at::Tensor& w, Format format) {
    checkMatrix(w, format, "quantize");
    at::Tensor f = w.to(at::kCPU, at::kFloat).contiguous();
    const std::int64_t rows = f.size(0), cols = f.size(1);
    BlockMatrix b = emptyLike(rows, cols, format);
    const std::int64_t nb = b.blocksPerRow();
    const float* src = f.data_ptr<float>();
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t k = 0; k < nb; ++k) {
            float x[kBlock] = {};
            const std::int64_t k0 = k * kBlock, len = std::min<std::int64_t>(kBlock, cols - k0);
            std::memcpy(x, src + r * cols + k0, static_cast<std::size_t>(len) * sizeof(float));
            std::uint16_t* s = &b.scales[static_cast<std::size_t>(r * nb + k)];
            std::uint8_t* q = b.data.data() + (r * nb + k) * b.bytesPerBlock();
            if (format == Format::Q8) quantizeBlockQ8(x, reinterpret_cast<std::int8_t*>(q), s);
            else quantizeBlockQ4(x, q, s);
        }
    return b;
}

BlockMatrix quantizeGptq(const at::Tensor& w, const at::Tensor& xtx, Format format, double damp) {
    checkMatrix(w, format, "GPTQ");
    if (!xtx.defined()) return quantizeRtn(w, format);
    const std::int64_t rows = w.size(0), cols = w.size(1);
    if (xtx.dim() != 2 || xtx.size(0) != cols || xtx.size(1) != cols)
        fail("GPTQ", "the Gram matrix must be [" + std::to_string(cols) + ", " + std::to_string(cols) + "]");
    at::Tensor W = w.to(at::kCPU, at::kDouble).contiguous().clone();
    at::Tensor H = xtx.to(at::kCPU, at::kDouble).clone();
    H = 0.5 * (H + H.t());
    at::Tensor diag = H.diagonal();
    at::Tensor dead = diag <= 0;
    if (dead.any().item<bool>()) {
        H.diagonal().masked_fill_(dead, 1.0);
        W.index_put_({at::indexing::Slice(), dead}, 0.0);
    }
    const double mean = H.diagonal().mean().item<double>();
    at::Tensor U;
    for (double d = damp; ; d *= 10) {
        at::Tensor Hd = H + d * mean * at::eye(cols, H.options());
        auto [L, info] = at::linalg_cholesky_ex(Hd);
        if (info.item<int>() == 0) {
            at::Tensor Hinv = at::cholesky_inverse(L);
            auto [Uu, info2] = at::linalg_cholesky_ex(Hinv, /*upper=*/true);
            if (info2.item<int>() == 0) {
                U = Uu.contiguous();
                break;
            }
        }
        if (d > 1e3) return quantizeRtn(w, format);  // H is hopeless; rounding is the fallback
    }
    BlockMatrix b = emptyLike(rows, cols, format);
    const std::int64_t nb = b.blocksPerRow();
    double* Wp = W.data_ptr<double>();
    const double* Up = U.data_ptr<double>();
    for (std::int64_t k = 0; k < nb; ++k) {
        const std::int64_t k0 = k * kBlock, len = std::min<std::int64_t>(kBlock, cols - k0);
        at::Tensor err = at::zeros({rows, len}, at::kDouble);
        double* E = err.data_ptr<double>();
        for (std::int64_t r = 0; r < rows; ++r) {
            double* row = Wp + r * cols;
            float x[kBlock] = {};
            for (std::int64_t j = 0; j < len; ++j) x[j] = static_cast<float>(row[k0 + j]);
            const BlockScale s = scaleOf(x, format);
            const std::uint16_t d16 = kernels::floatToHalf(s.d);
            const double dh = kernels::halfToFloat(d16);
            b.scales[static_cast<std::size_t>(r * nb + k)] = d16;
            std::uint8_t* q = b.data.data() + (r * nb + k) * b.bytesPerBlock();
            for (std::int64_t j = 0; j < len; ++j) {
                const std::int64_t c = k0 + j;
                const float xv = static_cast<float>(row[c]);
                double deq;
                if (format == Format::Q8) {
                    const int v = q8Of(xv, s.id);
                    reinterpret_cast<std::int8_t*>(q)[j] = static_cast<std::int8_t>(v);
                    deq = double(v) * dh;
                } else {
                    const int v = q4Of(xv, s.id);
                    if (j < 16) q[j] = static_cast<std::uint8_t>((q[j] & 0xF0) | v);
                    else q[j - 16] = static_cast<std::uint8_t>((q[j - 16] & 0x0F) | (v << 4));
                    deq = double(v - 8) * dh;
                }
                const double e = (row[c] - deq) / Up[c * cols + c];
                E[r * len + j] = e;
                for (std::int64_t j2 = j + 1; j2 < len; ++j2) row[k0 + j2] -= e * Up[c * cols + k0 + j2];
            }
            if (format == Format::Q4)  // padding past cols: the value 0 is nibble 8
                for (std::int64_t j = len; j < kBlock; ++j) {
                    if (j < 16) q[j] = static_cast<std::uint8_t>((q[j] & 0xF0) | 8);
                    else q[j - 16] = static_cast<std::uint8_t>((q[j - 16] & 0x0F) | (8 << 4));
                }
        }
        if (k0 + len < cols) {
            using at::indexing::Slice;
            at::Tensor tail = W.index({Slice(), Slice(k0 + len, cols)});
            tail.sub_(at::matmul(err, U.index({Slice(k0, k0 + len), Slice(k0 + len, cols)})));
        }
    }
    return b;
}

}  // namespace qcw

namespace qcw {
BlockMatrix requantizeExactly(const at::Tensor& w, kernels::Format format) {
    BlockMatrix b = quantizeRtn(w, format);
    if (!at::equal(b.dequantize(), w.to(at::kCPU, at::kFloat).contiguous()))
        fail(std::string("re-quantizing to ") + kernels::formatName(format), "does not reproduce the held values exactly");
    return b;
}
}  // namespace qcw
