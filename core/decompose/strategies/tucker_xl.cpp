// tucker-xl: each matrix type across all layers as one Tucker-2 stack (shared bases); the
// calibration statistics of a stack's members are pooled over the walk.
#include "decompose/strategies/strategy.h"

#include "common/error.h"
#include "decompose/decompose.h"
#include "model/factorized.h"

#include <algorithm>
#include <cmath>

namespace qcw {

namespace {

class TuckerXlStrategy final : public DecompositionStrategy {
public:
    const StrategyInfo& info() const override {
        static const StrategyInfo i{"tucker-xl", "Tucker (across layers)", "Each matrix type across all layers as one Tucker-2 stack",
                                    false, false, false, true, {"tucker", "lowrank", "lowrank-int8"}};
        return i;
    }
    std::vector<Group> plan(PhiModel& model, const CompressOptions& o) const override {
        const std::string lr = lowRankFor(o);
        return planByRule(model, o, {"", "tucker-xl", [lr](int) { return lr; }, lr});
    }
    bool crossLayer() const override { return true; }
    Candidate factorize(const FactorizeRequest& q) const override { return tuckerGroup(q, info().id); }
};

}  // namespace

std::shared_ptr<const DecompositionStrategy> makeTuckerXlStrategy() { return std::make_shared<TuckerXlStrategy>(); }

}  // namespace qcw
