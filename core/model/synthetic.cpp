#include "model/synthetic.h"

#include "common/error.h"
#include "common/files.h"
#include "io/arch.h"
#include "model/loader.h"

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>

namespace fs = std::filesystem;

namespace qcw {

PhiConfig namedPhiShape(const std::string& name) {
    if (name == "phi-1_5" || name == "phi-1.5") return PhiConfig::phi15();
    PhiConfig c = PhiConfig::phi15();
    if (name == "tiny") {
        c.vocabSize = 320; c.hiddenSize = 64; c.intermediateSize = 256; c.numLayers = 3;
        c.numHeads = 4; c.numKvHeads = 4; c.maxPositions = 128;
        return c;
    }
    if (name == "small") {
        c.vocabSize = 4096; c.hiddenSize = 256; c.intermediateSize = 1024; c.numLayers = 8;
        c.numHeads = 8; c.numKvHeads = 8; c.maxPositions = 512;
        return c;
    }
    fail("--shape " + name, "unknown shape; expected phi-1_5, small or tiny");
}

namespace {

struct Spec {
    std::string name;
    std::vector<std::int64_t> shape;
    enum Kind { Matrix, Bias, NormWeight, NormBias } kind;
    TensorId id;
};

// The tensors of the architecture table (io/arch.h), in its order.
std::vector<Spec> phiTensorSpecs(const PhiConfig& c) {
    std::vector<Spec> s;
    for (const ExpectedTensor& t : expectedTensors(phiArchitecture(), c)) {
        const bool norm = phiArchitecture().at(t.id).role == ArchTensor::Role::Norm;
        const Spec::Kind kind = norm ? (t.bias ? Spec::NormBias : Spec::NormWeight) : (t.bias ? Spec::Bias : Spec::Matrix);
        s.push_back({t.name, t.shape, kind, t.id});
    }
    return s;
}

at::Tensor makeTensor(const Spec& spec, std::size_t index, const SyntheticOptions& o, int numLayers) {
    at::Generator gen = at::detail::createCPUGenerator(o.seed * 1000003ull + index);
    auto f = at::TensorOptions().dtype(at::kFloat);
    if (o.spectrum == "init") {
        switch (spec.kind) {
            case Spec::NormWeight: return at::ones(spec.shape, f);
            case Spec::NormBias:
            case Spec::Bias: return at::zeros(spec.shape, f);
            case Spec::Matrix: break;
        }
        const bool residualOut = spec.id == TensorId::AttnOut || spec.id == TensorId::FfnDown;
        const double std = o.initStd / (residualOut ? std::sqrt(2.0 * std::max(1, numLayers)) : 1.0);
        return std * at::randn(spec.shape, gen, f);
    }
    switch (spec.kind) {
        case Spec::NormWeight: return at::ones(spec.shape, f) + 0.02 * at::randn(spec.shape, gen, f);
        case Spec::NormBias: return 0.02 * at::randn(spec.shape, gen, f);
        case Spec::Bias: return 0.02 * at::randn(spec.shape, gen, f);
        case Spec::Matrix: break;
    }
    if (o.spectrum == "random") return o.initStd * at::randn(spec.shape, gen, f);
    if (o.spectrum != "powerlaw") fail("--spectrum " + o.spectrum, "unknown spectrum; expected random, powerlaw or init");
    const std::int64_t m = spec.shape[0], n = spec.shape[1], r = std::min(m, n);
    auto a = at::randn({m, r}, gen, f) / std::sqrt(double(m));
    auto b = at::randn({r, n}, gen, f) / std::sqrt(double(n));
    auto k = at::arange(1, r + 1, f);
    auto s = at::pow(k, -o.alpha);
    // Scale so the Frobenius norm matches an i.i.d. matrix with the same std.
    s = s * (o.initStd * std::sqrt(double(m * n)) / s.norm().item<double>());
    return at::matmul(a * s.unsqueeze(0), b);
}

}  // namespace

void writeSyntheticPhi(const std::string& dir, const PhiConfig& config, const SyntheticOptions& opts,
                       const RunContext& ctx, bool replace) {
    if (opts.dtype != DType::F32 && opts.dtype != DType::F16 && opts.dtype != DType::BF16)
        fail(std::string("--dtype ") + dtypeName(opts.dtype), "synthetic checkpoints are F32, F16 or BF16");
    const auto specs = phiTensorSpecs(config);
    const at::ScalarType st = toScalarType(opts.dtype);
    const std::size_t elem = dtypeSize(opts.dtype);

    // Split into shards by size, keeping order.
    std::vector<std::vector<std::size_t>> shards(1);
    std::size_t cur = 0;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        std::size_t bytes = elem;
        for (auto d : specs[i].shape) bytes *= static_cast<std::size_t>(d);
        if (opts.maxShardBytes > 0 && cur > 0 && cur + bytes > opts.maxShardBytes) {
            shards.emplace_back();
            cur = 0;
        }
        shards.back().push_back(i);
        cur += bytes;
    }

    if (opts.spectrum != "random" && opts.spectrum != "powerlaw" && opts.spectrum != "init")
        fail("--spectrum " + opts.spectrum, "unknown spectrum; expected random, powerlaw or init");
    std::string tokenizerText;
    if (!opts.tokenizerJson.empty()) tokenizerText = readTextFile(opts.tokenizerJson, 1u << 30);
    PhiConfig c = config;
    c.torchDtype = opts.dtype == DType::F32 ? "float32" : opts.dtype == DType::F16 ? "float16" : "bfloat16";
    std::size_t done = 0;
    buildDirectoryAtomically(dir, [&](const std::string& tmp) {
        writeTextFileAtomically((fs::path(tmp) / "config.json").string(), c.toJsonText());
        if (!tokenizerText.empty()) writeTextFileAtomically((fs::path(tmp) / "tokenizer.json").string(), tokenizerText);
        nlohmann::json weightMap = nlohmann::json::object();
        std::size_t totalBytes = 0;
        for (std::size_t s = 0; s < shards.size(); ++s) {
            char name[64];
            if (shards.size() == 1) std::snprintf(name, sizeof name, "model.safetensors");
            else std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
            std::vector<TensorToWrite> entries;
            for (std::size_t i : shards[s]) {
                TensorToWrite t;
                t.name = specs[i].name;
                t.dtype = opts.dtype;
                t.shape = specs[i].shape;
                t.fill = [&, i](void* dst, std::size_t nbytes) {
                    ctx.checkCancelled();
                    at::Tensor v = makeTensor(specs[i], i, opts, config.numLayers).to(st).contiguous();
                    QCW_ASSERT(static_cast<std::size_t>(v.nbytes()) == nbytes, "synthetic tensor size");
                    std::memcpy(dst, v.data_ptr(), nbytes);
                    ctx.report("synthesize", static_cast<long long>(++done), static_cast<long long>(specs.size()), {},
                               specs[i].name);
                };
                totalBytes += t.nbytes();
                weightMap[t.name] = name;
                entries.push_back(std::move(t));
            }
            writeSafetensors((fs::path(tmp) / name).string(), entries, {{"format", "pt"}, {"generator", "qcompress synth"}});
        }
        if (shards.size() > 1) {
            nlohmann::json index = {{"metadata", {{"total_size", totalBytes}}}, {"weight_map", weightMap}};
            writeTextFileAtomically((fs::path(tmp) / "model.safetensors.index.json").string(), index.dump(2) + "\n");
        }
    }, replace);
}

}  // namespace qcw
