#include "model/factorized.h"

#include "common/error.h"

namespace qcw {

namespace {
std::int64_t numelOr0(const at::Tensor& t) { return t.defined() ? t.numel() : 0; }
at::Tensor moved(const at::Tensor& t, at::Device d, at::ScalarType s) { return t.defined() ? t.to(d, s) : t; }
}  // namespace

at::Tensor LowRankLinear::forward(const at::Tensor& x) const { return at::linear(at::linear(x, right_), left_, bias_); }

std::int64_t LowRankLinear::parameterCount() const { return left_.numel() + right_.numel() + numelOr0(bias_); }

void LowRankLinear::to(at::Device d, at::ScalarType s) {
    left_ = left_.to(d, s);
    right_ = right_.to(d, s);
    bias_ = moved(bias_, d, s);
}

at::Tensor TuckerLinear::forward(const at::Tensor& x) const {
    at::Tensor y = at::linear(at::matmul(x, bases_->inBasis), core_);  // [.., rOut]
    if (bases_->outBasis.defined()) return at::linear(y, bases_->outBasis, bias_);
    return bias_.defined() ? y + bias_ : y;
}

std::int64_t TuckerLinear::outFeatures() const {
    return bases_->outBasis.defined() ? bases_->outBasis.size(0) : core_.size(0);
}

std::int64_t TuckerLinear::parameterCount() const {
    std::int64_t n = core_.numel() + numelOr0(bias_);
    if (owns_) n += numelOr0(bases_->outBasis) + bases_->inBasis.numel();
    return n;
}

at::Tensor TuckerLinear::denseWeight() const {
    at::Tensor w = at::matmul(core_, bases_->inBasis.t());
    return bases_->outBasis.defined() ? at::matmul(bases_->outBasis, w) : w;
}

void TuckerLinear::to(at::Device d, at::ScalarType s) {
    // Shared bases move once, by their owner; moving twice would be harmless but wasteful.
    if (owns_ || bases_->inBasis.device() != d || bases_->inBasis.scalar_type() != s) {
        bases_->inBasis = bases_->inBasis.to(d, s);
        bases_->outBasis = moved(bases_->outBasis, d, s);
    }
    core_ = core_.to(d, s);
    bias_ = moved(bias_, d, s);
}

TTLinear::TTLinear(std::vector<at::Tensor> cores, at::Tensor bias) : cores_(std::move(cores)), bias_(std::move(bias)) {
    if (cores_.size() < 2) fail("TTLinear", "a tensor train needs at least 2 cores");
    for (std::size_t k = 0; k < cores_.size(); ++k) {
        if (cores_[k].dim() != 4) fail("TTLinear", "core " + std::to_string(k) + " must be 4-D [r, m, n, r']");
        if (k > 0 && cores_[k].size(0) != cores_[k - 1].size(3))
            fail("TTLinear", "bond mismatch between cores " + std::to_string(k - 1) + " and " + std::to_string(k));
        out_ *= cores_[k].size(1);
        in_ *= cores_[k].size(2);
    }
    if (cores_.front().size(0) != 1 || cores_.back().size(3) != 1) fail("TTLinear", "boundary bonds must be 1");
}

double ttApplyFlopsPerRow(const std::vector<at::Tensor>& cores) {
    std::int64_t n = 1;
    for (const auto& g : cores) n *= g.size(2);
    double flops = 0;
    std::int64_t mDone = 1, nRest = n;
    for (const auto& g : cores) {
        nRest /= g.size(2);
        flops += 2.0 * double(mDone) * double(nRest) * double(g.size(0) * g.size(2)) * double(g.size(1) * g.size(3));
        mDone *= g.size(1);
    }
    return flops;
}

at::Tensor TTLinear::forward(const at::Tensor& x) const {
    // Applying the cores costs `perRow` per input row; rebuilding the dense weight costs
    // ttDenseFlops once, after which each row costs 2 out_ in_. At high bonds the cores cost
    // more per row than the dense map, and for enough rows (prefill, evaluation windows,
    // training batches) rebuilding the weight for this call is cheaper. The rebuilt weight
    // lives for this call only: memory at rest stays the cores'.
    const std::int64_t rows = in_ > 0 ? x.numel() / in_ : 0;
    const double perRow = ttApplyFlopsPerRow(cores_), dense = 2.0 * double(out_) * double(in_);
    const bool rebuild = double(rows) * perRow > ttDenseFlops(cores_) + double(rows) * dense;
    at::Tensor y = rebuild ? at::matmul(x, ttDense(cores_).t()) : ttApply(cores_, x);
    return bias_.defined() ? y + bias_ : y;
}

std::int64_t TTLinear::parameterCount() const {
    std::int64_t n = numelOr0(bias_);
    for (const auto& c : cores_) n += c.numel();
    return n;
}

at::Tensor TTLinear::denseWeight() const { return ttDense(cores_); }

void TTLinear::to(at::Device d, at::ScalarType s) {
    for (auto& c : cores_) c = c.to(d, s);
    bias_ = moved(bias_, d, s);
}

std::vector<std::int64_t> TTLinear::bonds() const {
    std::vector<std::int64_t> b{cores_.front().size(0)};
    for (const auto& c : cores_) b.push_back(c.size(3));
    return b;
}

at::Tensor ttApply(const std::vector<at::Tensor>& cores, const at::Tensor& x) {
    const std::int64_t n = x.size(-1);
    std::vector<std::int64_t> lead(x.sizes().begin(), x.sizes().end() - 1);
    const std::int64_t batch = n > 0 ? x.numel() / n : 0;
    // State t: [B, Mdone, r, Nrest]; each core contracts (r, n_k) into (m_k, r').
    at::Tensor t = x.reshape({batch, 1, 1, n});
    std::int64_t mDone = 1, nRest = n;
    for (const auto& g : cores) {
        const std::int64_t r = g.size(0), mk = g.size(1), nk = g.size(2), r2 = g.size(3);
        nRest /= nk;
        at::Tensor a = t.reshape({batch, mDone, r, nk, nRest}).permute({0, 1, 4, 2, 3}).reshape({-1, r * nk});
        at::Tensor b = g.permute({0, 2, 1, 3}).reshape({r * nk, mk * r2});
        at::Tensor y = at::matmul(a, b).reshape({batch, mDone, nRest, mk, r2});
        t = y.permute({0, 1, 3, 4, 2}).reshape({batch, mDone * mk, r2, nRest});
        mDone *= mk;
    }
    lead.push_back(mDone);
    return t.reshape(lead);
}

at::Tensor ttDense(const std::vector<at::Tensor>& cores) {
    // Contract the cores into each other: [M, N, r] x [r, m, n, r'] -> [M m, N n, r'], first
    // factors major (as ttApply orders rows and columns). Costs ttDenseFlops, far below
    // applying the cores to the n rows of an identity.
    at::Tensor acc = cores[0].select(0, 0);  // [m1, n1, r1]
    std::int64_t M = acc.size(0), N = acc.size(1);
    for (std::size_t k = 1; k < cores.size(); ++k) {
        const at::Tensor& g = cores[k];
        const std::int64_t r = g.size(0), mk = g.size(1), nk = g.size(2), r2 = g.size(3);
        at::Tensor y = at::matmul(acc.reshape({M * N, r}), g.reshape({r, mk * nk * r2})).reshape({M, N, mk, nk, r2});
        acc = y.permute({0, 2, 1, 3, 4}).reshape({M * mk, N * nk, r2});
        M *= mk;
        N *= nk;
    }
    return acc.select(2, 0).contiguous();
}

double ttDenseFlops(const std::vector<at::Tensor>& cores) {
    double flops = 0, MN = double(cores[0].size(1) * cores[0].size(2));
    for (std::size_t k = 1; k < cores.size(); ++k) {
        const auto& g = cores[k];
        flops += 2.0 * MN * double(g.size(0)) * double(g.size(1) * g.size(2) * g.size(3));
        MN *= double(g.size(1) * g.size(2));
    }
    return flops;
}

std::vector<std::pair<std::string, at::Tensor*>> LowRankLinear::namedParameters() {
    std::vector<std::pair<std::string, at::Tensor*>> out{{"lowrank_left", &left_}, {"lowrank_right", &right_}};
    if (bias_.defined()) out.emplace_back("bias", &bias_);
    return out;
}

std::vector<std::pair<std::string, at::Tensor*>> TuckerLinear::namedParameters() {
    std::vector<std::pair<std::string, at::Tensor*>> out{{"tucker_core", &core_}};
    if (bias_.defined()) out.emplace_back("bias", &bias_);
    if (owns_) {
        out.emplace_back("tucker_in_basis", &bases_->inBasis);
        if (bases_->outBasis.defined()) out.emplace_back("tucker_out_basis", &bases_->outBasis);
    }
    return out;
}

std::vector<std::pair<std::string, at::Tensor*>> TTLinear::namedParameters() {
    std::vector<std::pair<std::string, at::Tensor*>> out;
    for (std::size_t k = 0; k < cores_.size(); ++k) out.emplace_back("tt_core_" + std::to_string(k), &cores_[k]);
    if (bias_.defined()) out.emplace_back("bias", &bias_);
    return out;
}

}  // namespace qcw
