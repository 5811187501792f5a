// int8: the quantization baseline: weight-only int8 per output channel. Keeps every parameter
// (needs --target-params 1), maps the weights alone (no calibration, no ranks).
#include "decompose/strategies/strategy.h"

#include "common/error.h"
#include "decompose/decompose.h"
#include "model/quantized.h"

namespace qcw {

namespace {

class Int8Strategy final : public DecompositionStrategy {
public:
    const StrategyInfo& info() const override {
        static const StrategyInfo i{"int8", "Int8 (baseline)",
                                    "The quantization baseline: weight-only int8 per output channel, every parameter kept (--target-params 1)", false, false,
                                    false, true, {"int8"}};
        return i;
    }
    std::vector<Group> plan(PhiModel& model, const CompressOptions& o) const override {
        const std::string lr = lowRankFor(o);
        return planByRule(model, o, {"", "", [lr](int) { return lr; }, lr});
    }
    bool compressDirect(std::vector<Group>& groups, PhiModel& model, const CompressOptions& o, const RunContext& ctx,
                        CompressionReport& report) const override {
        // Weight-only int8 per output channel: every parameter is kept, each weight in one byte.
        if (o.keepFraction != 1.0)
            fail("--target-params " + std::to_string(o.keepFraction), "int8 keeps every parameter; use --target-params 1");
        for (auto& g : groups)
            for (std::size_t i = 0; i < g.slots.size(); ++i) {
                ctx.checkCancelled();
                const LinearOp& op = **g.slots[i];
                at::Tensor w = op.denseWeight();
                auto q = Int8Linear::quantize(w, op.bias());
                LayerReport r;
                r.name = g.info.members[i];
                r.group = g.info.name;
                r.method = "int8";
                r.paramsBefore = w.numel();
                r.paramsAfter = w.numel() + q->scale().numel();
                r.relError = relativeError(w, q->denseWeight());
                *g.slots[i] = q;
                q->to(model.device, model.dtype);
                report.layers.push_back(r);
            }
        return true;
    }
    Candidate factorize(const FactorizeRequest& q) const override {
        fail(q.group.info.name, "int8 quantizes the weights whole; it has no factorization");
    }
};

}  // namespace

std::shared_ptr<const DecompositionStrategy> makeInt8Strategy() { return std::make_shared<Int8Strategy>(); }

}  // namespace qcw
