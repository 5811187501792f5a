// auto: per group, the candidate with the lowest error at the group's budget: for a Q/K/V stack
// Tucker against separate low-rank factors, for one matrix low rank against (big matrices only)
// a tensor train.
#include "decompose/strategies/strategy.h"

#include <algorithm>

namespace qcw {

namespace {

bool isBig(const LinearOp& op) { return op.inFeatures() * op.outFeatures() >= 4 * 1024 * 1024 || std::max(op.inFeatures(), op.outFeatures()) >= 4 * std::min(op.inFeatures(), op.outFeatures()); }

class AutoStrategy final : public DecompositionStrategy {
public:
    const StrategyInfo& info() const override {
        static const StrategyInfo i{"auto", "Auto", "Per group, the candidate with the lowest error at its budget", false, false,
                                    false, true, {"tucker", "tt", "lowrank", "lowrank-int8"}};
        return i;
    }
    std::vector<Group> plan(PhiModel& model, const CompressOptions& o) const override {
        return planByRule(model, o, {"auto", "", [](int) { return std::string("auto"); }, "auto"});
    }
    Candidate factorize(const FactorizeRequest& q) const override {
        const Group& g = q.group;
        const auto& stats = q.stats;
        const CompressOptions& o = q.options;
        const std::int64_t m = g.info.shape[0], n = g.info.shape[1];
        const double memberBudget = q.memberBudget;
        const bool whiten = stats[0] != nullptr;  // asvd with calibration, else svd
        std::vector<Candidate> cands;
        if (g.slots.size() > 1) {
            cands.push_back(tuckerCandidate(g, tuckerRankForBudget(m, n, static_cast<std::int64_t>(g.slots.size()),
                                                                   memberBudget * double(g.slots.size())),
                                            stats, q.sharedXtx, o, "tucker"));
            Candidate sep;
            for (std::size_t i = 0; i < g.slots.size(); ++i) {
                Candidate c = lowRankCandidate(g, i, whiten, lowRankForBudget(m, n, memberBudget), stats[i], o);
                sep.ops.push_back(c.ops[0]);
                sep.reports.push_back(c.reports[0]);
                sep.error += c.error / double(g.slots.size());
            }
            cands.push_back(std::move(sep));
        } else {
            cands.push_back(lowRankCandidate(g, 0, whiten, lowRankForBudget(m, n, memberBudget), stats[0], o));
            if (isBig(**g.slots[0])) cands.push_back(ttCandidate(g, 0, ttBondForBudget(m, n, o.ttCores, memberBudget), stats[0], o));
        }
        std::size_t bi = 0;
        for (std::size_t i = 1; i < cands.size(); ++i)
            if (cands[i].error < cands[bi].error) bi = i;
        return std::move(cands[bi]);
    }
};

}  // namespace

std::shared_ptr<const DecompositionStrategy> makeAutoStrategy() { return std::make_shared<AutoStrategy>(); }

}  // namespace qcw
