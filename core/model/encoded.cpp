#include "model/encoded.h"

#include "common/error.h"
#include "model/factorized.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace qcw {

using kernels::Format;
using kernels::kBlock;

namespace {

bool isBlock(Format f) { return f == Format::Q8 || f == Format::Q4; }
const char* suffixOf(Format f) { return f == Format::Q8 ? "q8" : "q4"; }

}  // namespace

std::int64_t storedMatrixBytes(std::int64_t rows, std::int64_t cols, Format format) {
    const std::int64_t nb = (cols + kBlock - 1) / kBlock;
    switch (format) {
        case Format::Q8: return rows * nb * 34;
        case Format::Q4: return rows * nb * 18;
        case Format::F16:
        case Format::BF16: return rows * cols * 2;
        case Format::F32: return rows * cols * 4;
    }
    return rows * cols * 4;
}

void blockScale(const float* x, Format f, float& d, float& id) {
    if (f == Format::Q8) {
        float amax = 0;
        for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
        d = amax / 127.f;
    } else {
        float amax = 0, m = 0;
        for (int j = 0; j < kBlock; ++j)
            if (amax < std::fabs(x[j])) {  // strict: the first of equal magnitudes, as GGML's loop
                amax = std::fabs(x[j]);
                m = x[j];
            }
        d = m / -8.f;
    }
    id = d != 0.f ? 1.f / d : 0.f;
}

void quantizeBlockQ8(const float* x, std::int8_t* q, std::uint16_t* scale) {
    float d, id;
    blockScale(x, Format::Q8, d, id);
    for (int j = 0; j < kBlock; ++j) q[j] = static_cast<std::int8_t>(std::roundf(x[j] * id));
    *scale = kernels::floatToHalf(d);
}

void quantizeBlockQ4(const float* x, std::uint8_t* q, std::uint16_t* scale) {
    float d, id;
    blockScale(x, Format::Q4, d, id);
    auto code = [id](float v) { return std::min(15, static_cast<int>(static_cast<std::int8_t>(v * id + 8.5f))); };
    for (int j = 0; j < kBlock / 2; ++j) q[j] = static_cast<std::uint8_t>(code(x[j]) | (code(x[j + kBlock / 2]) << 4));
    *scale = kernels::floatToHalf(d);
}

BlockMatrix BlockMatrix::zeros(Format format, std::int64_t rows, std::int64_t cols) {
    if (!isBlock(format)) fail("block matrix", std::string("format ") + kernels::formatName(format) + " is not q8 or q4");
    BlockMatrix b;
    b.format = format;
    b.rows = rows;
    b.cols = cols;
    b.data.assign(static_cast<std::size_t>(rows * b.blocksPerRow() * b.bytesPerBlock()), format == Format::Q4 ? 0x88 : 0);
    b.scales.assign(static_cast<std::size_t>(rows * b.blocksPerRow()), 0);
    return b;
}

at::Tensor BlockMatrix::dequantize() const {
    at::Tensor out = at::zeros({rows, cols}, at::kFloat);
    float* o = out.data_ptr<float>();
    const std::int64_t nb = blocksPerRow();
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t b = 0; b < nb; ++b) {
            const float d = kernels::halfToFloat(scales[static_cast<std::size_t>(r * nb + b)]);
            const std::uint8_t* q = data.data() + (r * nb + b) * bytesPerBlock();
            for (std::int64_t j = 0; j < kBlock && b * kBlock + j < cols; ++j) {
                const float v = format == Format::Q8 ? float(reinterpret_cast<const std::int8_t*>(q)[j])
                                                     : float(j < 16 ? (q[j] & 0x0F) : (q[j - 16] >> 4)) - 8.f;
                o[r * cols + b * kBlock + j] = v * d;
            }
        }
    return out;
}

PackedWeight BlockMatrix::packed() const {
    kernels::PackedMatrix m;
    m.format = format;
    m.rows = rows;
    m.cols = cols;
    m.data = data;
    m.scales.resize(scales.size());
    for (std::size_t i = 0; i < scales.size(); ++i) m.scales[i] = kernels::halfToFloat(scales[i]);
    return PackedWeight::fromMatrix(std::move(m));
}

BlockMatrix BlockMatrix::fromView(const kernels::WeightView& v, const std::string& what) {
    if (!isBlock(v.format)) fail(what, "is not held in q8 or q4 blocks");
    BlockMatrix b = zeros(v.format, v.rows, v.cols);
    const std::int64_t nb = b.blocksPerRow();
    for (std::int64_t r = 0; r < v.rows; ++r) {
        std::memcpy(b.data.data() + r * nb * b.bytesPerBlock(),
                    static_cast<const std::uint8_t*>(v.data) + r * v.ld * b.bytesPerBlock(),
                    static_cast<std::size_t>(nb * b.bytesPerBlock()));
        for (std::int64_t k = 0; k < nb; ++k) {
            const float s = v.scale(r, k);
            const std::uint16_t h = kernels::floatToHalf(s);
            if (kernels::halfToFloat(h) != s) fail(what, "has a block scale that fp16 cannot hold exactly");
            b.scales[static_cast<std::size_t>(r * nb + k)] = h;
        }
    }
    return b;
}

// ---- SumLinear ------------------------------------------------------------------------------

SumLinear::SumLinear(std::shared_ptr<LinearOp> base, std::shared_ptr<LinearOp> correction, std::string method)
    : base_(std::move(base)), correction_(std::move(correction)), method_(std::move(method)) {
    if (!base_ || !correction_ || base_->inFeatures() != correction_->inFeatures() ||
        base_->outFeatures() != correction_->outFeatures())
        fail("SumLinear", "the base map and its correction must have one shape");
}

at::Tensor SumLinear::forward(const at::Tensor& x) const { return base_->forward(x) + correction_->forward(x); }

std::int64_t SumLinear::parameterCount() const { return base_->parameterCount() + correction_->parameterCount(); }

at::Tensor SumLinear::denseWeight() const {
    at::Tensor c = correction_->denseWeight();
    return base_->denseWeight().to(c.scalar_type()) + c;
}

void SumLinear::to(at::Device device, at::ScalarType dtype) {
    base_->to(device, dtype);
    correction_->to(device, dtype);
}

std::int64_t SumLinear::storedBytes() const {
    const std::int64_t a = base_->storedBytes(), b = correction_->storedBytes();
    return a < 0 || b < 0 ? -1 : a + b;
}

// ---- writing --------------------------------------------------------------------------------

void blockMatrixTensors(const std::string& base, const BlockMatrix& m, const TensorSink& add) {
    const std::int64_t nb = m.blocksPerRow();
    at::Tensor q = at::empty({m.rows, nb * m.bytesPerBlock()}, m.format == Format::Q8 ? at::kChar : at::kByte);
    std::memcpy(q.data_ptr(), m.data.data(), m.data.size());
    at::Tensor s = at::empty({m.rows, nb}, at::kHalf);
    std::memcpy(s.data_ptr(), m.scales.data(), m.scales.size() * sizeof(std::uint16_t));
    add(base + "." + suffixOf(m.format), q);
    add(base + "." + suffixOf(m.format) + "_scale", s);
}

namespace {

// A packed weight as stored tensors under `base`: block matrices as such, 16/32-bit ones as
// one float tensor named `base`.
void packedTensors(const std::string& base, const PackedWeight& w, const TensorSink& add) {
    if (isBlock(w.view.format)) {
        blockMatrixTensors(base, BlockMatrix::fromView(w.view, base), add);
    } else {
        const at::ScalarType t = w.view.format == Format::F16    ? at::kHalf
                                 : w.view.format == Format::BF16 ? at::kBFloat16
                                                                 : at::kFloat;
        add(base, w.dense().to(t));  // exact: the view holds values of that type
    }
}

}  // namespace

bool encodedTensors(const std::string& name, const LinearOp& op, const TensorSink& add) {
    if (auto* p = dynamic_cast<const PackedLinear*>(&op)) {
        packedTensors(name + ".weight", p->weight(), add);
        return true;
    }
    if (auto* lr = dynamic_cast<const PackedLowRankLinear*>(&op)) {
        if (!isBlock(lr->left().view.format) && !isBlock(lr->right().view.format)) return false;
        packedTensors(name + ".lowrank_left", lr->left(), add);
        packedTensors(name + ".lowrank_right", lr->right(), add);
        return true;
    }
    if (auto* s = dynamic_cast<const SumLinear*>(&op)) {
        auto* base = dynamic_cast<const PackedLinear*>(&s->base());
        auto* corr = dynamic_cast<const PackedLowRankLinear*>(&s->correction());
        if (!base || !corr || !isBlock(base->weight().view.format))
            fail(name, "a corrected map is stored only as a q8/q4 weight plus packed low-rank factors");
        packedTensors(name + ".weight", base->weight(), add);
        packedTensors(name + ".lqer_left", corr->left(), add);
        packedTensors(name + ".lqer_right", corr->right(), add);
        return true;
    }
    return false;
}

// ---- loading --------------------------------------------------------------------------------

bool hasBlockMatrix(const Checkpoint& ckpt, const std::string& base) {
    return ckpt.find(base + ".q8") != nullptr || ckpt.find(base + ".q4") != nullptr;
}

BlockMatrix readBlockMatrix(const Checkpoint& ckpt, const std::string& base, std::int64_t rows, std::int64_t cols) {
    const bool q8 = ckpt.find(base + ".q8") != nullptr;
    const std::string qn = base + (q8 ? ".q8" : ".q4"), sn = qn + "_scale";
    const TensorView* q = ckpt.find(qn);
    if (!q) fail(ckpt.dir(), "tensor '" + base + ".q8' or '" + base + ".q4' is missing from the checkpoint");
    const std::string where = ckpt.fileOf(qn)->path();
    const TensorView* s = ckpt.find(sn);
    if (!s) fail(where, "tensor '" + sn + "' (the block scales of '" + qn + "') is missing");
    const Format f = q8 ? Format::Q8 : Format::Q4;
    const std::int64_t bpb = q8 ? 32 : 16;
    if (q->dtype != (q8 ? DType::I8 : DType::U8) || q->shape.size() != 2 || q->shape[1] % bpb != 0 || q->shape[1] == 0)
        fail(where, "tensor '" + qn + "' must be a 2-D " + (q8 ? "I8" : "U8") + " tensor of whole " + std::to_string(bpb) +
                        "-byte blocks per row");
    const std::int64_t nb = q->shape[1] / bpb;
    if (s->dtype != DType::F16 || s->shape != std::vector<std::int64_t>{q->shape[0], nb})
        fail(where, "tensor '" + sn + "' must be F16 [" + std::to_string(q->shape[0]) + ", " + std::to_string(nb) + "]");
    if (cols <= 0) cols = nb * kBlock;
    if (q->shape[0] != rows || nb != (cols + kBlock - 1) / kBlock)
        fail(where, "tensor '" + qn + "' holds [" + std::to_string(q->shape[0]) + ", " + std::to_string(nb * kBlock) +
                        "] values, expected [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
    BlockMatrix b = BlockMatrix::zeros(f, rows, cols);
    std::memcpy(b.data.data(), q->data, b.data.size());
    std::memcpy(b.scales.data(), s->data, b.scales.size() * sizeof(std::uint16_t));
    for (std::uint16_t h : b.scales)
        if (!std::isfinite(kernels::halfToFloat(h))) fail(where, "tensor '" + sn + "' holds a NaN or Inf scale");
    return b;
}

bool hasEncodedLinear(const Checkpoint& ckpt, const std::string& name) {
    return hasBlockMatrix(ckpt, name + ".weight") || hasBlockMatrix(ckpt, name + ".lowrank_left") ||
           hasBlockMatrix(ckpt, name + ".lowrank_right");
}

namespace {

// A factor: a block matrix, or a float tensor (16/32-bit) under `base`.
struct Factor {
    bool block = false;
    BlockMatrix m;
    const TensorView* view = nullptr;
    std::int64_t rows = 0, cols = 0;
};

Factor readFactor(const Checkpoint& ckpt, const std::string& base, std::int64_t rows, std::int64_t cols, const std::string& layer) {
    Factor f;
    if (hasBlockMatrix(ckpt, base)) {
        f.block = true;
        f.m = readBlockMatrix(ckpt, base, rows, cols);
        f.rows = f.m.rows;
        f.cols = f.m.cols;
        return f;
    }
    f.view = ckpt.find(base);
    if (!f.view) fail(ckpt.dir(), "layer '" + layer + "': tensor '" + base + "' is missing");
    if (f.view->shape.size() != 2 || (f.view->dtype != DType::F32 && f.view->dtype != DType::F16 && f.view->dtype != DType::BF16))
        fail(ckpt.fileOf(base)->path(), "tensor '" + base + "' must be a 2-D F32, F16 or BF16 tensor");
    f.rows = f.view->shape[0];
    f.cols = f.view->shape[1];
    if (f.rows != rows || (cols > 0 && f.cols != cols))
        fail(ckpt.fileOf(base)->path(), "tensor '" + base + "' has the wrong shape for layer '" + layer + "'");
    return f;
}

at::Tensor denseOf(const Factor& f) {
    if (f.block) return f.m.dequantize();
    auto src = at::from_blob(const_cast<std::uint8_t*>(f.view->data), f.view->shape,
                             at::TensorOptions().dtype(f.view->dtype == DType::F32   ? at::kFloat
                                                       : f.view->dtype == DType::F16 ? at::kHalf
                                                                                     : at::kBFloat16));
    return src.to(at::kFloat).clone();
}

// The rows of a factor stored under `base` (the rank of its map).
std::int64_t rankOf(const Checkpoint& ckpt, const std::string& base, const std::string& layer) {
    const TensorView* v = ckpt.find(base + ".q8");
    if (!v) v = ckpt.find(base + ".q4");
    if (!v) v = ckpt.find(base);
    if (!v || v->shape.size() != 2 || v->shape[0] < 1)
        fail(ckpt.dir(), "layer '" + layer + "': tensor '" + base + "' is missing or not a non-empty 2-D tensor");
    return v->shape[0];
}

PackedWeight packedOf(const Factor& f) {
    if (f.block) return f.m.packed();
    at::Tensor d = denseOf(f);
    return PackedWeight::fromTensor(d, f.view->dtype == DType::F16 ? Format::F16 : f.view->dtype == DType::BF16 ? Format::BF16 : Format::F32);
}

}  // namespace

std::shared_ptr<LinearOp> loadEncodedLinear(const Checkpoint& ckpt, const std::string& name, std::int64_t out,
                                            std::int64_t in, at::Tensor bias, bool packed, at::ScalarType dtype,
                                            at::Device device) {
    const at::TensorOptions to = at::TensorOptions().dtype(dtype).device(device);
    if (bias.defined()) bias = packed ? bias.to(at::kFloat) : bias.to(to);
    if (hasBlockMatrix(ckpt, name + ".weight")) {
        const BlockMatrix w = readBlockMatrix(ckpt, name + ".weight", out, in);
        const std::string method = w.format == Format::Q8 ? "q8" : "q4";
        std::shared_ptr<LinearOp> base;
        if (packed) base = std::make_shared<PackedLinear>(w.packed(), bias, method);
        else base = std::make_shared<DenseLinear>(w.dequantize().to(to), bias);
        const bool corrected = ckpt.find(name + ".lqer_left") || hasBlockMatrix(ckpt, name + ".lqer_left");
        if (!corrected) return base;
        const std::int64_t rank = rankOf(ckpt, name + ".lqer_right", name);
        const Factor r = readFactor(ckpt, name + ".lqer_right", rank, in, name);
        const Factor l = readFactor(ckpt, name + ".lqer_left", out, rank, name);
        std::shared_ptr<LinearOp> corr;
        if (packed) corr = std::make_shared<PackedLowRankLinear>(packedOf(l), packedOf(r), at::Tensor(), "lqer");
        else corr = std::make_shared<LowRankLinear>(denseOf(l).to(to), denseOf(r).to(to), at::Tensor(), "lqer");
        return std::make_shared<SumLinear>(base, corr, method + "+lqer");
    }
    // Low-rank with quantized factors: the right factor fixes the rank.
    const std::int64_t rank = rankOf(ckpt, name + ".lowrank_right", name);
    const Factor r = readFactor(ckpt, name + ".lowrank_right", rank, in, name);
    const Factor l = readFactor(ckpt, name + ".lowrank_left", out, rank, name);
    const std::string method = std::string("lowrank-") + (l.block ? suffixOf(l.m.format) : "f") + (r.block ? suffixOf(r.m.format) : "f");
    if (packed) return std::make_shared<PackedLowRankLinear>(packedOf(l), packedOf(r), bias, method);
    return std::make_shared<LowRankLinear>(denseOf(l).to(to), denseOf(r).to(to), bias, method);
}

}  // namespace qcw
