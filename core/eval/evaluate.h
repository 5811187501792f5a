#pragma once
// Quality measures of a language model on token ids (plain data; no torch here):
// perplexity over a token stream with a sliding window and stride, and agreement with a
// teacher model (top-1 agreement, mean KL(teacher || student) per token).
#include "common/run_context.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcw {

class Engine;

struct PerplexityOptions {
    int window = 0;   // tokens per forward pass; 0: the model's context length (capped at 1024)
    int stride = 0;   // new tokens scored per window; 0: window / 2
    int batch = 4;
};

struct PerplexityResult {
    double perplexity = 0;
    double meanNll = 0;         // nats per scored token
    std::int64_t tokens = 0;    // tokens scored
};

// Each stream is scored on its own (the first token of a stream has no context and is not
// scored); windows overlap by window - stride tokens, which are context only.
PerplexityResult perplexity(const Engine& model, const std::vector<std::vector<std::int64_t>>& streams,
                            const PerplexityOptions& opts = {}, const RunContext& ctx = RunContext::none());

// The unigram baseline: token frequencies counted on `train` with add-one smoothing over
// `vocabSize` ids, scored on the positions perplexity() scores (each stream but its first token).
PerplexityResult unigramPerplexity(const std::vector<std::vector<std::int64_t>>& train,
                                   const std::vector<std::vector<std::int64_t>>& eval, std::int64_t vocabSize);

struct AgreementResult {
    double top1 = 0;            // share of positions where the argmax tokens agree
    double klPerToken = 0;      // mean KL(teacher || student), nats
    std::int64_t tokens = 0;
};

AgreementResult teacherAgreement(const Engine& student, const Engine& teacher,
                                 const std::vector<std::vector<std::int64_t>>& streams, const PerplexityOptions& opts = {},
                                 const RunContext& ctx = RunContext::none());

}  // namespace qcw
