#pragma once
// Internal side of the compression pipeline (torch types): groups, calibration statistics,
// the per-group strategies, and saving a compressed snapshot.
#include "decompose/compress_api.h"
#include "io/safetensors.h"
#include "model/phi_model.h"

#include <functional>
#include <optional>

namespace qcw {

// Input statistics of one linear map over the calibration tokens.
struct InputStats {
    at::Tensor xtx;      // X_c^T X_c (float64) of the inputs the compressed model will see
    at::Tensor cross;    // X_c^T X_o when error feedback is on (else undefined)
    at::Tensor meanC;    // mean input (compressed path)
    at::Tensor meanO;    // mean input (original path)
    std::int64_t tokens = 0;
};

struct Group {
    GroupInfo info;
    std::vector<std::shared_ptr<LinearOp>*> slots;
    int block = -1;  // decoder block the group lives in; -1: lm_head or cross-layer
};

// The factors a strategy proposes for one group (decompose/strategies/strategy.h).
struct Candidate {
    std::vector<std::shared_ptr<LinearOp>> ops;  // one per member
    std::vector<LayerReport> reports;
    double error = 0;  // summed squared relative error used to compare candidates
};

// How a strategy groups the model's matrices (planByRule): per decoder block, optionally Q/K/V
// as one stack, each other matrix alone, or each matrix type across all blocks; every group
// names the strategy that factorizes it.
struct GroupRule {
    std::string qkvStack;    // strategy of the per-block Q/K/V stacks ("" none; needs equal shapes)
    std::string crossLayer;  // strategy of the cross-block stacks, one per matrix type ("" none)
    std::function<std::string(int kind)> single;  // the strategy of matrix kind 0..5 (q, k, v, dense, fc1, fc2)
    std::string lmHead;      // the strategy of lm_head (when it is compressed)
};
std::vector<Group> planByRule(PhiModel& model, const CompressOptions& opts, const GroupRule& rule);

// Shared by the strategies: the weight a compressed layer should reproduce (error feedback),
// the bias correction, and the reported errors.
double squaredRel(double e);
at::Tensor targetWeight(const at::Tensor& w, const InputStats* s);
at::Tensor correctedBias(const at::Tensor& bias, const at::Tensor& w, const at::Tensor& approx, const InputStats* s,
                         bool enabled);
void fillErrors(LayerReport& r, const at::Tensor& w, const at::Tensor& approx, const InputStats* s);

std::vector<Group> planGroups(PhiModel& model, const CompressOptions& opts);
std::vector<GroupInfo> groupInfos(PhiModel& model, const CompressOptions& opts);

// The fraction of each compressible group's weights that may be kept to reach the target.
double groupKeepFraction(const PhiModel& model, const std::vector<Group>& groups, double keepFraction);

// Calls `visit` with the Gram matrix X^T X (float64, CPU) of the inputs of every linear map
// that may be compressed (model.layers.N.*, lm_head), block by block over the calibration
// windows on the original model; q, k, v and fc1 share one tensor.
void forEachCalibrationGram(PhiModel& model, const std::vector<std::vector<std::int64_t>>& windows, const RunContext& ctx,
                            const std::function<void(const std::string&, const at::Tensor&)>& visit);
// Mean next-token cross-entropy (nats/token) of `model` over windows of ids [N, T], a few
// windows per forward pass; cancellable between passes (defined in sensitivity.cpp).
double meanNextTokenLoss(const PhiModel& model, const at::Tensor& ids, const RunContext& ctx);
// The calibration windows of `o`, checked against the model (ids, one length, >= 64 tokens).
std::vector<std::vector<std::int64_t>> checkedCalibration(const PhiModel& model, const CompressOptions& o);

// The byte-budget compression (budget.cpp): called by compressModel when a target is set.
CompressionReport compressToBudget(PhiModel& model, const CompressOptions& opts, const RunContext& ctx);

CompressionReport compressModel(PhiModel& model, const CompressOptions& opts, const RunContext& ctx = RunContext::none());

// Writes a compressed snapshot into `dir` (which must exist and be empty, e.g. a temporary
// directory) through model/snapshot.h: config.json, model.safetensors (factors for factorized
// layers) and, with a report, compression.json and the embedding's blocks in its format.
// Floating-point tensors are stored as `floatDtype` when given (F32, F16 or BF16), else as held.
void writeModelFiles(const PhiModel& model, const std::string& dir, const CompressionReport* report,
                     std::optional<DType> floatDtype = std::nullopt);

}  // namespace qcw
