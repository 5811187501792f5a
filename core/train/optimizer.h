#pragma once
// AdamW and the warmup + cosine learning-rate schedule, on plain ATen autograd. Used by the
// trainer (core/train) and by the variational refinement of compressed layers (core/decompose),
// which links this file's own library (qcw_optimizer) so that decompose need not link train.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qcw {

struct AdamWOptions {
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double weightDecay = 0.01;  // decoupled: p -= lr * wd * p, only on tensors of 2+ dimensions
    AdamWOptions& withBetas(double b1, double b2) { beta1 = b1; beta2 = b2; return *this; }
    AdamWOptions& withEps(double e) { eps = e; return *this; }
    AdamWOptions& withWeightDecay(double wd) { weightDecay = wd; return *this; }
};

// AdamW (Loshchilov & Hutter) with bias correction. The parameters are pointers to leaf
// tensors that require grad; step() reads their .grad() and updates them in place.
class AdamW {
public:
    AdamW(std::vector<std::pair<std::string, at::Tensor*>> params, AdamWOptions opts = {});
    void step(double lr);
    void zeroGrad();
    std::int64_t steps() const { return t_; }
    // Global L2 norm of all gradients; scales them down to maxNorm when larger. Returns the
    // norm before clipping. maxNorm <= 0 only measures.
    double clipGradNorm(double maxNorm);

    const std::vector<std::pair<std::string, at::Tensor*>>& params() const { return params_; }
    std::vector<at::Tensor>& firstMoments() { return m_; }
    std::vector<at::Tensor>& secondMoments() { return v_; }
    void setSteps(std::int64_t t) { t_ = t; }

private:
    std::vector<std::pair<std::string, at::Tensor*>> params_;
    std::vector<at::Tensor> m_, v_;
    AdamWOptions o_;
    std::int64_t t_ = 0;
};

// Linear warmup over `warmup` steps to `base`, then cosine decay to `minLr` at `total`.
// `step` is the 0-based index of the optimizer step about to be taken.
double warmupCosineLr(std::int64_t step, std::int64_t total, std::int64_t warmup, double base, double minLr);

}  // namespace qcw
