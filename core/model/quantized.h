#pragma once
// Weight-only int8 quantization, per output channel, symmetric: w ~= q * scale with
// q in [-127, 127] and scale = max|w_row| / 127. The baseline users would pick instead of a
// decomposition. The forward pass dequantizes the weight (no int8 GEMM kernels are used), so it
// saves bytes on disk and in memory at rest, not time.
#include "model/phi_model.h"

namespace qcw {

class Int8Linear final : public LinearOp {
public:
    Int8Linear(at::Tensor qweight, at::Tensor scale, at::Tensor bias);
    static std::shared_ptr<Int8Linear> quantize(const at::Tensor& weight, const at::Tensor& bias);

    at::Tensor forward(const at::Tensor& x) const override;
    std::int64_t inFeatures() const override { return q_.size(1); }
    std::int64_t outFeatures() const override { return q_.size(0); }
    std::int64_t parameterCount() const override;
    std::string method() const override { return "int8"; }
    at::Tensor denseWeight() const override;
    at::Tensor bias() const override { return bias_; }
    void to(at::Device device, at::ScalarType dtype) override;
    std::vector<std::pair<std::string, at::Tensor*>> namedParameters() override;  // the bias only
    std::int64_t storedBytes() const override {
        return static_cast<std::int64_t>(q_.nbytes() + scale_.nbytes() + (bias_.defined() ? bias_.nbytes() : 0));
    }
    const at::Tensor& qweight() const { return q_; }
    const at::Tensor& scale() const { return scale_; }

private:
    at::Tensor q_, scale_, bias_;
};

// A low-rank map W ~ L R with both factors in int8, per output channel of each factor:
// L ~ qL * sL (one scale per row of L), R ~ qR * sR (one scale per row of R). Stored as
// <name>.lowrank_left (I8) + .lowrank_left_scale and .lowrank_right (I8) + .lowrank_right_scale.
// Computes x R^T then L^T in the compute dtype after dequantizing (no int8 kernels).
class Int8LowRankLinear final : public LinearOp {
public:
    Int8LowRankLinear(at::Tensor qLeft, at::Tensor leftScale, at::Tensor qRight, at::Tensor rightScale, at::Tensor bias);
    static std::shared_ptr<Int8LowRankLinear> quantize(const at::Tensor& left, const at::Tensor& right, const at::Tensor& bias);

    at::Tensor forward(const at::Tensor& x) const override;
    std::int64_t inFeatures() const override { return qr_.size(1); }
    std::int64_t outFeatures() const override { return ql_.size(0); }
    std::int64_t rank() const { return qr_.size(0); }
    std::int64_t parameterCount() const override;
    std::string method() const override { return "lowrank-int8"; }
    at::Tensor denseWeight() const override;
    at::Tensor bias() const override { return bias_; }
    void to(at::Device device, at::ScalarType dtype) override;
    std::vector<std::pair<std::string, at::Tensor*>> namedParameters() override;  // the bias only
    std::int64_t storedBytes() const override {
        return static_cast<std::int64_t>(ql_.nbytes() + sl_.nbytes() + qr_.nbytes() + sr_.nbytes() +
                                         (bias_.defined() ? bias_.nbytes() : 0));
    }
    const at::Tensor& qLeft() const { return ql_; }
    const at::Tensor& leftScale() const { return sl_; }
    const at::Tensor& qRight() const { return qr_; }
    const at::Tensor& rightScale() const { return sr_; }

private:
    at::Tensor ql_, sl_, qr_, sr_, bias_;
};

}  // namespace qcw
