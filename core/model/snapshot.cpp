// Saving a snapshot directory (see snapshot.h).
#include "model/snapshot.h"

#include "common/error.h"
#include "common/files.h"
#include "io/arch.h"
#include "model/encoded.h"
#include "model/factorized.h"
#include "model/loader.h"
#include "model/quantized.h"

#include <filesystem>
#include <set>

namespace fs = std::filesystem;

namespace qcw {

void writeModelSnapshot(const PhiModel& model, const std::string& dir, const SnapshotOptions& opts) {
    const std::optional<DType>& floatDtype = opts.floatDtype;
    if (floatDtype && *floatDtype != DType::F32 && *floatDtype != DType::F16 && *floatDtype != DType::BF16)
        fail(std::string("store dtype ") + dtypeName(*floatDtype), "must be F32, F16 or BF16");
    std::vector<at::Tensor> keep;
    std::vector<TensorToWrite> entries;
    auto dtypeOf = [](const at::Tensor& t) {
        switch (t.scalar_type()) {
            case at::kHalf: return DType::F16;
            case at::kBFloat16: return DType::BF16;
            case at::kChar: return DType::I8;
            case at::kByte: return DType::U8;
            default: return DType::F32;
        }
    };
    auto addAs = [&](const std::string& name, const at::Tensor& t, bool convert) {
        if (!t.defined()) return;
        at::Tensor c = t.scalar_type() == at::kDouble ? t.to(at::kFloat) : t;
        if (convert && floatDtype && c.is_floating_point()) c = c.to(toScalarType(*floatDtype));
        c = c.to(at::kCPU).contiguous();
        keep.push_back(c);
        entries.push_back({name, dtypeOf(c), std::vector<std::int64_t>(c.sizes().begin(), c.sizes().end()), c.data_ptr(), {}});
    };
    auto add = [&](const std::string& name, const at::Tensor& t) { addAs(name, t, true); };
    // Encoded maps (model/encoded.h) store their blocks and fp16 scales as they are.
    const TensorSink raw = [&](const std::string& name, const at::Tensor& t) { addAs(name, t, false); };
    std::set<const TuckerBases*> writtenBases;
    auto addLinear = [&](const std::string& name, const LinearOp& op) {
        add(name + kBiasSuffix, op.bias());
        if (encodedTensors(name, op, raw)) return;
        if (auto* d = dynamic_cast<const DenseLinear*>(&op)) {
            add(name + kWeightSuffix, d->weight());
        } else if (auto* lr = dynamic_cast<const LowRankLinear*>(&op)) {
            auto& m = const_cast<LowRankLinear&>(*lr);
            add(name + ".lowrank_left", m.left());
            add(name + ".lowrank_right", m.right());
        } else if (auto* tk = dynamic_cast<const TuckerLinear*>(&op)) {
            add(name + ".tucker_core", tk->core());
            if (writtenBases.insert(tk->bases().get()).second) {
                add("tucker." + tk->bases()->group + ".in_basis", tk->bases()->inBasis);
                add("tucker." + tk->bases()->group + ".out_basis", tk->bases()->outBasis);
            }
        } else if (auto* q8 = dynamic_cast<const Int8LowRankLinear*>(&op)) {
            add(name + ".lowrank_left", q8->qLeft());
            add(name + ".lowrank_left_scale", q8->leftScale());
            add(name + ".lowrank_right", q8->qRight());
            add(name + ".lowrank_right_scale", q8->rightScale());
        } else if (auto* q = dynamic_cast<const Int8Linear*>(&op)) {
            add(name + ".qweight", q->qweight());
            add(name + ".qscale", q->scale());
        } else if (auto* tt = dynamic_cast<const TTLinear*>(&op)) {
            for (std::size_t k = 0; k < tt->cores().size(); ++k) add(name + ".tt_core_" + std::to_string(k), tt->cores()[k]);
        } else {
            fail(name, "cannot save a linear map of kind '" + op.method() + "'");
        }
    };
    auto addNorm = [&](const std::string& name, const LayerNormWeights& w) {
        add(name + kWeightSuffix, w.weight);
        add(name + kBiasSuffix, w.bias);
    };
    const Architecture& arch = phiArchitecture();
    const std::string embed = arch.name(TensorId::TokenEmbd) + kWeightSuffix;
    if (opts.embeddingBlocks) blockMatrixTensors(embed, *opts.embeddingBlocks, raw);
    else add(embed, model.embedTokens);
    for (std::size_t b = 0; b < model.blocks.size(); ++b) {
        const auto& blk = model.blocks[b];
        const int bi = static_cast<int>(b);
        addNorm(arch.name(TensorId::AttnNorm, bi), blk.inputLayerNorm);
        if (model.config.qkLayerNorm) {
            addNorm(arch.name(TensorId::AttnQNorm, bi), blk.qLayerNorm);
            addNorm(arch.name(TensorId::AttnKNorm, bi), blk.kLayerNorm);
        }
        addLinear(arch.name(TensorId::AttnQ, bi), *blk.q);
        addLinear(arch.name(TensorId::AttnK, bi), *blk.k);
        addLinear(arch.name(TensorId::AttnV, bi), *blk.v);
        addLinear(arch.name(TensorId::AttnOut, bi), *blk.dense);
        addLinear(arch.name(TensorId::FfnUp, bi), *blk.fc1);
        addLinear(arch.name(TensorId::FfnDown, bi), *blk.fc2);
    }
    addNorm(arch.name(TensorId::OutputNorm), model.finalLayerNorm);
    const std::string lmHead = arch.name(TensorId::Output);
    if (model.config.tieWordEmbeddings && model.lmHead->method() == "dense") add(lmHead + kBiasSuffix, model.lmHead->bias());
    else addLinear(lmHead, *model.lmHead);
    writeSafetensors((fs::path(dir) / "model.safetensors").string(), entries, {{"format", "pt"}, {"generator", "qcompress"}});
    PhiConfig c = model.config;
    const at::ScalarType stored = floatDtype ? toScalarType(*floatDtype) : model.dtype;
    c.torchDtype = stored == at::kHalf ? "float16" : stored == at::kBFloat16 ? "bfloat16" : "float32";
    writeTextFileAtomically((fs::path(dir) / "config.json").string(), c.toJsonText());
    if (!opts.compressionJson.empty())
        writeTextFileAtomically((fs::path(dir) / "compression.json").string(), opts.compressionJson);
}

}  // namespace qcw
