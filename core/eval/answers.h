#pragma once
// Quality of generated answers: the model answers each prompt greedily and the answer is
// compared with the reference by exact match (SQuAD-style normalisation: lower case, no
// punctuation, no articles, single spaces) and ROUGE-L F1 (longest common subsequence of
// the normalised words). Plain data; no torch here.
#include "common/run_context.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcw {

class Engine;
class Tokenizer;

struct QaItem {
    std::string prompt, reference;
};

// Records with "prompt" and "completion" (or "question" and "answer") from a JSONL file;
// other records (plain text chunks) are skipped. Errors name the line. At most `limit` items
// (0: all).
std::vector<QaItem> loadQaItems(const std::string& jsonl, std::size_t limit = 0);

std::string normalizeAnswer(const std::string& s);
bool exactMatch(const std::string& candidate, const std::string& reference);
double rougeL(const std::string& candidate, const std::string& reference);  // F1 in [0, 1]

struct AnswerOptions {
    int maxNewTokens = 64;
    // The answer is cut at the first of these in the generated text.
    std::vector<std::string> stops{"\n\n", "\nUser:", "<|endoftext|>"};
};

struct AnswerResult {
    std::vector<std::string> answers;
    double exactMatch = 0, rougeL = 0;  // means over the items
    std::int64_t count = 0;
};

AnswerResult answerQuestions(const Engine& model, const Tokenizer& tok, const std::vector<QaItem>& items,
                             const AnswerOptions& opts = {}, const RunContext& ctx = RunContext::none());

}  // namespace qcw
