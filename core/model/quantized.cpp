#include "model/quantized.h"

#include "common/error.h"

namespace qcw {

Int8Linear::Int8Linear(at::Tensor qweight, at::Tensor scale, at::Tensor bias)
    : q_(std::move(qweight)), scale_(std::move(scale)), bias_(std::move(bias)) {
    if (q_.dim() != 2 || q_.scalar_type() != at::kChar) fail("Int8Linear", "the quantized weight must be a 2-D int8 tensor");
    if (scale_.dim() != 1 || scale_.size(0) != q_.size(0)) fail("Int8Linear", "one scale per output channel is needed");
}

std::shared_ptr<Int8Linear> Int8Linear::quantize(const at::Tensor& weight, const at::Tensor& bias) {
    at::Tensor w = weight.to(at::kFloat);
    at::Tensor scale = w.abs().amax({1}).clamp_min(1e-12) / 127.0;
    at::Tensor q = at::round(w / scale.unsqueeze(1)).clamp(-127, 127).to(at::kChar);
    return std::make_shared<Int8Linear>(q, scale, bias);
}

at::Tensor Int8Linear::forward(const at::Tensor& x) const {
    return at::linear(x, q_.to(x.scalar_type()) * scale_.to(x.scalar_type()).unsqueeze(1), bias_);
}

// The per-channel scales are stored numbers too, so they count (as the inventory counts them).
std::int64_t Int8Linear::parameterCount() const { return q_.numel() + scale_.numel() + (bias_.defined() ? bias_.numel() : 0); }

at::Tensor Int8Linear::denseWeight() const { return q_.to(at::kFloat) * scale_.unsqueeze(1); }

void Int8Linear::to(at::Device d, at::ScalarType s) {
    q_ = q_.to(d);
    scale_ = scale_.to(d, at::kFloat);
    if (bias_.defined()) bias_ = bias_.to(d, s);
}

std::vector<std::pair<std::string, at::Tensor*>> Int8Linear::namedParameters() {
    if (bias_.defined()) return {{"bias", &bias_}};
    return {};
}

namespace {
std::pair<at::Tensor, at::Tensor> quantizeRows(const at::Tensor& m) {
    at::Tensor w = m.to(at::kFloat);
    at::Tensor scale = w.abs().amax({1}).clamp_min(1e-12) / 127.0;
    return {at::round(w / scale.unsqueeze(1)).clamp(-127, 127).to(at::kChar), scale};
}
}  // namespace

Int8LowRankLinear::Int8LowRankLinear(at::Tensor qLeft, at::Tensor leftScale, at::Tensor qRight, at::Tensor rightScale,
                                     at::Tensor bias)
    : ql_(std::move(qLeft)), sl_(std::move(leftScale)), qr_(std::move(qRight)), sr_(std::move(rightScale)), bias_(std::move(bias)) {
    if (ql_.dim() != 2 || qr_.dim() != 2 || ql_.scalar_type() != at::kChar || qr_.scalar_type() != at::kChar)
        fail("Int8LowRankLinear", "the factors must be 2-D int8 tensors");
    if (ql_.size(1) != qr_.size(0)) fail("Int8LowRankLinear", "the factors' inner dimensions differ");
    if (sl_.dim() != 1 || sl_.size(0) != ql_.size(0) || sr_.dim() != 1 || sr_.size(0) != qr_.size(0))
        fail("Int8LowRankLinear", "one scale per row of each factor is needed");
}

std::shared_ptr<Int8LowRankLinear> Int8LowRankLinear::quantize(const at::Tensor& left, const at::Tensor& right,
                                                               const at::Tensor& bias) {
    auto [ql, sl] = quantizeRows(left);
    auto [qr, sr] = quantizeRows(right);
    return std::make_shared<Int8LowRankLinear>(ql, sl, qr, sr, bias);
}

at::Tensor Int8LowRankLinear::forward(const at::Tensor& x) const {
    const auto t = x.scalar_type();
    at::Tensor h = at::linear(x, qr_.to(t) * sr_.to(t).unsqueeze(1));
    return at::linear(h, ql_.to(t) * sl_.to(t).unsqueeze(1), bias_);
}

std::int64_t Int8LowRankLinear::parameterCount() const {
    return ql_.numel() + sl_.numel() + qr_.numel() + sr_.numel() + (bias_.defined() ? bias_.numel() : 0);
}

at::Tensor Int8LowRankLinear::denseWeight() const {
    return at::matmul(ql_.to(at::kFloat) * sl_.unsqueeze(1), qr_.to(at::kFloat) * sr_.unsqueeze(1));
}

void Int8LowRankLinear::to(at::Device d, at::ScalarType s) {
    ql_ = ql_.to(d);
    qr_ = qr_.to(d);
    sl_ = sl_.to(d, at::kFloat);
    sr_ = sr_.to(d, at::kFloat);
    if (bias_.defined()) bias_ = bias_.to(d, s);
}

std::vector<std::pair<std::string, at::Tensor*>> Int8LowRankLinear::namedParameters() {
    if (bias_.defined()) return {{"bias", &bias_}};
    return {};
}

}  // namespace qcw
