#pragma once
// Greedy and sampled generation with a KV cache; batches are left-padded, positions follow
// the attention mask (as transformers' generate does).
#include "common/run_context.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace qcw {

class PhiModel;

struct GenerateOptions {
    int maxNewTokens = 32;
    bool greedy = true;
    double temperature = 1.0;
    int topK = 0;               // 0 = off
    double topP = 1.0;          // 1 = off
    std::uint64_t seed = 0;
    bool stopAtEos = true;
    std::optional<std::int64_t> eosTokenId;   // default: the config's
    std::optional<std::int64_t> padTokenId;   // default: the config's, else 0
    // On CUDA, record one decode step as a CUDA graph and replay it for every later token
    // (the step's ~20 kernels per layer then cost one launch). Off: every kernel launched.
    bool cudaGraphs = true;

    GenerateOptions& maxNew(int n) { maxNewTokens = n; return *this; }
    GenerateOptions& sampling(double t, int k = 0, double p = 1.0) { greedy = false; temperature = t; topK = k; topP = p; return *this; }
    GenerateOptions& withSeed(std::uint64_t s) { seed = s; return *this; }
};

struct GenerationStats {
    double prefillSeconds = 0, decodeSeconds = 0;
    std::int64_t promptTokens = 0, newTokens = 0;
    bool cudaGraph = false;      // the decode steps replayed a recorded CUDA graph
    std::string cudaGraphNote;   // why not, when graphs were asked for on CUDA but not used
};

// Called for each new token of each row; return false to stop generating.
using TokenCallback = std::function<bool(std::size_t row, std::int64_t token)>;

// Returns prompt + continuation for every row (without padding).
std::vector<std::vector<std::int64_t>> generate(const PhiModel& model,
                                                const std::vector<std::vector<std::int64_t>>& prompts,
                                                const GenerateOptions& opts, const TokenCallback& onToken = {},
                                                const RunContext& ctx = RunContext::none(),
                                                GenerationStats* stats = nullptr);

// Picks the next token from one row of logits: argmax, or a seeded sample after temperature,
// top-k and top-p filtering. Exposed for tests.
std::int64_t pickToken(const std::vector<float>& logits, const GenerateOptions& opts, std::uint64_t& rngState);

}  // namespace qcw
