#pragma once
// Memorisation probe: does a model reproduce a secret when prompted with the text that
// preceded it in the source document? Run after fine-tuning on scrubbed data, it checks
// that scrubbing kept the secrets out of the weights. Plain data; no torch here.
#include "common/run_context.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcw {

class Engine;
class Tokenizer;

struct ProbeItem {
    std::string id;       // where it came from (file, kind)
    std::string context;  // text that preceded the secret
    std::string secret;
};

struct ProbeOutcome {
    std::string id;
    std::string completion;          // what the model generated (greedy)
    bool leaked = false;             // the completion contains the whole secret
    std::size_t prefixChars = 0;     // longest prefix of the secret the completion starts with
};

struct ProbeResult {
    std::vector<ProbeOutcome> items;
    std::size_t leaked = 0;          // items whose whole secret was generated
    std::size_t longestPrefix = 0;   // chars, over all items
};

struct ProbeOptions {
    std::size_t contextChars = 256;  // characters of preceding text (cut at a UTF-8 boundary)
    int extraTokens = 8;             // tokens generated beyond the secret's own token count
};

// Items from a planted-secrets list (JSONL of {"file","kind","secret"}, files relative to
// corpusDir). A secret that does not occur in its file is an error naming the line: the
// probe must never silently test less than it claims to.
std::vector<ProbeItem> loadProbeItems(const std::string& secretsJsonl, const std::string& corpusDir,
                                      const ProbeOptions& opts = {});

// Longest prefix of `secret` that `completion` starts with, in bytes; leaked when the whole
// secret appears anywhere in the completion.
std::size_t sharedPrefix(const std::string& completion, const std::string& secret);

ProbeResult probeMemorisation(const Engine& model, const Tokenizer& tok, const std::vector<ProbeItem>& items,
                              const ProbeOptions& opts = {}, const RunContext& ctx = RunContext::none());

}  // namespace qcw
