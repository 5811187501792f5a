#pragma once
// The layer inventory of a model directory: plain data, no torch, cheap (reads headers only).
#include <cstdint>
#include <string>
#include <vector>

namespace qcw {

class Checkpoint;

struct LayerInfo {
    std::string name;                  // tensor name, e.g. model.layers.3.mlp.fc1.weight
    std::string kind;                  // embedding, attn_q, attn_k, attn_v, attn_out, mlp_fc1, mlp_fc2,
                                       // lm_head, layernorm, bias, other
    std::vector<std::int64_t> shape;
    std::int64_t params = 0;
    std::string dtype;                 // as stored on disk: F32, F16, BF16 ...
    bool compressible = false;         // a 2-D weight the decompositions can factorize
    int block = -1;                    // decoder block index, -1 outside the blocks
};

struct ModelSummary {
    std::string dir;
    std::string architecture;          // "PhiForCausalLM"
    std::int64_t params = 0;
    std::int64_t compressibleParams = 0;
    std::string dtype;                 // dominant dtype on disk
    std::size_t bytesOnDisk = 0;
    bool hasTokenizer = false;
    bool compressed = false;           // has compression.json
    int numLayers = 0, hiddenSize = 0, intermediateSize = 0, numHeads = 0, vocabSize = 0;
    std::vector<LayerInfo> layers;
};

// Classifies a Phi tensor name into a kind (by the architecture table, io/arch.h).
std::string layerKind(const std::string& tensorName, int* block = nullptr);

ModelSummary summarize(const Checkpoint& ckpt);
// Opens the directory and summarises it; throws qcw::Error naming the problem.
ModelSummary inspectModel(const std::string& dir);

// Memory needed to run a model: weights at a compute dtype, KV cache at a context length.
struct MemoryEstimate {
    double weightsBytes = 0, kvCacheBytes = 0, activationBytes = 0;
    double total() const { return weightsBytes + kvCacheBytes + activationBytes; }
};
MemoryEstimate estimateMemory(const ModelSummary& m, int bytesPerParam, int contextLength, int batch);

}  // namespace qcw
