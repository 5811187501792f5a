// AdamW (decoupled weight decay, bias correction) and the warmup + cosine schedule.
#include "train/optimizer.h"

#include "common/error.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>

namespace qcw {

AdamW::AdamW(std::vector<std::pair<std::string, at::Tensor*>> params, AdamWOptions opts)
    : params_(std::move(params)), o_(opts) {
    if (params_.empty()) fail("AdamW", "no parameters to optimize");
    for (auto& [name, p] : params_) {
        if (!p->defined()) fail("AdamW", "parameter '" + name + "' is undefined");
        if (!at::isFloatingType(p->scalar_type())) fail("AdamW", "parameter '" + name + "' is not floating point");
        m_.push_back(at::zeros_like(*p, at::MemoryFormat::Contiguous));
        v_.push_back(at::zeros_like(*p, at::MemoryFormat::Contiguous));
    }
}

void AdamW::zeroGrad() {
    for (auto& [name, p] : params_) p->mutable_grad() = at::Tensor();
}

double AdamW::clipGradNorm(double maxNorm) {
    at::NoGradGuard noGrad;
    double sq = 0.0;
    for (auto& [name, p] : params_) {
        const at::Tensor& g = p->grad();
        if (g.defined()) sq += g.to(at::kDouble).pow(2).sum().item<double>();
    }
    const double norm = std::sqrt(sq);
    if (maxNorm > 0 && norm > maxNorm) {
        const double f = maxNorm / (norm + 1e-6);
        for (auto& [name, p] : params_)
            if (p->grad().defined()) p->mutable_grad().mul_(f);
    }
    return norm;
}

void AdamW::step(double lr) {
    at::NoGradGuard noGrad;
    ++t_;
    const double bc1 = 1.0 - std::pow(o_.beta1, double(t_));
    const double bc2 = 1.0 - std::pow(o_.beta2, double(t_));
    for (std::size_t i = 0; i < params_.size(); ++i) {
        at::Tensor& p = *params_[i].second;
        const at::Tensor& g = p.grad();
        if (!g.defined()) continue;  // not reached by this step's loss
        m_[i].mul_(o_.beta1).add_(g, 1.0 - o_.beta1);
        v_[i].mul_(o_.beta2).addcmul_(g, g, 1.0 - o_.beta2);
        if (o_.weightDecay != 0.0 && p.dim() >= 2) p.mul_(1.0 - lr * o_.weightDecay);
        at::Tensor denom = (v_[i] / bc2).sqrt_().add_(o_.eps);
        p.addcdiv_(m_[i], denom, -lr / bc1);
    }
}

double warmupCosineLr(std::int64_t step, std::int64_t total, std::int64_t warmup, double base, double minLr) {
    if (warmup > 0 && step < warmup) return base * double(step + 1) / double(warmup);
    const std::int64_t span = std::max<std::int64_t>(1, total - warmup);
    const double progress = std::min(1.0, double(step - warmup) / double(span));
    return minLr + (base - minLr) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

}  // namespace qcw
