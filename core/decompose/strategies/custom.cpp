// custom: every matrix by a factorizer brought from outside the core (a decomposition plugin's
// MatrixFactorizer), at the uniform ranks svd would use. Either the factorizer the options carry
// (method "custom", CompressOptions::factorizer) or one registered as a strategy of its own
// (registerFactorizerStrategy: its id is the method).
#include "decompose/strategies/strategy.h"

#include "common/error.h"
#include "decompose/decompose.h"
#include "model/factorized.h"

#include <algorithm>
#include <cmath>

namespace qcw {

namespace {

// A plugin's factorization of one matrix, checked before it is trusted.
Candidate customCandidate(const Group& g, std::size_t member, int rank, const InputStats* s, const CompressOptions& o,
                          const MatrixFactorizer& factorizer, const std::string& factorizerName) {
    const LinearOp& op = **g.slots[member];
    const std::string& name = g.info.members[member];
    at::Tensor w = op.denseWeight().to(at::kFloat).contiguous();
    const std::int64_t m = w.size(0), n = w.size(1);
    MatrixFactors f = factorizer(w.data_ptr<float>(), m, n, rank);
    if (f.rank < 1 || f.rank > std::min(m, n) || static_cast<std::int64_t>(f.left.size()) != m * f.rank ||
        static_cast<std::int64_t>(f.right.size()) != std::int64_t(f.rank) * n)
        fail(factorizerName + " on " + name, "returned factors of the wrong size (rank " + std::to_string(f.rank) + ")");
    at::Tensor left = at::from_blob(f.left.data(), {m, f.rank}, at::kFloat).clone();
    at::Tensor right = at::from_blob(f.right.data(), {f.rank, n}, at::kFloat).clone();
    if (!at::isfinite(left).all().item<bool>() || !at::isfinite(right).all().item<bool>())
        fail(factorizerName + " on " + name, "returned NaN or Inf factors");
    Candidate c;
    LayerReport r;
    r.name = name;
    r.group = g.info.name;
    r.method = factorizerName;
    r.ranks = {f.rank};
    r.paramsBefore = w.numel();
    r.paramsAfter = left.numel() + right.numel();
    at::Tensor approx = at::matmul(left, right);
    at::Tensor wd = w.to(at::kDouble), ad = approx.to(at::kDouble);
    fillErrors(r, wd, ad, s);
    at::Tensor bias = s ? correctedBias(op.bias(), wd, ad, s, o.biasCorrection) : op.bias();
    const auto st = op.bias().defined() ? op.bias().scalar_type() : at::kFloat;
    c.ops.push_back(std::make_shared<LowRankLinear>(left.to(st), right.to(st), bias, r.method));
    c.error = squaredRel(s ? r.outError : r.relError);
    c.reports.push_back(r);
    return c;
}

class FactorizerStrategy final : public DecompositionStrategy {
public:
    // Without a factorizer of its own it takes the options' (method "custom").
    FactorizerStrategy(StrategyInfo info, MatrixFactorizer f) : info_(std::move(info)), own_(std::move(f)) {}
    const StrategyInfo& info() const override { return info_; }
    std::vector<Group> plan(PhiModel& model, const CompressOptions& o) const override {
        if (!own_ && !o.factorizer) fail("--method " + info_.id, "needs a factorizer (a decomposition plugin)");
        const std::string id = info_.id;
        return planByRule(model, o, {"", "", [id](int) { return id; }, id});
    }
    std::string reportName(const CompressOptions& o) const override { return own_ ? info_.id : o.factorizerName; }
    Candidate factorize(const FactorizeRequest& q) const override {
        const std::int64_t m = q.group.info.shape[0], n = q.group.info.shape[1];
        return customCandidate(q.group, 0, q.rank ? q.rank : lowRankForBudget(m, n, q.memberBudget), q.stats[0], q.options,
                               own_ ? own_ : q.options.factorizer, reportName(q.options));
    }

private:
    StrategyInfo info_;
    MatrixFactorizer own_;
};

}  // namespace

std::shared_ptr<const DecompositionStrategy> makeCustomStrategy() {
    return std::make_shared<FactorizerStrategy>(
        StrategyInfo{"custom", "Custom factorizer", "Every matrix by a plugin's factorizer at the ranks SVD would use", false,
                     false, true, false, {"lowrank", "lowrank-int8"}},
        MatrixFactorizer());
}

std::shared_ptr<const DecompositionStrategy> makeFactorizerStrategy(StrategyInfo info, MatrixFactorizer f) {
    if (!f) fail("strategy " + info.id, "needs a factorizer");
    return std::make_shared<FactorizerStrategy>(std::move(info), std::move(f));
}

}  // namespace qcw
