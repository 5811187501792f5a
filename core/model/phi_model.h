#pragma once
// PhiForCausalLM in LibTorch (ATen only), computing what transformers' modeling_phi.py
// computes: token embedding, parallel attention + MLP blocks sharing one LayerNorm, partial
// rotary embeddings, gelu_new, final LayerNorm, lm_head with bias, KV cache.
// Internal to core: app/ and ui/ use the plain-data facade in model/engine.h.
#include "io/phi_config.h"

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

namespace qcw {

// gelu_new / gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
at::Tensor geluNew(const at::Tensor& x);

// y = x W^T + b in some representation. Dense weights implement it here; the factorized
// layers of the decomposition engine implement it in factored form (the dense weight is never
// rebuilt in the forward pass).
class LinearOp {
public:
    virtual ~LinearOp() = default;
    virtual at::Tensor forward(const at::Tensor& x) const = 0;
    // geluNew(forward(x)); kernels that can apply GELU to their output as they write it do.
    virtual at::Tensor forwardGelu(const at::Tensor& x) const { return geluNew(forward(x)); }
    virtual std::int64_t inFeatures() const = 0;
    virtual std::int64_t outFeatures() const = 0;
    virtual std::int64_t parameterCount() const = 0;
    virtual std::string method() const = 0;          // "dense", "svd", "tucker", "tt", ...
    // The dense equivalent, for analysis and tests only.
    virtual at::Tensor denseWeight() const = 0;
    virtual at::Tensor bias() const = 0;               // may be undefined
    virtual void to(at::Device device, at::ScalarType dtype) = 0;
    // The tensors training may update, each with a name relative to the layer ("weight",
    // "bias", "lowrank_left", ...). Undefined tensors are left out. Pointers stay valid while
    // the layer lives; assigning through them replaces the layer's tensor. Wrappers that own
    // nothing trainable keep the default (none).
    virtual std::vector<std::pair<std::string, at::Tensor*>> namedParameters() { return {}; }
    virtual std::vector<at::Tensor*> parameters();
    // Bytes of the weights this map reads per pass when they are held in a form that is not a
    // trainable tensor (packed or int8 weights, scales); -1 when its tensors are its parameters.
    virtual std::int64_t storedBytes() const { return -1; }
};

class DenseLinear final : public LinearOp {
public:
    DenseLinear(at::Tensor weight, at::Tensor bias) : weight_(std::move(weight)), bias_(std::move(bias)) {}
    at::Tensor forward(const at::Tensor& x) const override;
    std::int64_t inFeatures() const override { return weight_.size(1); }
    std::int64_t outFeatures() const override { return weight_.size(0); }
    std::int64_t parameterCount() const override;
    std::string method() const override { return "dense"; }
    at::Tensor denseWeight() const override { return weight_; }
    at::Tensor bias() const override { return bias_; }
    void to(at::Device device, at::ScalarType dtype) override;
    const at::Tensor& weight() const { return weight_; }
    std::vector<std::pair<std::string, at::Tensor*>> namedParameters() override;

private:
    at::Tensor weight_, bias_;
};

struct LayerNormWeights {
    at::Tensor weight, bias;
};

struct PhiBlock {
    LayerNormWeights inputLayerNorm;
    std::shared_ptr<LinearOp> q, k, v, dense, fc1, fc2;
    LayerNormWeights qLayerNorm, kLayerNorm;  // only with config.qkLayerNorm
};

// Keys and values of every layer, [B, kv_heads, T_past, head_dim], grown by concatenation.
// Static mode (slot defined): every layer holds a preallocated [B, kv_heads, capacity,
// head_dim] buffer and a step writes its keys and values at the int64 positions in `slot`
// (a device tensor, so a step needs no host value and can be recorded as a CUDA graph);
// attention then runs over the whole capacity under the caller's mask (on the CPU over the
// positions up to the slot only: a caller never unmasks a position it has not written).
struct KVCache {
    std::vector<at::Tensor> k, v;
    at::Tensor slot;
    std::int64_t filled = 0;  // static mode: positions written so far (kept by the caller)
    bool isStatic() const { return slot.defined(); }
    std::int64_t length() const {
        if (isStatic()) return filled;
        return k.empty() || !k[0].defined() ? 0 : k[0].size(2);
    }
    void clear() {
        k.clear();
        v.clear();
        slot = at::Tensor();
        filled = 0;
    }
};

// A static cache of `capacity` positions holding what `grown` (a concatenation cache) holds,
// its slot (on the cache's device) at the first free position.
KVCache staticCacheFrom(const KVCache& grown, std::int64_t capacity);

struct ForwardArgs {
    at::Tensor inputIds;        // int64 [B, T]
    at::Tensor attentionMask;   // int64/bool [B, T_past + T], 1 = attend, 0 = padding; optional
    at::Tensor positionIds;     // int64 [B, T]; optional, default T_past + arange(T) (as transformers' forward)
    KVCache* cache = nullptr;   // optional; extended in place
    std::vector<at::Tensor>* hiddenStates = nullptr;  // optional: embedding output, each block, final norm
    bool lastTokenOnly = false; // compute logits for the last position only (generation)
};

// Everything a block needs besides its input: rotary tables and the additive mask.
struct AttentionInputs {
    at::Tensor cos, sin;        // [B, 1, T, rot]
    at::Tensor mask;            // [B, 1, T, past + T] additive
    at::Tensor rowHasKeys;      // [B, 1, T, 1] or undefined (no padding)
    // decodeStep on a static cache in host memory: positions [0, decodeLength) may be attended
    // (up to the slot being written); positions after the slot are never attended. 0: attend
    // over the whole capacity under the mask.
    std::int64_t decodeLength = 0;
};

class PhiModel {
public:
    PhiConfig config;
    at::Tensor embedTokens;                 // [V, H], in the compute dtype, or (packed weights) as stored
    std::vector<PhiBlock> blocks;
    LayerNormWeights finalLayerNorm;
    std::shared_ptr<LinearOp> lmHead;
    at::Device device = at::kCPU;
    at::ScalarType dtype = at::kFloat;

    // Returns logits [B, T, V] (or [B, 1, V] with lastTokenOnly) in float32.
    at::Tensor forward(const ForwardArgs& args) const;

    // The pieces of forward, for calibration that walks the blocks one at a time.
    // `ids` must already be validated and on the model's device.
    AttentionInputs attentionInputs(std::int64_t batch, std::int64_t time, std::int64_t past,
                                    const at::Tensor& attentionMask, const at::Tensor& positionIds) const;
    at::Tensor embed(const at::Tensor& ids) const;
    // One decoder block; with a cache, appends this step's keys and values to slot `index`.
    at::Tensor block(std::size_t index, const at::Tensor& h, const AttentionInputs& in, KVCache* cache = nullptr) const;
    at::Tensor decodeBlockCpu(const PhiBlock& blk, const at::Tensor& h, const AttentionInputs& in, at::Tensor& cacheK,
                              at::Tensor& cacheV, const at::Tensor& cacheSlot) const;
    at::Tensor blockWith(const PhiBlock& blk, const at::Tensor& h, const AttentionInputs& in,
                         at::Tensor* cacheK = nullptr, at::Tensor* cacheV = nullptr,
                         const at::Tensor& cacheSlot = at::Tensor()) const;
    at::Tensor head(const at::Tensor& h, bool lastTokenOnly = false) const;  // final norm + lm_head, float32
    // Rotary tables [B, 1, T, rot] in the compute dtype for int64 positions [B, T] on the device.
    std::pair<at::Tensor, at::Tensor> rotaryTables(const at::Tensor& positions) const;
    // The additive mask value of the compute dtype (its lowest finite value, as transformers).
    double maskValue() const;
    // One step over a static cache (cache.isStatic()): ids and positions int64 [B, 1] on the
    // device, mask [B, 1, 1, capacity] additive in the compute dtype. Writes this step's keys
    // and values at cache.slot and returns logits [B, 1, V] in float32. No host
    // synchronisation and no host-dependent shapes: it can be recorded as a CUDA graph.
    at::Tensor decodeStep(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& mask,
                          KVCache& cache) const;
    std::int64_t parameterCount() const;
    // Every linear map by its checkpoint tensor name (without ".weight"), in model order.
    std::vector<std::pair<std::string, std::shared_ptr<LinearOp>*>> linearOps();
    // Every trainable tensor once, by name ("model.embed_tokens.weight", norms, then each
    // linear map's parameters as "<linear name>.<parameter name>"). A tensor shared by two
    // places (tied lm_head, Tucker bases) is listed under its first name only.
    std::vector<std::pair<std::string, at::Tensor*>> parameters();
    // The same with every alias kept (several pointers may hold one tensor), so a caller that
    // replaces a tensor can replace it everywhere.
    std::vector<std::pair<std::string, at::Tensor*>> parameterSlots();
};

}  // namespace qcw
