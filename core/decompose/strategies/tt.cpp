// tt: tensor-train (MPO) for fc1, fc2 and lm_head; svd (asvd with calibration) for the
// attention matrices. Also the tensor-train building block of auto.
#include "decompose/strategies/strategy.h"

#include "common/error.h"
#include "decompose/decompose.h"
#include "model/factorized.h"

#include <algorithm>
#include <cmath>

namespace qcw {

namespace {

std::int64_t ttParams(const std::vector<std::int64_t>& rf, const std::vector<std::int64_t>& cf, int chi) {
    const std::size_t d = rf.size();
    std::vector<std::int64_t> bonds(d + 1, 1);
    // Bond k is capped by the sizes on either side of the cut.
    for (std::size_t k = 1; k < d; ++k) {
        std::int64_t left = 1, right = 1;
        for (std::size_t i = 0; i < k; ++i) left *= rf[i] * cf[i];
        for (std::size_t i = k; i < d; ++i) right *= rf[i] * cf[i];
        bonds[k] = std::min<std::int64_t>({chi, left, right});
    }
    std::int64_t p = 0;
    for (std::size_t k = 0; k < d; ++k) p += bonds[k] * rf[k] * cf[k] * bonds[k + 1];
    return p;
}

class TtStrategy final : public DecompositionStrategy {
public:
    const StrategyInfo& info() const override {
        static const StrategyInfo i{"tt", "Tensor train", "Tensor-train (MPO) for fc1, fc2 and lm_head; SVD elsewhere",
                                    false, false, true, true, {"tt", "lowrank", "lowrank-int8"}};
        return i;
    }
    std::vector<Group> plan(PhiModel& model, const CompressOptions& o) const override {
        const std::string lr = lowRankFor(o);
        return planByRule(model, o, {"", "", [lr](int kind) { return kind >= 4 ? std::string("tt") : lr; }, "tt"});
    }
    Candidate factorize(const FactorizeRequest& q) const override {
        const std::int64_t m = q.group.info.shape[0], n = q.group.info.shape[1];
        return ttCandidate(q.group, 0, q.rank ? q.rank : ttBondForBudget(m, n, q.options.ttCores, q.memberBudget), q.stats[0],
                           q.options);
    }
};

}  // namespace

int ttBondForBudget(std::int64_t m, std::int64_t n, int cores, double budget) {
    const auto rf = balancedFactors(m, cores), cf = balancedFactors(n, cores);
    int lo = 1, hi = static_cast<int>(std::min<std::int64_t>(m, n));
    if (ttParams(rf, cf, lo) > budget) return 1;
    while (lo < hi) {
        const int mid = lo + (hi - lo + 1) / 2;
        if (double(ttParams(rf, cf, mid)) <= budget) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

Candidate ttCandidate(const Group& g, std::size_t member, int bond, const InputStats* s, const CompressOptions& o) {
    const LinearOp& op = **g.slots[member];
    at::Tensor w = op.denseWeight().to(at::kDouble);
    at::Tensor target = targetWeight(w, s);
    TTResult tt = ttSvd(target, TTOptions().numCores(o.ttCores).bond(bond));
    at::Tensor approx = ttDense(tt.cores);
    Candidate c;
    LayerReport r;
    r.name = g.info.members[member];
    r.group = g.info.name;
    r.method = "tt";
    for (auto b : tt.bonds) r.ranks.push_back(static_cast<int>(b));
    r.paramsBefore = w.numel();
    r.paramsAfter = tt.parameterCount();
    fillErrors(r, w, approx, s);
    const auto st = op.bias().defined() ? op.bias().scalar_type() : at::kFloat;
    std::vector<at::Tensor> cores;
    for (auto& k : tt.cores) cores.push_back(k.to(st));
    c.ops.push_back(std::make_shared<TTLinear>(cores, correctedBias(op.bias(), w, approx, s, o.biasCorrection)));
    c.error = squaredRel(s ? r.outError : r.relError);
    c.reports.push_back(r);
    return c;
}

std::shared_ptr<const DecompositionStrategy> makeTtStrategy() { return std::make_shared<TtStrategy>(); }

}  // namespace qcw
