#pragma once
// The compression pipeline as plain data, for the CLI and the UI (no torch here).
#include "common/run_context.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qcw {

// A per-matrix factorization brought from outside the core (a decomposition plugin): given W
// [rows, cols] (row-major float32) and a rank r, returns W ~ left [rows, r] x right [r, cols]
// (row-major). Runs on the compression's worker thread.
struct MatrixFactors {
    int rank = 0;
    std::vector<float> left, right;
};
using MatrixFactorizer = std::function<MatrixFactors(const float* w, std::int64_t rows, std::int64_t cols, int rank)>;

struct CompressOptions {
    double keepFraction = 0.5;   // fraction of ALL parameters kept (0.3 keeps 30%)
    // svd: truncated SVD per matrix; asvd: activation-aware (whitened) SVD per matrix;
    // tucker: Q/K/V of each layer as one Tucker-2 stack with shared bases, other matrices asvd/svd;
    // tucker-xl: each matrix type across all layers as one Tucker-2 stack (shared bases);
    // tt: tensor-train (MPO) for fc1, fc2 and lm_head, svd/asvd for the attention matrices;
    // auto: per group, the candidate with the lowest error at the group's budget;
    // int8: the baseline: weight-only int8 per output channel (keeps every parameter; needs 1.0);
    // custom: every matrix by `factorizer` at the uniform ranks svd would use (a plugin's strategy).
    std::string method = "svd";
    MatrixFactorizer factorizer;       // method "custom"
    std::string factorizerName = "custom";  // recorded as each layer's method
    bool randomized = false;           // randomized SVD (faster on big matrices)
    std::uint64_t seed = 0;
    std::map<std::string, int> ranks;  // explicit allocation: group name -> rank (or bond)
    std::vector<std::vector<std::int64_t>> calibration;  // token id windows
    bool errorFeedback = false;        // calibrate each block on the compressed prefix's activations
    bool biasCorrection = true;        // closed-form bias correction from calibration means
    bool includeLmHead = true;
    int ttCores = 3;
    // Variational refinement ("VQE" in the brief): Adam steps on the factors of each compressed
    // layer against its calibration output error, keeping the best point (never worse than
    // truncation). 0: off. Needs calibration. Tucker refines its cores (the bases are shared).
    int refineSteps = 0;
    std::string solver;                // recorded in the report when ranks came from a search
    // After factorizing, store both factors of every low-rank layer in int8 (one scale per row):
    // the same parameters in about a quarter of the fp32 bytes (half of fp16).
    bool int8Factors = false;
    // How compressModelDir stores the floating-point tensors: F32, F16 or BF16; "" keeps the
    // compute dtype (F32 on the CPU). "source" takes the dtype the source snapshot is stored in
    // (F16 for phi-1.5), which halves the file against F32; a source stored in anything else
    // keeps the compute dtype.
    std::string storeDtype;
    // A byte budget instead of a parameter budget (budget.h): per matrix (the token embedding
    // included) a choice of encoding (16-bit, 8-/4-bit blocks, low-rank with quantized
    // factors, 4-bit plus a low-rank correction) so that model.safetensors, every byte counted,
    // fits. targetBits: bits per original parameter (the GGUF habit); targetBytes: bytes. The
    // first that is > 0 applies; keepFraction and method are then not used.
    double targetBits = 0;
    std::int64_t targetBytes = 0;
    // "search": the joint (method, rank, bits) allocation minimising the predicted calibration
    // loss (budgetSolver: exact, greedy, anneal or sqa); "uniform": every matrix the same bits
    // per parameter, each its best encoding at that size.
    // "auto" (the default): search with calibration, uniform without.
    std::string allocation = "auto";
    std::string budgetSolver = "exact";
    bool gptq = true;            // error-feedback quantization under calibration (else rounding)
    bool correctionPass = true;  // measure the chosen allocation, re-weight, keep the better one
};

struct LayerReport {
    std::string name;      // checkpoint name without ".weight"
    std::string group;
    std::string method;    // svd, asvd, tucker, tucker-xl, tt
    std::vector<int> ranks;
    std::int64_t paramsBefore = 0, paramsAfter = 0;  // weights (+ shared bases for the owner)
    double relError = 0;   // ||W - W'||_F / ||W||_F
    double outError = -1;  // relative output error on calibration inputs, -1 without calibration
    double int8Error = -1; // with int8 factors: ||LR - dequant(LR)|| / ||LR||, else -1
    double outErrorBeforeRefine = -1;  // the same right after truncation, when refined
    std::string whitening;
    std::int64_t bytes = -1;  // byte budgets: bytes this matrix stores (weights, factors, scales)
};

struct CompressionReport {
    std::int64_t paramsBefore = 0, paramsAfter = 0;
    double ratio = 1;                 // after / before
    std::string method, solver;
    bool calibrated = false, errorFeedback = false;
    std::int64_t calibrationTokens = 0;
    int refineSteps = 0;
    std::vector<LayerReport> layers;
    double seconds = 0;
    // Byte budgets (budget.h).
    std::int64_t budgetBytes = 0;        // the target for model.safetensors
    std::int64_t plannedBytes = 0;       // what the allocation plans to store (header estimate included)
    std::string allocation;              // "search" or "uniform"
    std::string embeddingFormat;         // "q8", "q4" or "" (as the other float tensors)
    double baseLoss = -1;                // calibration loss of the original model (nats/token)
    double predictedLossIncrease = -1;   // the allocation's, by the additive model
    double measuredLossIncrease = -1;    // the same measured on the calibration windows
    int correctionRounds = 0;            // re-weightings that were measured
};

// One compressible group as the rank search sees it.
struct GroupInfo {
    std::string name;
    std::string method;
    std::vector<std::string> members;
    std::vector<std::int64_t> shape;   // [m, n] of one member
    std::int64_t denseParams = 0;      // weights of all members
    int maxRank = 0;
};

// Loads `modelDir`, compresses, writes a compressed snapshot into `outDir` atomically
// (config.json, model.safetensors, compression.json, tokenizer files copied).
CompressionReport compressModelDir(const std::string& modelDir, const std::string& outDir, const CompressOptions& opts,
                                   const RunContext& ctx = RunContext::none(), bool replace = false);

std::string reportToJson(const CompressionReport& r);

}  // namespace qcw
