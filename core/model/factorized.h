#pragma once
// Factorized linear maps that compute in factored form; the dense weight is never rebuilt in
// the forward pass. Built by the decomposition engine, saved and loaded through safetensors +
// compression.json.
#include "model/phi_model.h"

#include <memory>
#include <vector>

namespace qcw {

// y = (x right^T) left^T + b: left [out, r], right [r, in].
class LowRankLinear final : public LinearOp {
public:
    LowRankLinear(at::Tensor left, at::Tensor right, at::Tensor bias, std::string method = "svd")
        : left_(std::move(left)), right_(std::move(right)), bias_(std::move(bias)), method_(std::move(method)) {}
    at::Tensor forward(const at::Tensor& x) const override;
    std::int64_t inFeatures() const override { return right_.size(1); }
    std::int64_t outFeatures() const override { return left_.size(0); }
    std::int64_t parameterCount() const override;
    std::string method() const override { return method_; }
    at::Tensor denseWeight() const override { return at::matmul(left_, right_); }
    at::Tensor bias() const override { return bias_; }
    void to(at::Device device, at::ScalarType dtype) override;
    int rank() const { return static_cast<int>(left_.size(1)); }
    at::Tensor& left() { return left_; }
    at::Tensor& right() { return right_; }
    at::Tensor& mutableBias() { return bias_; }
    std::vector<std::pair<std::string, at::Tensor*>> namedParameters() override;

private:
    at::Tensor left_, right_, bias_;
    std::string method_;
};

// Bases shared by the members of a Tucker group (Q/K/V of a layer, or one matrix type across
// layers): W_l ~= outBasis G_l inBasis^T. outBasis may be undefined (identity).
struct TuckerBases {
    std::string group;
    at::Tensor outBasis, inBasis;
};

class TuckerLinear final : public LinearOp {
public:
    // `ownsBases`: exactly one member of a group counts the shared bases as its parameters.
    TuckerLinear(std::shared_ptr<TuckerBases> bases, at::Tensor core, at::Tensor bias, bool ownsBases)
        : bases_(std::move(bases)), core_(std::move(core)), bias_(std::move(bias)), owns_(ownsBases) {}
    at::Tensor forward(const at::Tensor& x) const override;
    std::int64_t inFeatures() const override { return bases_->inBasis.size(0); }
    std::int64_t outFeatures() const override;
    std::int64_t parameterCount() const override;
    std::string method() const override { return "tucker"; }
    at::Tensor denseWeight() const override;
    at::Tensor bias() const override { return bias_; }
    void to(at::Device device, at::ScalarType dtype) override;
    const std::shared_ptr<TuckerBases>& bases() const { return bases_; }
    const at::Tensor& core() const { return core_; }
    bool ownsBases() const { return owns_; }
    at::Tensor& mutableBias() { return bias_; }
    // Core and bias; the owner of the bases also lists them ("tucker_in_basis", "tucker_out_basis").
    std::vector<std::pair<std::string, at::Tensor*>> namedParameters() override;

private:
    std::shared_ptr<TuckerBases> bases_;
    at::Tensor core_, bias_;
    bool owns_;
};

// Matrix product operator: cores G_k [r_{k-1}, m_k, n_k, r_k].
class TTLinear final : public LinearOp {
public:
    TTLinear(std::vector<at::Tensor> cores, at::Tensor bias);
    at::Tensor forward(const at::Tensor& x) const override;
    std::int64_t inFeatures() const override { return in_; }
    std::int64_t outFeatures() const override { return out_; }
    std::int64_t parameterCount() const override;
    std::string method() const override { return "tt"; }
    at::Tensor denseWeight() const override;
    at::Tensor bias() const override { return bias_; }
    void to(at::Device device, at::ScalarType dtype) override;
    const std::vector<at::Tensor>& cores() const { return cores_; }
    std::vector<std::int64_t> bonds() const;
    at::Tensor& mutableBias() { return bias_; }
    std::vector<std::pair<std::string, at::Tensor*>> namedParameters() override;  // "tt_core_K", "bias"

private:
    std::vector<at::Tensor> cores_;
    at::Tensor bias_;
    std::int64_t in_ = 1, out_ = 1;
};

// y = x W^T through TT cores without forming W; x [..., n].
at::Tensor ttApply(const std::vector<at::Tensor>& cores, const at::Tensor& x);
// The dense matrix of TT cores (analysis, tests, and TTLinear::forward for many rows at high bonds).
at::Tensor ttDense(const std::vector<at::Tensor>& cores);
// Multiply-adds x 2 of ttApply for one input row, and of ttDense.
double ttApplyFlopsPerRow(const std::vector<at::Tensor>& cores);
double ttDenseFlops(const std::vector<at::Tensor>& cores);

}  // namespace qcw
