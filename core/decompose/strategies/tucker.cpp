// tucker: Q, K and V of each layer as one Tucker-2 stack with shared bases; the other matrices
// svd (asvd with calibration). Also the Tucker building block of tucker-xl and auto.
#include "decompose/strategies/strategy.h"

#include "common/error.h"
#include "decompose/decompose.h"
#include "model/factorized.h"

#include <algorithm>
#include <cmath>

namespace qcw {

// Tucker-2 with rOut = rIn = r over L members: r m + r n + L r^2 <= budget.
int tuckerRankForBudget(std::int64_t m, std::int64_t n, std::int64_t L, double budget) {
    const double a = double(L), b = double(m + n);
    const double r = (-b + std::sqrt(b * b + 4 * a * budget)) / (2 * a);
    return static_cast<int>(std::max<double>(1, std::min<double>(double(std::min(m, n)), std::floor(r))));
}

Candidate tuckerCandidate(const Group& g, int rank, const std::vector<const InputStats*>& stats, const at::Tensor& sharedXtx,
                          const CompressOptions& o, const std::string& method) {
    std::vector<at::Tensor> ws;
    for (std::size_t i = 0; i < g.slots.size(); ++i)
        ws.push_back(targetWeight((*g.slots[i])->denseWeight().to(at::kDouble), stats[i]));
    const std::int64_t m = ws[0].size(0), n = ws[0].size(1);
    TuckerOptions to;
    to.rankOut = std::min<int>(rank, static_cast<int>(m));
    to.rankIn = std::min<int>(rank, static_cast<int>(n));
    to.xtx = sharedXtx;
    TuckerResult t = tuckerStack(ws, to);
    auto bases = std::make_shared<TuckerBases>();
    bases->group = g.info.name;
    const auto st = (*g.slots[0])->bias().defined() ? (*g.slots[0])->bias().scalar_type() : at::kFloat;
    bases->inBasis = t.inBasis.to(st);
    bases->outBasis = t.outBasis.defined() ? t.outBasis.to(st) : at::Tensor();
    Candidate c;
    const std::int64_t basisParams = (t.outBasis.defined() ? t.outBasis.numel() : 0) + t.inBasis.numel();
    for (std::size_t i = 0; i < g.slots.size(); ++i) {
        const LinearOp& op = **g.slots[i];
        at::Tensor w = op.denseWeight().to(at::kDouble);
        at::Tensor approx = tuckerReconstruct(t, i);
        LayerReport r;
        r.name = g.info.members[i];
        r.group = g.info.name;
        r.method = method;
        r.ranks = {to.rankOut, to.rankIn};
        r.paramsBefore = w.numel();
        r.paramsAfter = t.core.select(0, static_cast<std::int64_t>(i)).numel() + (i == 0 ? basisParams : 0);
        r.whitening = sharedXtx.defined() ? "eigen" : "";
        fillErrors(r, w, approx, stats[i]);
        c.error += squaredRel(stats[i] ? r.outError : r.relError) / double(g.slots.size());
        c.ops.push_back(std::make_shared<TuckerLinear>(bases, t.core.select(0, static_cast<std::int64_t>(i)).to(st).contiguous(),
                                                       correctedBias(op.bias(), w, approx, stats[i], o.biasCorrection), i == 0));
        c.reports.push_back(r);
    }
    return c;
}

namespace {

class TuckerStrategy final : public DecompositionStrategy {
public:
    const StrategyInfo& info() const override {
        static const StrategyInfo i{"tucker", "Tucker (Q/K/V per layer)", "Q, K and V of each layer as one Tucker-2 stack with shared bases",
                                    false, false, false, true, {"tucker", "lowrank", "lowrank-int8"}};
        return i;
    }
    std::vector<Group> plan(PhiModel& model, const CompressOptions& o) const override {
        const std::string lr = lowRankFor(o);
        return planByRule(model, o, {"tucker", "", [lr](int) { return lr; }, lr});
    }
    Candidate factorize(const FactorizeRequest& q) const override { return tuckerGroup(q, info().id); }
};

}  // namespace

Candidate tuckerGroup(const FactorizeRequest& q, const std::string& method) {
    const Group& g = q.group;
    const std::int64_t m = g.info.shape[0], n = g.info.shape[1];
    const int r = q.rank ? q.rank
                         : tuckerRankForBudget(m, n, static_cast<std::int64_t>(g.slots.size()), q.memberBudget * double(g.slots.size()));
    return tuckerCandidate(g, r, q.stats, q.sharedXtx, q.options, method);
}

std::shared_ptr<const DecompositionStrategy> makeTuckerStrategy() { return std::make_shared<TuckerStrategy>(); }

}  // namespace qcw
