#include "io/inventory.h"

#include "common/error.h"
#include "io/arch.h"
#include "io/checkpoint.h"

#include <filesystem>
#include <algorithm>
#include <cstring>
#include <map>
#include <regex>

namespace qcw {

std::string layerKind(const std::string& nameIn, int* block) {
    if (block) *block = -1;
    const Architecture& arch = phiArchitecture();
    std::smatch m;
    // Factors of a compressed layer take the kind of the layer they replace.
    std::string name = nameIn;
    static const std::regex factorRe("(.*)\\.(lowrank_left|lowrank_right|lowrank_left_scale|lowrank_right_scale|tucker_core|tt_core_[0-9]+|qweight|qscale)");
    if (std::regex_match(nameIn, m, factorRe)) name = m[1].str() + kWeightSuffix;
    if (nameIn.rfind("tucker.", 0) == 0) return "tucker_basis";
    auto endsWith = [&](const std::string& suffix) {
        return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    const bool weight = endsWith(kWeightSuffix), bias = endsWith(kBiasSuffix);
    // The table's kinds: a module's weight; both weight and bias of a norm.
    if (weight || bias) {
        const std::string module = name.substr(0, name.size() - std::strlen(weight ? kWeightSuffix : kBiasSuffix));
        int b = -1;
        const ArchTensor* t = arch.match(module, &b);
        if (t && (weight || t->role == ArchTensor::Role::Norm)) {
            if (block) *block = b;
            return t->kind;
        }
    }
    if (bias) {
        static const std::regex blockRe([&] {
            std::string p = arch.blockPattern, re;
            for (std::size_t i = 0; i < p.size(); ++i) {
                if (p.compare(i, 5, "{bid}") == 0) {
                    re += "([0-9]{1,9})";
                    i += 4;
                } else if (p[i] == '.') {
                    re += "\\.";
                } else {
                    re += p[i];
                }
            }
            return re + "\\..*";
        }());
        if (block && std::regex_match(name, m, blockRe)) *block = std::stoi(m[1].str());
        return "bias";
    }
    return "other";
}

ModelSummary summarize(const Checkpoint& ckpt) {
    ModelSummary s;
    s.dir = ckpt.dir();
    s.architecture = phiArchitecture().hfName;
    const PhiConfig& c = ckpt.config();
    s.numLayers = c.numLayers;
    s.hiddenSize = c.hiddenSize;
    s.intermediateSize = c.intermediateSize;
    s.numHeads = c.numHeads;
    s.vocabSize = c.vocabSize;
    s.bytesOnDisk = ckpt.bytesOnDisk();
    s.hasTokenizer = ckpt.hasTokenizer();
    std::error_code ec;
    s.compressed = std::filesystem::exists(std::filesystem::path(ckpt.dir()) / "compression.json", ec);
    std::map<std::string, std::int64_t> bytesByDtype;
    for (const TensorView* t : ckpt.tensors()) {
        LayerInfo l;
        l.name = t->name;
        l.kind = layerKind(t->name, &l.block);
        l.shape = t->shape;
        l.params = t->numel();
        l.dtype = dtypeName(t->dtype);
        const bool factor = l.name.size() > 7 && (l.name.find(".lowrank_") != std::string::npos ||
                                                   l.name.find(".tucker_core") != std::string::npos ||
                                                   l.name.find(".tt_core_") != std::string::npos || l.kind == "tucker_basis" ||
                                                   l.name.find(".qweight") != std::string::npos || l.name.find(".qscale") != std::string::npos);
        l.compressible = !factor && l.kind != "layernorm" && l.kind != "bias" && l.kind != "other" && t->shape.size() == 2;
        s.params += l.params;
        if (l.compressible) s.compressibleParams += l.params;
        bytesByDtype[l.dtype] += static_cast<std::int64_t>(t->nbytes);
        s.layers.push_back(std::move(l));
    }
    std::int64_t best = -1;
    for (const auto& [d, b] : bytesByDtype)
        if (b > best) {
            best = b;
            s.dtype = d;
        }
    // Natural order: embedding, blocks by index, final layernorm, lm_head.
    const std::string lmHeadPrefix = phiArchitecture().name(TensorId::Output) + ".";
    std::stable_sort(s.layers.begin(), s.layers.end(), [&lmHeadPrefix](const LayerInfo& a, const LayerInfo& b) {
        auto rank = [&lmHeadPrefix](const LayerInfo& l) {
            if (l.kind == "embedding") return -2;
            if (l.block >= 0) return l.block;
            if (l.kind == "lm_head" || l.name.rfind(lmHeadPrefix, 0) == 0) return 1 << 21;
            return 1 << 20;
        };
        return rank(a) < rank(b);
    });
    return s;
}

ModelSummary inspectModel(const std::string& dir) { return summarize(Checkpoint::open(dir)); }

MemoryEstimate estimateMemory(const ModelSummary& m, int bytesPerParam, int contextLength, int batch) {
    MemoryEstimate e;
    e.weightsBytes = double(m.params) * bytesPerParam;
    // K and V per layer: batch x context x hidden each.
    e.kvCacheBytes = 2.0 * m.numLayers * double(batch) * contextLength * m.hiddenSize * bytesPerParam;
    // Largest transient: the MLP's intermediate activations plus attention scores of one layer.
    e.activationBytes = double(batch) * contextLength *
                            (double(m.intermediateSize) + 4.0 * m.hiddenSize + double(m.vocabSize)) * 4.0 +
                        double(batch) * m.numHeads * double(contextLength) * contextLength * 4.0;
    return e;
}

}  // namespace qcw
