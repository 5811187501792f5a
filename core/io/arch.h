#pragma once
// The tensor names of a model architecture, in one table per architecture (in the spirit of
// llama.cpp's architecture tensor-name tables). Every reader and writer of checkpoint names
// (the inventory, the loader, the model, the synthetic writer, the compressor, the snapshot
// writer and the GGUF export) spells them through this table. Plain data, no torch.
#include <cstdint>
#include <string>
#include <vector>

namespace qcw {

struct PhiConfig;

// The tensors of a decoder-only transformer, by role (llama.cpp's LLM_TENSOR_* in spirit).
enum class TensorId {
    TokenEmbd,   // token embedding [vocab, hidden]
    AttnNorm,    // layer norm before attention (per block)
    AttnQ,       // query projection (per block)
    AttnK,       // key projection (per block)
    AttnV,       // value projection (per block)
    AttnOut,     // attention output projection (per block)
    AttnQNorm,   // per-head query layer norm (per block, only with qk_layernorm)
    AttnKNorm,   // per-head key layer norm (per block, only with qk_layernorm)
    FfnUp,       // MLP up projection (per block)
    FfnDown,     // MLP down projection (per block)
    OutputNorm,  // final layer norm
    Output,      // lm_head (its weight absent when tied to the embedding)
};

// What a model dimension of a tensor's shape is.
enum class Dim { Hidden, Intermediate, Vocab, KvHidden, HeadDim };

struct ArchTensor {
    enum class Role { Embedding, Norm, Linear };
    // When the tensor exists: always, only with qk_layernorm, or (its weight) only untied.
    enum class Presence { Always, QkLayerNorm, Untied };
    TensorId id;
    Role role;
    const char* name;  // checkpoint module name (without ".weight"); "{bid}" is the block index
    const char* gguf;  // llama.cpp's name of the same tensor
    const char* kind;  // the inventory's kind of its weight (io/inventory.h)
    std::vector<Dim> shape;  // of its weight: [out, in] for a linear map, [d] for a norm
    Presence presence = Presence::Always;

    bool perBlock() const;
};

struct Architecture {
    const char* hfName;    // config.json "architectures", e.g. "PhiForCausalLM"
    const char* ggufName;  // GGUF general.architecture, e.g. "phi2"
    const char* blockPattern;  // the blocks' common prefix, e.g. "model.layers.{bid}"
    std::vector<ArchTensor> tensors;  // in model order (the order checkpoints are written)

    const ArchTensor& at(TensorId id) const;
    // The checkpoint module name of `id` ("model.layers.3.self_attn.q_proj"); `block` is
    // needed for per-block tensors and ignored otherwise.
    std::string name(TensorId id, int block = -1) const;
    // llama.cpp's name ("blk.3.attn_q").
    std::string gguf(TensorId id, int block = -1) const;
    // A per-block tensor's name inside its block ("self_attn.q_proj").
    std::string local(TensorId id) const;
    // The prefix every tensor of block `block` starts with ("model.layers.3.").
    std::string blockPrefix(int block) const;
    // The linear maps of one block in model order (q, k, v, attention out, MLP up, MLP down).
    std::vector<TensorId> blockLinears() const;
    // The table entry whose module name is `module` ("model.layers.3.mlp.fc1", "lm_head"),
    // with the block index in `*block` (-1 outside the blocks); nullptr when none is.
    const ArchTensor* match(const std::string& module, int* block = nullptr) const;
};

// The Phi table (transformers' modeling_phi.py names, llama.cpp's phi2 names).
const Architecture& phiArchitecture();

// Weight and bias suffixes of a module's tensors.
inline constexpr const char* kWeightSuffix = ".weight";
inline constexpr const char* kBiasSuffix = ".bias";

// The shape of an entry's weight for a configuration.
std::vector<std::int64_t> tensorShape(const ArchTensor& t, const PhiConfig& c);

// One tensor of a dense checkpoint of this architecture and configuration.
struct ExpectedTensor {
    std::string name;  // full tensor name, e.g. "model.layers.0.mlp.fc1.bias"
    TensorId id;
    int block = -1;
    bool bias = false;  // the ".bias" tensor of a norm or linear map (else its ".weight")
    std::vector<std::int64_t> shape;
};

// Every tensor of a dense checkpoint for `c` in model order: the embedding, each block's
// norms and linear maps (weight then bias), the final norm, lm_head (its weight only when
// untied; its bias always). This is what the synthetic writer writes.
std::vector<ExpectedTensor> expectedTensors(const Architecture& arch, const PhiConfig& c);

}  // namespace qcw
