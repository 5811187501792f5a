#pragma once
// config.json of a Phi checkpoint, in both key styles: the legacy top-level `rope_theta` /
// `partial_rotary_factor` (microsoft/phi-1_5 as published) and transformers 5's
// `rope_parameters` object.
#include <cstdint>
#include <optional>
#include <string>

namespace qcw {

struct PhiConfig {
    int vocabSize = 0;
    int hiddenSize = 0;
    int intermediateSize = 0;
    int numLayers = 0;
    int numHeads = 0;
    int numKvHeads = 0;
    int maxPositions = 2048;
    double layerNormEps = 1e-5;
    double ropeTheta = 10000.0;
    double partialRotaryFactor = 0.5;
    bool qkLayerNorm = false;
    bool tieWordEmbeddings = false;
    std::string hiddenAct = "gelu_new";
    std::string torchDtype;  // as declared in the file ("float16", "float32", ...), may be empty
    std::optional<std::int64_t> bosTokenId, eosTokenId, padTokenId;

    int headDim() const { return hiddenSize / numHeads; }
    int rotaryDim() const { return static_cast<int>(headDim() * partialRotaryFactor); }
    // Total parameters of PhiForCausalLM with this shape (lm_head counted unless tied).
    std::int64_t parameterCount() const;

    // Parses and validates; throws qcw::Error("<path>: ...") naming the key at fault.
    static PhiConfig fromJsonText(const std::string& text, const std::string& path);
    static PhiConfig load(const std::string& path);
    // Serialises in the legacy key style of microsoft/phi-1_5 (readable by transformers 4 and 5).
    std::string toJsonText() const;

    // The published microsoft/phi-1_5 shape (1.42 B parameters).
    static PhiConfig phi15();
};

}  // namespace qcw
