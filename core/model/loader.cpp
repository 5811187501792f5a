#include "model/loader.h"

#include "common/error.h"

#include <sstream>

namespace qcw {

at::Device parseDevice(const std::string& name) {
    if (name == "cpu") return at::Device(at::kCPU);
    if (name.rfind("cuda", 0) == 0) {
        if (!at::hasCUDA()) fail("--device " + name, "this build of LibTorch has no CUDA support (use --device cpu)");
        return at::Device(name);
    }
    fail("--device " + name, "unknown device; expected cpu, cuda or cuda:N");
}

at::ScalarType parseComputeDtype(const std::string& name, const at::Device& device) {
    if (name == "auto") return device.is_cpu() ? at::kFloat : at::kBFloat16;
    if (name == "float32" || name == "fp32" || name == "f32") return at::kFloat;
    if (name == "float16" || name == "fp16" || name == "f16") return at::kHalf;
    if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
    fail("--dtype " + name, "unknown dtype; expected auto, float32, float16 or bfloat16");
}

at::ScalarType toScalarType(DType t) {
    switch (t) {
        case DType::F32: return at::kFloat;
        case DType::F16: return at::kHalf;
        case DType::BF16: return at::kBFloat16;
        case DType::F64: return at::kDouble;
        case DType::I64: return at::kLong;
        case DType::I32: return at::kInt;
        case DType::I16: return at::kShort;
        case DType::I8: return at::kChar;
        case DType::U8: return at::kByte;
        case DType::Bool: return at::kBool;
    }
    fail("dtype", "unsupported");
}

at::Tensor tensorFromView(const TensorView& v, at::ScalarType dtype, at::Device device) {
    auto src = at::from_blob(const_cast<std::uint8_t*>(v.data), v.shape,
                             at::TensorOptions().dtype(toScalarType(v.dtype)).device(at::kCPU));
    // A fresh tensor that owns its memory, whatever the source and target types.
    at::Tensor out = at::empty(v.shape, at::TensorOptions().dtype(dtype).device(device));
    out.copy_(src);
    return out;
}

namespace {

std::string shapeText(const std::vector<std::int64_t>& s) {
    std::ostringstream o;
    o << '[';
    for (std::size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
    o << ']';
    return o.str();
}

struct Fetcher {
    const Checkpoint& ckpt;
    at::ScalarType dtype;
    at::Device device;
    const RunContext& ctx;
    std::size_t done = 0, total = 0;

    at::Tensor get(const std::string& name, const std::vector<std::int64_t>& shape) {
        const TensorView* v = ckpt.find(name);
        if (!v) fail(ckpt.dir(), "tensor '" + name + "' is missing from the checkpoint");
        if (v->shape != shape)
            fail(ckpt.fileOf(name)->path(), "tensor '" + name + "' has shape " + shapeText(v->shape) +
                                                ", config.json implies " + shapeText(shape));
        if (v->dtype != DType::F32 && v->dtype != DType::F16 && v->dtype != DType::BF16 && v->dtype != DType::F64)
            fail(ckpt.fileOf(name)->path(),
                 "tensor '" + name + "' has dtype " + dtypeName(v->dtype) + ", expected a floating-point type");
        ctx.checkCancelled();
        at::Tensor t = tensorFromView(*v, dtype, device);
        ckpt.fileOf(name)->release(*v);
        ctx.report("load", static_cast<long long>(++done), static_cast<long long>(total), {}, name);
        return t;
    }
    bool has(const std::string& name) const { return ckpt.find(name) != nullptr; }
};

}  // namespace

PhiModel loadPhiModel(const Checkpoint& ckpt, const LoadOptions& opts, const RunContext& ctx) {
    PhiModel m;
    m.config = ckpt.config();
    m.device = parseDevice(opts.device);
    m.dtype = parseComputeDtype(opts.dtype, m.device);
    const PhiConfig& c = m.config;
    const std::int64_t H = c.hiddenSize, I = c.intermediateSize, V = c.vocabSize, hd = c.headDim();
    const std::int64_t kv = static_cast<std::int64_t>(c.numKvHeads) * hd;

    Fetcher f{ckpt, m.dtype, m.device, ctx};
    f.total = ckpt.tensors().size();
    auto linear = [&](const std::string& name, std::int64_t out, std::int64_t in) {
        at::Tensor w = f.get(name + ".weight", {out, in});  // weight first: errors name it before its bias
        at::Tensor b = f.get(name + ".bias", {out});
        return std::make_shared<DenseLinear>(std::move(w), std::move(b));
    };
    auto norm = [&](const std::string& name, std::int64_t n) {
        LayerNormWeights w;
        w.weight = f.get(name + ".weight", {n});
        w.bias = f.get(name + ".bias", {n});
        return w;
    };

    m.embedTokens = f.get("model.embed_tokens.weight", {V, H});
    for (int i = 0; i < c.numLayers; ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        PhiBlock b;
        b.inputLayerNorm = norm(p + "input_layernorm", H);
        b.q = linear(p + "self_attn.q_proj", H, H);
        b.k = linear(p + "self_attn.k_proj", kv, H);
        b.v = linear(p + "self_attn.v_proj", kv, H);
        b.dense = linear(p + "self_attn.dense", H, H);
        if (c.qkLayerNorm) {
            b.qLayerNorm = norm(p + "self_attn.q_layernorm", hd);
            b.kLayerNorm = norm(p + "self_attn.k_layernorm", hd);
        }
        b.fc1 = linear(p + "mlp.fc1", I, H);
        b.fc2 = linear(p + "mlp.fc2", H, I);
        m.blocks.push_back(std::move(b));
    }
    m.finalLayerNorm = norm("model.final_layernorm", H);
    if (f.has("lm_head.weight")) {
        m.lmHead = linear("lm_head", V, H);
    } else if (c.tieWordEmbeddings) {
        at::Tensor bias = f.has("lm_head.bias") ? f.get("lm_head.bias", {V}) : at::Tensor();
        m.lmHead = std::make_shared<DenseLinear>(m.embedTokens, bias);
    } else {
        fail(ckpt.dir(), "tensor 'lm_head.weight' is missing from the checkpoint");
    }
    // Unknown tensors are tolerated (e.g. rotary buffers of old exports) but not silently:
    // they are simply not part of PhiForCausalLM.
    return m;
}

}  // namespace qcw
