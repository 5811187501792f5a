// asvd: activation-aware SVD, every matrix whitened by its calibration inputs' Gram matrix.
#include "decompose/strategies/strategy.h"

#include "common/error.h"
#include "decompose/decompose.h"
#include "model/factorized.h"

#include <algorithm>
#include <cmath>

namespace qcw {

namespace {

class AsvdStrategy final : public DecompositionStrategy {
public:
    const StrategyInfo& info() const override {
        static const StrategyInfo i{"asvd", "Activation-aware SVD", "SVD whitened by calibration activations (needs calibration)",
                                    true, true, true, true, {"lowrank", "lowrank-int8"}};
        return i;
    }
    std::vector<Group> plan(PhiModel& model, const CompressOptions& o) const override {
        return planByRule(model, o, {"", "", [](int) { return std::string("asvd"); }, "asvd"});
    }
    void check(const CompressOptions&, bool calibrated) const override {
        if (!calibrated) fail("--method asvd", "activation-aware SVD needs calibration text or ids (--calib)");
    }
    Candidate factorize(const FactorizeRequest& q) const override { return lowRankGroup(q, true); }
};

}  // namespace

std::shared_ptr<const DecompositionStrategy> makeAsvdStrategy() { return std::make_shared<AsvdStrategy>(); }

}  // namespace qcw
