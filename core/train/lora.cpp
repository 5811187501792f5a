// LoRA adapters around any linear map, and folding them back in.
#include "train/train.h"

#include "common/error.h"
#include "model/factorized.h"

#include <ATen/core/grad_mode.h>

#include <cmath>

namespace qcw {

LoraLinear::LoraLinear(std::shared_ptr<LinearOp> base, int rank, double alpha, std::uint64_t seed)
    : base_(std::move(base)) {
    if (!base_) fail("LoRA", "no base layer");
    if (rank <= 0) fail("--lora-rank " + std::to_string(rank), "must be positive");
    const std::int64_t in = base_->inFeatures(), out = base_->outFeatures();
    scale_ = alpha / double(rank);
    // A: uniform in [-1/sqrt(in), 1/sqrt(in)] from a seeded engine, so runs repeat exactly.
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    const float bound = 1.0f / std::sqrt(float(in));
    std::vector<float> buf(static_cast<std::size_t>(rank * in));
    for (auto& x : buf) x = dist(rng) * bound;
    at::Tensor w = base_->denseWeight();
    const auto opts = at::TensorOptions().dtype(w.scalar_type()).device(w.device());
    a_ = at::from_blob(buf.data(), {rank, in}, at::kFloat).clone().to(opts);
    b_ = at::zeros({out, rank}, opts);
}

at::Tensor LoraLinear::forward(const at::Tensor& x) const {
    return base_->forward(x) + at::linear(at::linear(x, a_), b_) * scale_;
}

at::Tensor LoraLinear::denseWeight() const { return base_->denseWeight() + at::matmul(b_, a_) * scale_; }

void LoraLinear::to(at::Device device, at::ScalarType dtype) {
    base_->to(device, dtype);
    a_ = a_.to(device, dtype);
    b_ = b_.to(device, dtype);
}

std::vector<std::pair<std::string, at::Tensor*>> LoraLinear::namedParameters() {
    return {{"lora_A", &a_}, {"lora_B", &b_}};
}

std::shared_ptr<LinearOp> LoraLinear::merge() const {
    at::NoGradGuard noGrad;
    auto copy = [](const at::Tensor& t) { return t.defined() ? t.detach().clone() : t; };
    const at::Tensor a = a_.detach(), sb = b_.detach() * scale_;
    if (auto* d = dynamic_cast<const DenseLinear*>(base_.get()))
        return std::make_shared<DenseLinear>(d->weight().detach() + at::matmul(sb, a), copy(d->bias()));
    if (auto* lr = dynamic_cast<const LowRankLinear*>(base_.get())) {
        auto& m = const_cast<LowRankLinear&>(*lr);
        return std::make_shared<LowRankLinear>(at::cat({m.left().detach(), sb}, 1), at::cat({m.right().detach(), a}, 0),
                                               copy(m.bias()), m.method());
    }
    if (auto* tk = dynamic_cast<const TuckerLinear*>(base_.get())) {
        const auto& bases = *tk->bases();
        at::Tensor left = bases.outBasis.defined() ? at::matmul(bases.outBasis.detach(), tk->core().detach())
                                                   : tk->core().detach().clone();
        return std::make_shared<LowRankLinear>(at::cat({left, sb}, 1), at::cat({bases.inBasis.detach().t(), a}, 0),
                                               copy(tk->bias()), "tucker+lora");
    }
    return std::make_shared<DenseLinear>(base_->denseWeight().detach() + at::matmul(sb, a), copy(base_->bias()));
}

std::vector<std::string> applyLora(PhiModel& model, const LoraOptions& o) {
    std::vector<std::string> done;
    std::uint64_t k = 0;
    for (auto& [name, slot] : model.linearOps()) {
        ++k;
        bool match = false;
        for (const auto& t : o.targets) match = match || (!t.empty() && name.find(t) != std::string::npos);
        if (!match) continue;
        if (dynamic_cast<LoraLinear*>(slot->get())) fail(name, "already has a LoRA adapter");
        if (name == "lm_head" && model.config.tieWordEmbeddings && (*slot)->method() == "dense")
            fail(name, "is tied to the embedding; a LoRA adapter on it could not be exported");
        *slot = std::make_shared<LoraLinear>(*slot, o.rank, o.alpha, o.seed + 7919 * k);
        done.push_back(name);
    }
    if (done.empty()) fail("LoRA targets", "no linear map matches any of the target patterns");
    return done;
}

int mergeLora(PhiModel& model) {
    int n = 0;
    for (auto& [name, slot] : model.linearOps())
        if (auto* l = dynamic_cast<LoraLinear*>(slot->get())) {
            *slot = l->merge();
            ++n;
        }
    return n;
}

bool hasLora(const PhiModel& model) {
    for (auto& [name, slot] : const_cast<PhiModel&>(model).linearOps())
        if (dynamic_cast<LoraLinear*>(slot->get())) return true;
    return false;
}

}  // namespace qcw
