// The lookups over an architecture's tensor-name table (the tables: arch_<name>.cpp).
#include "io/arch.h"

#include "common/error.h"
#include "io/phi_config.h"

#include <cstring>

namespace qcw {

namespace {

constexpr const char* kBid = "{bid}";
constexpr std::size_t kBidLen = 5;

std::string withBlock(const char* pattern, int block) {
    std::string s = pattern;
    const std::size_t at = s.find(kBid);
    if (at == std::string::npos) return s;
    QCW_ASSERT(block >= 0, "a per-block tensor name needs a block index");
    return s.replace(at, kBidLen, std::to_string(block));
}

}  // namespace

bool ArchTensor::perBlock() const { return std::strstr(name, kBid) != nullptr; }

const ArchTensor& Architecture::at(TensorId id) const {
    for (const auto& t : tensors)
        if (t.id == id) return t;
    fail(std::string("architecture ") + hfName, "has no tensor of this role");
}

std::string Architecture::name(TensorId id, int block) const { return withBlock(at(id).name, block); }

std::string Architecture::gguf(TensorId id, int block) const { return withBlock(at(id).gguf, block); }

std::string Architecture::local(TensorId id) const {
    const std::string prefix = std::string(blockPattern) + ".";
    const std::string n = at(id).name;
    QCW_ASSERT(n.compare(0, prefix.size(), prefix) == 0, "local() of a tensor outside the blocks");
    return n.substr(prefix.size());
}

std::string Architecture::blockPrefix(int block) const { return withBlock(blockPattern, block) + "."; }

std::vector<TensorId> Architecture::blockLinears() const {
    std::vector<TensorId> out;
    for (const auto& t : tensors)
        if (t.role == ArchTensor::Role::Linear && t.perBlock()) out.push_back(t.id);
    return out;
}

const ArchTensor* Architecture::match(const std::string& module, int* block) const {
    if (block) *block = -1;
    for (const auto& t : tensors) {
        const std::string p = t.name;
        const std::size_t at = p.find(kBid);
        if (at == std::string::npos) {
            if (module == p) return &t;
            continue;
        }
        const std::size_t tail = p.size() - at - kBidLen;
        if (module.size() <= at + tail || module.compare(0, at, p, 0, at) != 0 ||
            module.compare(module.size() - tail, tail, p, at + kBidLen, tail) != 0)
            continue;
        const std::string digits = module.substr(at, module.size() - tail - at);
        // At most 9 digits: every block index an int holds.
        if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
        if (block) *block = std::stoi(digits);
        return &t;
    }
    return nullptr;
}

std::vector<std::int64_t> tensorShape(const ArchTensor& t, const PhiConfig& c) {
    std::vector<std::int64_t> s;
    for (Dim d : t.shape) {
        switch (d) {
            case Dim::Hidden: s.push_back(c.hiddenSize); break;
            case Dim::Intermediate: s.push_back(c.intermediateSize); break;
            case Dim::Vocab: s.push_back(c.vocabSize); break;
            case Dim::KvHidden: s.push_back(static_cast<std::int64_t>(c.numKvHeads) * c.headDim()); break;
            case Dim::HeadDim: s.push_back(c.headDim()); break;
        }
    }
    return s;
}

std::vector<ExpectedTensor> expectedTensors(const Architecture& arch, const PhiConfig& c) {
    using R = ArchTensor::Role;
    using P = ArchTensor::Presence;
    std::vector<ExpectedTensor> out;
    auto add = [&](const ArchTensor& t, int block) {
        const std::string n = withBlock(t.name, block);
        const std::vector<std::int64_t> shape = tensorShape(t, c);
        if (t.presence != P::Untied || !c.tieWordEmbeddings) out.push_back({n + kWeightSuffix, t.id, block, false, shape});
        if (t.role != R::Embedding) out.push_back({n + kBiasSuffix, t.id, block, true, {shape.front()}});
    };
    auto present = [&](const ArchTensor& t) { return t.presence != P::QkLayerNorm || c.qkLayerNorm; };
    bool blocksDone = false;
    for (const auto& t : arch.tensors) {
        if (!t.perBlock()) {
            if (present(t)) add(t, -1);
            continue;
        }
        if (blocksDone) continue;
        // The per-block entries are contiguous in the table: write them block by block.
        blocksDone = true;
        for (int b = 0; b < c.numLayers; ++b)
            for (const auto& u : arch.tensors)
                if (u.perBlock() && present(u)) add(u, b);
    }
    return out;
}

}  // namespace qcw
