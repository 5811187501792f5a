#pragma once
// What truncating one matrix costs the model: the mean next-token loss on calibration windows
// with that matrix alone truncated (every other one dense), against the dense model's. The rank
// search's loss-weighted objective (rank_search.h) is built from it. Plain data, no torch.
#include "common/run_context.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcw {

struct TruncationProbe {
    std::string group;  // linear map name without ".weight", e.g. model.layers.0.mlp.fc1, lm_head
    int rank = 1;
};

struct TruncationLoss {
    double baseLoss = 0;         // mean next-token cross-entropy of the dense model (nats/token)
    std::vector<double> loss;    // per probe: the same with that matrix truncated to its rank
    std::int64_t tokens = 0;     // predicted tokens per evaluation
    double seconds = 0;
};

// One forward pass over `windows` (token ids, all one length >= 2) for the dense model and one
// per probe; each probe's matrix is replaced by its rank-r truncated SVD (randomized above
// 1024 on both sides; taken once per matrix at its largest probed rank when its probes come
// one after another) and restored afterwards. Throws qcw::Error (one line) for an unknown
// group, a rank outside [1, min(m, n)], ids outside the vocabulary or ragged windows;
// qcw::Cancelled between forward passes. Reports stage "sensitivity" per probe.
// `device`: where the forward passes run ("cpu", "cuda", "cuda:N"; the model in its default
// compute dtype there); the truncating SVDs run on the CPU in fp32.
TruncationLoss measureTruncationLoss(const std::string& modelDir, const std::vector<TruncationProbe>& probes,
                                     const std::vector<std::vector<std::int64_t>>& windows,
                                     const RunContext& ctx = RunContext::none(), const std::string& device = "cpu");

}  // namespace qcw
