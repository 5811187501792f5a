#include "decompose/sensitivity.h"

#include "common/error.h"
#include "decompose/compress.h"
#include "decompose/decompose.h"
#include "io/checkpoint.h"
#include "model/factorized.h"
#include "model/loader.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <map>

namespace qcw {

// Declared in decompose/compress.h (shared with the byte-budget pipeline, budget.cpp).
double meanNextTokenLoss(const PhiModel& model, const at::Tensor& ids, const RunContext& ctx) {
    constexpr std::int64_t kBatch = 4;
    double sum = 0;
    std::int64_t count = 0;
    for (std::int64_t b = 0; b < ids.size(0); b += kBatch) {
        ctx.checkCancelled();
        at::Tensor chunk = ids.slice(0, b, std::min(ids.size(0), b + kBatch));
        ForwardArgs a;
        a.inputIds = chunk;
        at::Tensor logits = model.forward(a).to(at::kFloat);
        const std::int64_t V = logits.size(-1);
        at::Tensor pred = logits.slice(1, 0, logits.size(1) - 1).reshape({-1, V});
        at::Tensor target = chunk.slice(1, 1).reshape({-1});
        sum += at::cross_entropy_loss(pred, target, {}, at::Reduction::Sum).item<double>();
        count += target.numel();
    }
    return sum / double(count);
}

TruncationLoss measureTruncationLoss(const std::string& modelDir, const std::vector<TruncationProbe>& probes,
                                     const std::vector<std::vector<std::int64_t>>& windows, const RunContext& ctx,
                                     const std::string& device) {
    c10::InferenceMode guard;
    const auto t0 = std::chrono::steady_clock::now();
    if (windows.empty()) fail("calibration", "no windows to measure the loss on");
    const std::size_t len = windows[0].size();
    if (len < 2) fail("calibration", "windows need at least 2 tokens");
    PhiModel model = loadPhiModel(Checkpoint::open(modelDir), LoadOptions().onDevice(device), ctx);
    std::vector<std::int64_t> flat;
    flat.reserve(windows.size() * len);
    for (const auto& w : windows) {
        if (w.size() != len) fail("calibration", "all calibration windows must have one length");
        for (auto t : w)
            if (t < 0 || t >= model.config.vocabSize)
                fail("calibration", "token id " + std::to_string(t) + " is outside the vocabulary");
        flat.insert(flat.end(), w.begin(), w.end());
    }
    const at::Tensor ids = at::from_blob(flat.data(), {static_cast<std::int64_t>(windows.size()), static_cast<std::int64_t>(len)},
                                         at::kLong)
                               .clone()
                               .to(model.device);
    std::map<std::string, std::shared_ptr<LinearOp>*> slots;
    for (auto& [name, slot] : model.linearOps()) slots.emplace(name, slot);
    // Validate every probe before the first (slow) forward pass.
    std::map<std::string, int> largestRank;  // per matrix: its SVD is taken once, at this rank
    for (const auto& p : probes) {
        largestRank[p.group] = std::max(largestRank[p.group], p.rank);
        auto it = slots.find(p.group);
        if (it == slots.end()) fail(p.group, "is not a linear map of " + modelDir);
        const auto& op = **it->second;
        const std::int64_t full = std::min(op.inFeatures(), op.outFeatures());
        if (p.rank < 1 || p.rank > full)
            fail(p.group, "rank " + std::to_string(p.rank) + " is outside [1, " + std::to_string(full) + "]");
    }

    TruncationLoss out;
    out.tokens = static_cast<std::int64_t>(windows.size() * (len - 1));
    ctx.checkCancelled();
    out.baseLoss = meanNextTokenLoss(model, ids, ctx);
    std::string svdGroup;  // the matrix whose SVD `svd` holds (probes of one matrix come together)
    LowRankResult svd;
    for (std::size_t i = 0; i < probes.size(); ++i) {
        ctx.checkCancelled();
        std::shared_ptr<LinearOp>& slot = *slots.at(probes[i].group);
        const std::shared_ptr<LinearOp> dense = slot;
        if (probes[i].group != svdGroup) {
            const at::Tensor w = dense->denseWeight().to(at::kCPU, at::kFloat);
            const bool big = std::min(w.size(0), w.size(1)) > 1024;
            svd = truncatedSvd(w, TruncateOptions().rank(largestRank.at(probes[i].group)).useRandomized(big).withSeed(1));
            svdGroup = probes[i].group;
        }
        // The factors carry sqrt(s) each: their leading r columns / rows are the rank-r truncation.
        const std::int64_t r = probes[i].rank;
        slot = std::make_shared<LowRankLinear>(svd.left.slice(1, 0, r).to(model.device, model.dtype),
                                               svd.right.slice(0, 0, r).to(model.device, model.dtype), dense->bias());
        try {
            out.loss.push_back(meanNextTokenLoss(model, ids, ctx));
        } catch (...) {
            slot = dense;
            throw;
        }
        slot = dense;
        ctx.report("sensitivity", static_cast<long long>(i + 1), static_cast<long long>(probes.size()), {}, probes[i].group);
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return out;
}

}  // namespace qcw
