#pragma once
// Multiple-choice accuracy by length-normalised log-likelihood: each choice is scored as the
// mean log-probability of its tokens after the question, and the best-scoring choice is the
// model's answer. File format (shared docs CLI.md): one JSON object per line,
// {"question": "...", "choices": ["...", ...], "answer": index}.
#include "common/run_context.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcw {

class Engine;
class Tokenizer;

struct McItem {
    std::string question;
    std::vector<std::string> choices;
    int answer = 0;
};

struct McResult {
    double accuracy = 0;
    std::int64_t count = 0;
    std::vector<int> predictions;
    std::vector<std::vector<double>> scores;  // mean log-probability per choice
};

// Throws qcw::Error("<path>:<line>: ...") for a malformed line.
std::vector<McItem> loadMultipleChoice(const std::string& path);

// The prompt is "Question: <q>\nAnswer:" and each choice is scored as " <choice>".
McResult multipleChoice(const Engine& model, const Tokenizer& tokenizer, const std::vector<McItem>& items,
                        const RunContext& ctx = RunContext::none());

}  // namespace qcw
