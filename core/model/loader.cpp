#include "model/loader.h"

#include "common/error.h"
#include "common/files.h"
#include "io/arch.h"
#include "model/encoded.h"
#include "model/factorized.h"
#include "model/layer_kinds.h"
#include "model/packed.h"
#include "model/quantized.h"


#include <filesystem>
#include <map>

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

void checkWeightsMode(const std::string& mode) {
    kernels::Format f;
    if (mode == "compute" || mode == "stored" || kernels::parseFormat(mode, f)) return;
    fail("--weights " + mode, "unknown weights mode; expected compute, stored, f32, f16, bf16, q8 or q4");
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
        if (!shape.empty() && v->shape != shape)
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
    // Any shape; the caller checks consistency.
    at::Tensor getAny(const std::string& name, int dims) {
        const TensorView* v = ckpt.find(name);
        if (!v) fail(ckpt.dir(), "tensor '" + name + "' is missing from the checkpoint");
        if (static_cast<int>(v->shape.size()) != dims)
            fail(ckpt.fileOf(name)->path(), "tensor '" + name + "' must be " + std::to_string(dims) + "-D, got " + shapeText(v->shape));
        return get(name, {});
    }
};

// Packed weights for the CPU kernels, straight from the checkpoint's views.
struct Packer {
    const Checkpoint& ckpt;
    std::string mode;  // "stored" or a kernels::Format name

    kernels::Format target(DType stored) const {
        if (mode != "stored") {
            kernels::Format f = kernels::Format::F32;
            kernels::parseFormat(mode, f);
            return f;
        }
        switch (stored) {
            case DType::F16: return kernels::Format::F16;
            case DType::BF16: return kernels::Format::BF16;
            case DType::I8: return kernels::Format::Q8;
            default: return kernels::Format::F32;
        }
    }

    // A float matrix [rows, cols] (shape already checked): the mapping itself when the stored
    // form is the target, else converted.
    PackedWeight floatMatrix(const TensorView& v) const {
        const std::int64_t rows = v.shape[0], cols = v.shape[1];
        const kernels::Format f = target(v.dtype);
        const bool same = (f == kernels::Format::F32 && v.dtype == DType::F32) ||
                          (f == kernels::Format::F16 && v.dtype == DType::F16) ||
                          (f == kernels::Format::BF16 && v.dtype == DType::BF16);
        if (same) {
            PackedWeight p;
            p.view.format = f;
            p.view.rows = rows;
            p.view.cols = cols;
            p.view.ld = cols;
            p.view.data = v.data;
            p.owner = ckpt.fileOf(v.name)->mapping();
            return p;
        }
        PackedWeight p = PackedWeight::fromTensor(tensorFromView(v, at::kFloat, at::kCPU), f);
        ckpt.fileOf(v.name)->release(v);
        return p;
    }

    // int8 rows q [rows, cols] with one fp32 scale per row.
    PackedWeight int8Rows(const TensorView& q, at::Tensor rowScale) const {
        const std::int64_t rows = q.shape[0], cols = q.shape[1];
        rowScale = rowScale.to(at::kFloat).contiguous();
        const kernels::Format f = target(DType::I8);
        if (f == kernels::Format::Q8 && cols % kernels::kBlock == 0) {  // the mapping is the weight
            struct Owner {
                std::shared_ptr<MappedFile> map;
                at::Tensor scales;
            };
            auto owner = std::make_shared<Owner>(Owner{ckpt.fileOf(q.name)->mapping(), rowScale});
            PackedWeight p;
            p.view.format = kernels::Format::Q8;
            p.view.rows = rows;
            p.view.cols = cols;
            p.view.ld = cols / kernels::kBlock;
            p.view.data = q.data;
            p.view.scales = owner->scales.data_ptr<float>();
            p.view.scaleRowStride = 1;
            p.view.scaleBlockStride = 0;
            p.owner = owner;
            return p;
        }
        at::Tensor w = tensorFromView(q, at::kFloat, at::kCPU) * rowScale.unsqueeze(1);
        ckpt.fileOf(q.name)->release(q);
        return PackedWeight::fromTensor(w, f);
    }
};

// Builds one linear map (dense, int8, low-rank, Tucker or tensor-train) from its tensors.
// Tucker bases are shared within a group: the first member built fetches them and owns them.
class LinearBuilder {
public:
    LinearBuilder(const Checkpoint& ckpt, Fetcher& f, at::Device device, const Packer* packer = nullptr)
        : ckpt(ckpt), f(f), device(device), groups(tuckerGroups(ckpt.dir())), packer(packer) {}

    [[noreturn]] void mismatch(const std::string& name, const std::string& what) const {
        fail(ckpt.dir(), "factorized layer '" + name + "': " + what);
    }
    bool stored(const std::string& name) const {
        return f.has(name + ".weight") || f.has(name + ".lowrank_left") || f.has(name + ".tucker_core") ||
               f.has(name + ".tt_core_0") || f.has(name + ".qweight") || hasEncodedLinear(ckpt, name);
    }

    // A float tensor of exactly this shape, packed (the checks of Fetcher::get).
    const TensorView& floatView(const std::string& name, const std::vector<std::int64_t>& shape) {
        const TensorView* v = ckpt.find(name);
        if (!v) fail(ckpt.dir(), "tensor '" + name + "' is missing from the checkpoint");
        if (v->shape != shape)
            fail(ckpt.fileOf(name)->path(), "tensor '" + name + "' has shape " + shapeText(v->shape) +
                                                ", config.json implies " + shapeText(shape));
        if (v->dtype != DType::F32 && v->dtype != DType::F16 && v->dtype != DType::BF16 && v->dtype != DType::F64)
            fail(ckpt.fileOf(name)->path(),
                 "tensor '" + name + "' has dtype " + dtypeName(v->dtype) + ", expected a floating-point type");
        f.ctx.checkCancelled();
        f.ctx.report("load", static_cast<long long>(++f.done), static_cast<long long>(f.total), {}, name);
        return *v;
    }
    const TensorView& matrixView(const std::string& name) {
        const TensorView* v = ckpt.find(name);
        if (!v) fail(ckpt.dir(), "tensor '" + name + "' is missing from the checkpoint");
        if (v->shape.size() != 2) fail(ckpt.fileOf(name)->path(), "tensor '" + name + "' must be 2-D, got " + shapeText(v->shape));
        return floatView(name, v->shape);
    }

    // The stored layer kinds, in the order they are recognised: the first whose tensors are in
    // the checkpoint rebuilds the layer. The strategies' StrategyInfo::stores name these ids
    // (decompose/strategies/registry.h); storedLayerKinds() lists them.
    struct Kind {
        const char* id;
        bool (LinearBuilder::*stores)(const std::string& name) const;
        std::shared_ptr<LinearOp> (LinearBuilder::*build)(const std::string& name, std::int64_t out, std::int64_t in);
    };
    static const std::vector<Kind>& kinds() {
        static const std::vector<Kind> k = {
            {"encoded", &LinearBuilder::storesEncoded, &LinearBuilder::buildEncoded},
            {"int8", &LinearBuilder::storesInt8, &LinearBuilder::buildInt8},
            {"dense", &LinearBuilder::storesDense, &LinearBuilder::buildDense},
            {"lowrank-int8", &LinearBuilder::storesLowRankInt8, &LinearBuilder::buildLowRankInt8},
            {"lowrank", &LinearBuilder::storesLowRank, &LinearBuilder::buildLowRank},
            {"tucker", &LinearBuilder::storesTucker, &LinearBuilder::buildTucker},
            {"tt", &LinearBuilder::storesTt, &LinearBuilder::buildTt},
        };
        return k;
    }

    std::shared_ptr<LinearOp> build(const std::string& name, std::int64_t out, std::int64_t in) {
        for (const Kind& k : kinds())
            if ((this->*k.stores)(name)) return (this->*k.build)(name, out, in);
        mismatch(name, "no stored layer kind recognises its tensors");
    }

private:
    // 8-/4-bit blocks (model/encoded.h)
    bool storesEncoded(const std::string& name) const { return hasEncodedLinear(ckpt, name); }
    std::shared_ptr<LinearOp> buildEncoded(const std::string& name, std::int64_t out, std::int64_t in) {
        at::Tensor bias = f.has(name + ".bias") ? f.get(name + ".bias", {out}) : at::Tensor();
        return loadEncodedLinear(ckpt, name, out, in, bias, packer != nullptr, f.dtype, device);
    }
    // int8 per output channel (the int8 strategy)
    bool storesInt8(const std::string& name) const { return f.has(name + ".qweight"); }
    std::shared_ptr<LinearOp> buildInt8(const std::string& name, std::int64_t out, std::int64_t in) {
        const TensorView* v = ckpt.find(name + ".qweight");
        if (v->dtype != DType::I8 || v->shape != std::vector<std::int64_t>{out, in})
            mismatch(name, "int8 weight must be I8 [" + std::to_string(out) + ", " + std::to_string(in) + "]");
        if (packer) {
            at::Tensor scale = f.getAny(name + ".qscale", 1).to(at::kFloat);
            if (scale.size(0) != out) mismatch(name, "needs one int8 scale per output channel");
            return std::make_shared<PackedLinear>(packer->int8Rows(*v, scale), f.get(name + ".bias", {out}), "int8");
        }
        at::Tensor q = tensorFromView(*v, at::kChar, device);
        ckpt.fileOf(v->name)->release(*v);
        at::Tensor scale = f.getAny(name + ".qscale", 1).to(at::kFloat);
        if (scale.size(0) != out) mismatch(name, "needs one int8 scale per output channel");
        return std::make_shared<Int8Linear>(q, scale, f.get(name + ".bias", {out}));
    }
    // A dense weight; also when nothing factorized is stored (errors then name the weight).
    bool storesDense(const std::string& name) const {
        return f.has(name + ".weight") || !(f.has(name + ".lowrank_left") || f.has(name + ".tucker_core") || f.has(name + ".tt_core_0"));
    }
    std::shared_ptr<LinearOp> buildDense(const std::string& name, std::int64_t out, std::int64_t in) {
        if (packer) {
            PackedWeight w = packer->floatMatrix(floatView(name + ".weight", {out, in}));
            return std::make_shared<PackedLinear>(std::move(w), f.get(name + ".bias", {out}));
        }
        at::Tensor w = f.get(name + ".weight", {out, in});  // weight first: errors name it before its bias
        at::Tensor b = f.get(name + ".bias", {out});
        return std::make_shared<DenseLinear>(std::move(w), std::move(b));
    }
    // Low-rank factors in int8, one scale per row (--int8-factors)
    bool storesLowRankInt8(const std::string& name) const {
        return f.has(name + ".lowrank_left") && ckpt.find(name + ".lowrank_left")->dtype == DType::I8;
    }
    std::shared_ptr<LinearOp> buildLowRankInt8(const std::string& name, std::int64_t out, std::int64_t in) {
        auto int8Of = [&](const std::string& t) {
            const TensorView* v = ckpt.find(t);
            if (!v || v->dtype != DType::I8 || v->shape.size() != 2) mismatch(name, t + " must be a 2-D I8 tensor");
            at::Tensor q = tensorFromView(*v, at::kChar, device);
            ckpt.fileOf(v->name)->release(*v);
            return q;
        };
        if (packer) {
            const TensorView* l = ckpt.find(name + ".lowrank_left");
            const TensorView* r = ckpt.find(name + ".lowrank_right");
            if (!l || !r || l->dtype != DType::I8 || r->dtype != DType::I8 || l->shape.size() != 2 || r->shape.size() != 2)
                mismatch(name, "int8 low-rank factors must be 2-D I8 tensors");
            if (l->shape[0] != out || r->shape[1] != in || l->shape[1] != r->shape[0])
                mismatch(name, "int8 low-rank factors do not form a [" + std::to_string(out) + ", " + std::to_string(in) + "] map");
            at::Tensor sl = f.getAny(name + ".lowrank_left_scale", 1).to(at::kFloat);
            at::Tensor sr = f.getAny(name + ".lowrank_right_scale", 1).to(at::kFloat);
            if (sl.size(0) != l->shape[0] || sr.size(0) != r->shape[0]) mismatch(name, "needs one scale per row of each int8 factor");
            return std::make_shared<PackedLowRankLinear>(packer->int8Rows(*l, sl), packer->int8Rows(*r, sr),
                                                         f.get(name + ".bias", {out}), "lowrank-int8");
        }
        at::Tensor ql = int8Of(name + ".lowrank_left"), qr = int8Of(name + ".lowrank_right");
        if (ql.size(0) != out || qr.size(1) != in || ql.size(1) != qr.size(0))
            mismatch(name, "int8 low-rank factors do not form a [" + std::to_string(out) + ", " + std::to_string(in) + "] map");
        at::Tensor sl = f.getAny(name + ".lowrank_left_scale", 1).to(at::kFloat);
        at::Tensor sr = f.getAny(name + ".lowrank_right_scale", 1).to(at::kFloat);
        if (sl.size(0) != ql.size(0) || sr.size(0) != qr.size(0)) mismatch(name, "needs one scale per row of each int8 factor");
        return std::make_shared<Int8LowRankLinear>(ql, sl, qr, sr, f.get(name + ".bias", {out}));
    }
    // Low-rank factors (svd, asvd, custom)
    bool storesLowRank(const std::string& name) const { return f.has(name + ".lowrank_left"); }
    std::shared_ptr<LinearOp> buildLowRank(const std::string& name, std::int64_t out, std::int64_t in) {
        if (packer) {
            const TensorView& l = matrixView(name + ".lowrank_left");
            const TensorView& r = matrixView(name + ".lowrank_right");
            if (l.shape[0] != out || r.shape[1] != in || l.shape[1] != r.shape[0])
                mismatch(name, "low-rank factors do not form a [" + std::to_string(out) + ", " + std::to_string(in) + "] map");
            return std::make_shared<PackedLowRankLinear>(packer->floatMatrix(l), packer->floatMatrix(r), f.get(name + ".bias", {out}));
        }
        at::Tensor l = f.getAny(name + ".lowrank_left", 2), r = f.getAny(name + ".lowrank_right", 2);
        if (l.size(0) != out || r.size(1) != in || l.size(1) != r.size(0))
            mismatch(name, "low-rank factors do not form a [" + std::to_string(out) + ", " + std::to_string(in) + "] map");
        return std::make_shared<LowRankLinear>(l, r, f.get(name + ".bias", {out}));
    }
    // A Tucker core on bases shared within its group (tucker, tucker-xl)
    bool storesTucker(const std::string& name) const { return f.has(name + ".tucker_core"); }
    std::shared_ptr<LinearOp> buildTucker(const std::string& name, std::int64_t out, std::int64_t in) {
        auto it = groups.find(name);
        if (it == groups.end()) mismatch(name, "has a Tucker core but compression.json names no group for it");
        auto& shared = bases[it->second];
        bool owner = false;
        if (!shared) {
            shared = std::make_shared<TuckerBases>();
            shared->group = it->second;
            shared->inBasis = f.getAny("tucker." + it->second + ".in_basis", 2);
            if (f.has("tucker." + it->second + ".out_basis")) shared->outBasis = f.getAny("tucker." + it->second + ".out_basis", 2);
            owner = true;
        }
        at::Tensor core = f.getAny(name + ".tucker_core", 2);
        const std::int64_t outDim = shared->outBasis.defined() ? shared->outBasis.size(0) : core.size(0);
        if (shared->inBasis.size(0) != in || core.size(1) != shared->inBasis.size(1) || outDim != out ||
            (shared->outBasis.defined() && shared->outBasis.size(1) != core.size(0)))
            mismatch(name, "Tucker core and bases do not form a [" + std::to_string(out) + ", " + std::to_string(in) + "] map");
        return std::make_shared<TuckerLinear>(shared, core, f.get(name + ".bias", {out}), owner);
    }
    // Tensor-train cores (tt)
    bool storesTt(const std::string& name) const { return f.has(name + ".tt_core_0"); }
    std::shared_ptr<LinearOp> buildTt(const std::string& name, std::int64_t out, std::int64_t in) {
        std::vector<at::Tensor> cores;
        for (int k = 0; f.has(name + ".tt_core_" + std::to_string(k)); ++k) cores.push_back(f.getAny(name + ".tt_core_" + std::to_string(k), 4));
        auto tt = std::make_shared<TTLinear>(cores, f.get(name + ".bias", {out}));
        if (tt->inFeatures() != in || tt->outFeatures() != out)
            mismatch(name, "tensor-train cores do not form a [" + std::to_string(out) + ", " + std::to_string(in) + "] map");
        return tt;
    }

    const Checkpoint& ckpt;
    Fetcher& f;
    at::Device device;
    std::map<std::string, std::string> groups;
    std::map<std::string, std::shared_ptr<TuckerBases>> bases;
    const Packer* packer;
};

}  // namespace

std::vector<std::string> storedLayerKinds() {
    std::vector<std::string> ids;
    for (const auto& k : LinearBuilder::kinds()) ids.push_back(k.id);
    return ids;
}

PhiModel loadPhiModel(const Checkpoint& ckpt, const LoadOptions& opts, const RunContext& ctx) {
    PhiModel m;
    m.config = ckpt.config();
    m.device = parseDevice(opts.device);
    m.dtype = parseComputeDtype(opts.dtype, m.device);
    const PhiConfig& c = m.config;
    const std::int64_t H = c.hiddenSize, I = c.intermediateSize, V = c.vocabSize, hd = c.headDim();
    const std::int64_t kv = static_cast<std::int64_t>(c.numKvHeads) * hd;

    checkWeightsMode(opts.weights);
    const bool packed = opts.weights != "compute";
    if (packed && (!m.device.is_cpu() || m.dtype != at::kFloat))
        fail("--weights " + opts.weights, "packed weights run on the CPU with float32 compute (got " + m.device.str() + ", " +
                                              std::string(c10::toString(m.dtype)) + "); use --weights compute");
    Fetcher f{ckpt, m.dtype, m.device, ctx};
    f.total = ckpt.tensors().size();
    const Packer packer{ckpt, opts.weights};
    LinearBuilder builder{ckpt, f, m.device, packed ? &packer : nullptr};
    auto linear = [&](const std::string& name, std::int64_t out, std::int64_t in) { return builder.build(name, out, in); };
    auto norm = [&](const std::string& name, std::int64_t n) {
        LayerNormWeights w;
        w.weight = f.get(name + ".weight", {n});
        w.bias = f.get(name + ".bias", {n});
        return w;
    };

    const Architecture& arch = phiArchitecture();
    const std::string embed = arch.name(TensorId::TokenEmbd) + kWeightSuffix, lmHead = arch.name(TensorId::Output);
    if (hasBlockMatrix(ckpt, embed)) {  // 8-/4-bit blocks, held dequantized
        m.embedTokens = readBlockMatrix(ckpt, embed, V, H).dequantize().to(packed ? at::kFloat : m.dtype).to(m.device);
    } else if (packed) {  // the embedding stays as stored: one row is read per token
        const TensorView& e = builder.floatView(embed, {V, H});
        if (e.dtype == DType::F64) {
            m.embedTokens = f.get(embed, {V, H});
        } else {
            auto keep = ckpt.fileOf(e.name)->mapping();
            m.embedTokens = at::from_blob(const_cast<std::uint8_t*>(e.data), e.shape, [keep](void*) {},
                                          at::TensorOptions().dtype(toScalarType(e.dtype)));
        }
    } else {
        m.embedTokens = f.get(embed, {V, H});
    }
    for (int i = 0; i < c.numLayers; ++i) {
        PhiBlock b;
        b.inputLayerNorm = norm(arch.name(TensorId::AttnNorm, i), H);
        b.q = linear(arch.name(TensorId::AttnQ, i), H, H);
        b.k = linear(arch.name(TensorId::AttnK, i), kv, H);
        b.v = linear(arch.name(TensorId::AttnV, i), kv, H);
        b.dense = linear(arch.name(TensorId::AttnOut, i), H, H);
        if (c.qkLayerNorm) {
            b.qLayerNorm = norm(arch.name(TensorId::AttnQNorm, i), hd);
            b.kLayerNorm = norm(arch.name(TensorId::AttnKNorm, i), hd);
        }
        b.fc1 = linear(arch.name(TensorId::FfnUp, i), I, H);
        b.fc2 = linear(arch.name(TensorId::FfnDown, i), H, I);
        m.blocks.push_back(std::move(b));
    }
    m.finalLayerNorm = norm(arch.name(TensorId::OutputNorm), H);
    if (builder.stored(lmHead)) {
        m.lmHead = linear(lmHead, V, H);
    } else if (c.tieWordEmbeddings) {
        at::Tensor bias = f.has(lmHead + kBiasSuffix) ? f.get(lmHead + kBiasSuffix, {V}) : at::Tensor();
        if (packed && hasBlockMatrix(ckpt, embed))
            m.lmHead = std::make_shared<PackedLinear>(readBlockMatrix(ckpt, embed, V, H).packed(), bias);
        else if (packed) m.lmHead = std::make_shared<PackedLinear>(packer.floatMatrix(*ckpt.find(embed)), bias);
        else m.lmHead = std::make_shared<DenseLinear>(m.embedTokens, bias);
    } else {
        fail(ckpt.dir(), "tensor '" + lmHead + kWeightSuffix + "' is missing from the checkpoint");
    }
    // Unknown tensors are tolerated (e.g. rotary buffers of old exports) but not silently:
    // they are simply not part of PhiForCausalLM.
    return m;
}

std::pair<std::int64_t, std::int64_t> linearShape(const PhiConfig& c, const std::string& module) {
    int block = -1;
    const ArchTensor* t = phiArchitecture().match(module, &block);
    if (t && t->role == ArchTensor::Role::Linear && block < c.numLayers) {
        const std::vector<std::int64_t> s = tensorShape(*t, c);
        return {s[0], s[1]};
    }
    fail(module, "is not a linear map of this model (expected model.layers.N.self_attn.q_proj|k_proj|v_proj|dense, "
                 "model.layers.N.mlp.fc1|fc2 or lm_head)");
}

std::shared_ptr<LinearOp> loadLinear(const Checkpoint& ckpt, const std::string& module, const LoadOptions& opts,
                                     const RunContext& ctx) {
    const at::Device device = parseDevice(opts.device);
    const at::ScalarType dtype = parseComputeDtype(opts.dtype, device);
    const auto [out, in] = linearShape(ckpt.config(), module);
    Fetcher f{ckpt, dtype, device, ctx};
    LinearBuilder builder{ckpt, f, device};
    const Architecture& arch = phiArchitecture();
    if (module == arch.name(TensorId::Output) && !builder.stored(module) && ckpt.config().tieWordEmbeddings) {
        at::Tensor bias = f.has(module + kBiasSuffix) ? f.get(module + kBiasSuffix, {out}) : at::Tensor();
        return std::make_shared<DenseLinear>(f.get(arch.name(TensorId::TokenEmbd) + kWeightSuffix, {out, in}), bias);
    }
    return builder.build(module, out, in);
}

}  // namespace qcw
