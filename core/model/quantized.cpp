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

}  // namespace qcw
