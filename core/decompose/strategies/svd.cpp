// svd: truncated SVD of every matrix (plain or randomized), one rank per matrix. Also the
// per-matrix building block of the other strategies (lowRankCandidate) and asvd's.
#include "decompose/strategies/strategy.h"

#include "common/error.h"
#include "decompose/decompose.h"
#include "model/factorized.h"

#include <algorithm>
#include <cmath>

namespace qcw {

int lowRankForBudget(std::int64_t m, std::int64_t n, double budget) {
    return static_cast<int>(std::max<double>(1, std::min<double>(double(std::min(m, n)), std::floor(budget / double(m + n)))));
}

Candidate lowRankCandidate(const Group& g, std::size_t member, bool whiten, int rank,
                           const InputStats* s, const CompressOptions& o) {
    const LinearOp& op = **g.slots[member];
    // Plain truncation works in the weight's own precision (float32 SVD is twice as fast);
    // the whitened and error-feedback paths work in float64.
    at::Tensor w = s ? op.denseWeight().to(at::kDouble) : op.denseWeight();
    at::Tensor target = targetWeight(w, s);
    TruncateOptions to = TruncateOptions().rank(rank).useRandomized(o.randomized).withSeed(o.seed);
    LowRankResult lr = (whiten && s) ? whitenedSvd(target, s->xtx, to) : truncatedSvd(target, to);
    Candidate c;
    LayerReport r;
    r.name = g.info.members[member];
    r.group = g.info.name;
    r.method = (whiten && s) ? "asvd" : "svd";
    r.ranks = {lr.rank};
    r.paramsBefore = w.numel();
    r.paramsAfter = lr.left.numel() + lr.right.numel();
    r.whitening = lr.whitening;
    at::Tensor bias = op.bias();
    if (!s) {
        // Truncated (and randomized) SVD project W orthogonally, so the error is exactly the
        // discarded weight: no dense reconstruction needed on the fast path.
        r.relError = std::sqrt(lr.discardedWeight);
    } else {
        at::Tensor approx = at::matmul(lr.left, lr.right);
        fillErrors(r, w, approx, s);
        bias = correctedBias(op.bias(), w, approx, s, o.biasCorrection);
    }
    c.ops.push_back(std::make_shared<LowRankLinear>(lr.left.to(op.bias().defined() ? op.bias().scalar_type() : at::kFloat),
                                                    lr.right.to(op.bias().defined() ? op.bias().scalar_type() : at::kFloat),
                                                    bias, r.method));
    c.error = squaredRel(s ? r.outError : r.relError);
    c.reports.push_back(r);
    return c;
}

std::string lowRankFor(const CompressOptions& o) { return o.calibration.empty() ? "svd" : "asvd"; }

Candidate lowRankGroup(const FactorizeRequest& q, bool whiten) {
    const Group& g = q.group;
    const std::int64_t m = g.info.shape[0], n = g.info.shape[1];
    Candidate best;
    for (std::size_t i = 0; i < g.slots.size(); ++i) {
        Candidate c = lowRankCandidate(g, i, whiten, q.rank ? q.rank : lowRankForBudget(m, n, q.memberBudget), q.stats[i], q.options);
        best.ops.push_back(c.ops[0]);
        best.reports.push_back(c.reports[0]);
    }
    return best;
}

namespace {

class SvdStrategy final : public DecompositionStrategy {
public:
    const StrategyInfo& info() const override {
        static const StrategyInfo i{"svd", "SVD", "Truncated SVD of every matrix", false, true, true, true, {"lowrank", "lowrank-int8"}};
        return i;
    }
    std::vector<Group> plan(PhiModel& model, const CompressOptions& o) const override {
        return planByRule(model, o, {"", "", [](int) { return std::string("svd"); }, "svd"});
    }
    Candidate factorize(const FactorizeRequest& q) const override { return lowRankGroup(q, false); }
};

}  // namespace

std::shared_ptr<const DecompositionStrategy> makeSvdStrategy() { return std::make_shared<SvdStrategy>(); }

}  // namespace qcw
