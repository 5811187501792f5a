#pragma once
// Writes synthetic Phi checkpoints (random weights in any Phi shape, phi-1.5's included) as a
// real snapshot directory: config.json + model.safetensors, or shards with an index.
#include "common/run_context.h"
#include "io/phi_config.h"
#include "io/safetensors.h"

#include <cstdint>
#include <string>

namespace qcw {

struct SyntheticOptions {
    DType dtype = DType::F16;
    std::uint64_t seed = 0;
    std::size_t maxShardBytes = 0;   // 0: one model.safetensors
    double initStd = 0.02;
    // "random": i.i.d. normal weights (flat spectra);
    // "powerlaw": W = A diag(k^-alpha) B, spectra that decay like trained weights (slower to write);
    // "init": the starting point of pretraining: matrices N(0, initStd), the residual-branch output
    // maps (dense, fc2) scaled by 1/sqrt(2 layers), norm weights 1, biases 0.
    std::string spectrum = "random";
    std::string tokenizerJson;  // copied in as tokenizer.json when set (the caller checks it fits)
    double alpha = 0.6;

    SyntheticOptions& withDtype(DType d) { dtype = d; return *this; }
    SyntheticOptions& withSeed(std::uint64_t s) { seed = s; return *this; }
    SyntheticOptions& shardBytes(std::size_t b) { maxShardBytes = b; return *this; }
    SyntheticOptions& withSpectrum(std::string s) { spectrum = std::move(s); return *this; }
    SyntheticOptions& withTokenizer(std::string path) { tokenizerJson = std::move(path); return *this; }
};

// Named shapes: "phi-1_5" (1.42 B), "tiny" (the test fixture's shape), "small" (~10 M).
PhiConfig namedPhiShape(const std::string& name);

// Builds the directory atomically; an existing non-empty `dir` is an error unless `replace`.
void writeSyntheticPhi(const std::string& dir, const PhiConfig& config, const SyntheticOptions& opts,
                       const RunContext& ctx = RunContext::none(), bool replace = false);

}  // namespace qcw
