#pragma once
// The decomposition-strategy interface (torch side). One file per strategy in this folder, one
// line per strategy in registry.cpp. compress.cpp runs the pipeline (calibration walk, budgets,
// refinement, int8 factors) and asks the strategy of each group to factorize it.
#include "decompose/compress.h"
#include "decompose/strategies/registry.h"

#include <memory>

namespace qcw {

// One factorization request: a group at an explicit rank (> 0) or else at a parameter budget.
struct FactorizeRequest {
    const Group& group;
    int rank = 0;               // explicit rank/bond, 0: size to the budget
    double memberBudget = 0;    // parameters each member may keep
    const std::vector<const InputStats*>& stats;  // per member; null entries without calibration
    const at::Tensor& sharedXtx;                  // the group's pooled Gram matrix (may be undefined)
    const CompressOptions& options;
};

class DecompositionStrategy {
public:
    virtual ~DecompositionStrategy() = default;
    virtual const StrategyInfo& info() const = 0;
    // How it groups the model's matrices: each group names the strategy that factorizes it
    // (a Tucker compression factorizes the matrices outside its stacks with svd or asvd).
    virtual std::vector<Group> plan(PhiModel& model, const CompressOptions& o) const = 0;
    // Its groups span layers: calibration statistics are pooled and its groups compressed
    // after the walk over the blocks.
    virtual bool crossLayer() const { return false; }
    // Checks options once calibration is known (e.g. asvd needs calibration).
    virtual void check(const CompressOptions& o, bool calibrated) const {
        (void)o;
        (void)calibrated;
    }
    // The method recorded in the report.
    virtual std::string reportName(const CompressOptions& o) const {
        (void)o;
        return info().id;
    }
    // A strategy that maps the weights alone (no budget, no calibration: int8) compresses every
    // group here and returns true; the others return false and go through the pipeline.
    virtual bool compressDirect(std::vector<Group>& groups, PhiModel& model, const CompressOptions& o,
                                const RunContext& ctx, CompressionReport& report) const {
        (void)groups, (void)model, (void)o, (void)ctx, (void)report;
        return false;
    }
    // The factors of one group with their error (Candidate::error, reports per member).
    virtual Candidate factorize(const FactorizeRequest& r) const = 0;
};

// The strategy of this id (built-in or registered at run time); fails naming the known ones.
const DecompositionStrategy& strategyFor(const std::string& id);
// Adds a strategy to the table at run time (after the built-in ones).
void registerStrategy(std::shared_ptr<const DecompositionStrategy> s);

// The built-in strategies, one per file (registry.cpp lists them).
std::shared_ptr<const DecompositionStrategy> makeSvdStrategy();
std::shared_ptr<const DecompositionStrategy> makeAsvdStrategy();
std::shared_ptr<const DecompositionStrategy> makeTuckerStrategy();
std::shared_ptr<const DecompositionStrategy> makeTuckerXlStrategy();
std::shared_ptr<const DecompositionStrategy> makeTtStrategy();
std::shared_ptr<const DecompositionStrategy> makeAutoStrategy();
std::shared_ptr<const DecompositionStrategy> makeInt8Strategy();
std::shared_ptr<const DecompositionStrategy> makeCustomStrategy();
// A plugin's factorizer as a strategy of its own (custom.cpp).
std::shared_ptr<const DecompositionStrategy> makeFactorizerStrategy(StrategyInfo info, MatrixFactorizer f);

// --- building blocks the strategies share (defined in the strategy file named) ------------------

// svd.cpp: truncated SVD of one member, whitened by its calibration inputs (asvd) when `whiten`
// and stats are given; lowRankGroup: every member of a group so, at the request's rank/budget.
Candidate lowRankCandidate(const Group& g, std::size_t member, bool whiten, int rank, const InputStats* s,
                           const CompressOptions& o);
Candidate lowRankGroup(const FactorizeRequest& q, bool whiten);
int lowRankForBudget(std::int64_t m, std::int64_t n, double budget);
// The per-matrix strategy the structured strategies use outside their stacks: asvd with
// calibration, svd without.
std::string lowRankFor(const CompressOptions& opts);
// tucker.cpp: the group as one Tucker-2 stack at rank r (both sides), reported as `method`.
Candidate tuckerCandidate(const Group& g, int rank, const std::vector<const InputStats*>& stats, const at::Tensor& sharedXtx,
                          const CompressOptions& o, const std::string& method);
Candidate tuckerGroup(const FactorizeRequest& q, const std::string& method);
int tuckerRankForBudget(std::int64_t m, std::int64_t n, std::int64_t L, double budget);
// tt.cpp: one member as a tensor train at bond `bond`.
Candidate ttCandidate(const Group& g, std::size_t member, int bond, const InputStats* s, const CompressOptions& o);
int ttBondForBudget(std::int64_t m, std::int64_t n, int cores, double budget);

}  // namespace qcw
