// exportGguf: a model folder the engine opens, written as GGUF for llama.cpp's phi2.
#include "common/error.h"
#include "common/files.h"
#include "common/run_context.h"
#include "export/gguf.h"
#include "export/gguf_internal.h"
#include "io/arch.h"
#include "io/checkpoint.h"
#include "model/loader.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace qcw {

namespace {

std::uint32_t weightType(const std::string& t) {
    if (t == "f32") return gguf::kF32;
    if (t == "f16") return gguf::kF16;
    if (t == "q8_0") return gguf::kQ8_0;
    if (t == "q4_0") return gguf::kQ4_0;
    fail("--type", "'" + t + "' is not one of f32, f16, q8_0, q4_0");
}

std::uint32_t fileType(const std::string& t) {  // llama_ftype
    if (t == "f32") return 0;
    if (t == "f16") return 1;
    if (t == "q4_0") return 2;
    return 7;  // q8_0
}

std::vector<float> toVector(const at::Tensor& t) {
    at::Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
    const float* p = c.data_ptr<float>();
    return std::vector<float>(p, p + c.numel());
}

std::string ollamaModelfile(const std::string& ggufName, const PhiConfig& cfg, const gguf::Vocab& vocab) {
    // The prompt format the project's fine-tuning uses for chat records ("Role: content" lines,
    // see train_data), so a model fine-tuned on them answers in Ollama as in the workbench.
    std::ostringstream m;
    m << "# Ollama Modelfile written by qcompress export. Create the model with:\n"
      << "#   ollama create NAME -f Modelfile\n"
      << "FROM ./" << ggufName << "\n"
      << "TEMPLATE \"\"\"{{ if .System }}System: {{ .System }}\n{{ end }}User: {{ .Prompt }}\nAssistant: \"\"\"\n"
      << "PARAMETER stop \"User:\"\n";
    if (cfg.eosTokenId && *cfg.eosTokenId >= 0 && *cfg.eosTokenId < static_cast<std::int64_t>(vocab.tokens.size()) &&
        vocab.real)
        m << "PARAMETER stop \"" << vocab.tokens[static_cast<std::size_t>(*cfg.eosTokenId)] << "\"\n";
    m << "PARAMETER num_ctx " << cfg.maxPositions << "\n";
    return m.str();
}

}  // namespace

GgufExportResult exportGguf(const std::string& modelDir, const std::string& out, const GgufExportOptions& opts,
                            RunContext& ctx) {
    const std::uint32_t wtype = weightType(opts.type);
    if (out.empty()) fail("--gguf", "needs an output file name");
    std::error_code ec;
    if (fs::exists(out, ec) && fs::is_directory(out, ec)) fail(out, "is a folder; --gguf takes a file name");
    const Checkpoint ckpt = Checkpoint::open(modelDir);
    const PhiConfig& cfg = ckpt.config();
    if (cfg.qkLayerNorm) fail(modelDir, "has qk_layernorm=true, which llama.cpp's phi2 does not support");
    if (cfg.hiddenAct != "gelu_new" && cfg.hiddenAct != "gelu" && cfg.hiddenAct != "gelu_pytorch_tanh")
        fail(modelDir, "uses hidden_act '" + cfg.hiddenAct + "'; llama.cpp's phi2 computes GELU");

    ctx.report("export", 0, 0, {}, "loading " + modelDir);
    LoadOptions lo;
    lo.device = "cpu";
    lo.dtype = "float32";
    lo.weights = "compute";
    PhiModel model = loadPhiModel(ckpt, lo, ctx);
    at::NoGradGuard noGrad;

    GgufExportResult res;
    res.path = out;
    for (const auto& e : fs::directory_iterator(modelDir, ec))
        if (e.path().extension() == ".safetensors" && e.path().filename() != "reference.safetensors")
            res.sourceBytes += static_cast<std::int64_t>(fs::file_size(e.path(), ec));

    // The tensors in the order llama.cpp's converter writes them.
    struct Src {
        std::string name;
        std::function<at::Tensor()> get;
        bool matrix;
    };
    std::vector<Src> plan;
    std::set<std::string> methods;
    auto linear = [&](const std::string& gname, const std::string& module, const std::shared_ptr<LinearOp>& op) {
        if (!op) fail(modelDir, module + " is missing");
        if (op->method() != "dense") {
            res.rebuilt.push_back(module);
            methods.insert(op->method());
        }
        plan.push_back({gname + kWeightSuffix, [op] { return op->denseWeight(); }, true});
        plan.push_back({gname + kBiasSuffix, [op, gname] {
                            at::Tensor b = op->bias();
                            // phi2 in llama.cpp adds a bias to every map; none is a zero bias.
                            return b.defined() ? b : at::zeros({op->outFeatures()}, at::kFloat);
                        },
                        false});
    };
    // Both names from the architecture table (io/arch.h): llama.cpp's and the checkpoint's.
    const Architecture& names = phiArchitecture();
    plan.push_back({names.gguf(TensorId::TokenEmbd) + kWeightSuffix, [&] { return model.embedTokens; }, true});
    for (std::size_t i = 0; i < model.blocks.size(); ++i) {
        const auto& b = model.blocks[i];
        const int bi = static_cast<int>(i);
        auto lin = [&](TensorId id, const std::shared_ptr<LinearOp>& op) { linear(names.gguf(id, bi), names.name(id, bi), op); };
        const std::string norm = names.gguf(TensorId::AttnNorm, bi);
        plan.push_back({norm + kWeightSuffix, [&b] { return b.inputLayerNorm.weight; }, false});
        plan.push_back({norm + kBiasSuffix, [&b] { return b.inputLayerNorm.bias; }, false});
        lin(TensorId::AttnQ, b.q);
        lin(TensorId::AttnK, b.k);
        lin(TensorId::AttnV, b.v);
        lin(TensorId::AttnOut, b.dense);
        lin(TensorId::FfnUp, b.fc1);
        lin(TensorId::FfnDown, b.fc2);
    }
    const std::string outNorm = names.gguf(TensorId::OutputNorm);
    plan.push_back({outNorm + kWeightSuffix, [&] { return model.finalLayerNorm.weight; }, false});
    plan.push_back({outNorm + kBiasSuffix, [&] { return model.finalLayerNorm.bias; }, false});
    linear(names.gguf(TensorId::Output), names.name(TensorId::Output), model.lmHead);
    for (const auto& m : methods) res.factorizedMethods += (res.factorizedMethods.empty() ? "" : ",") + m;

    const gguf::Vocab vocab = gguf::loadVocab(modelDir, cfg.vocabSize);
    res.vocab = static_cast<int>(vocab.tokens.size());
    res.realTokenizer = vocab.real;

    gguf::Writer w;
    const std::string arch = names.ggufName;
    std::string name = opts.name;
    if (name.empty()) name = fs::path(fs::absolute(modelDir)).lexically_normal().filename().string();
    if (name.empty()) name = "phi";
    w.addString("general.architecture", arch);
    w.addString("general.name", name);
    w.addU32("general.file_type", fileType(opts.type));
    w.addU32("general.quantization_version", 2);
    w.addU32(arch + ".context_length", static_cast<std::uint32_t>(cfg.maxPositions));
    w.addU32(arch + ".embedding_length", static_cast<std::uint32_t>(cfg.hiddenSize));
    w.addU32(arch + ".feed_forward_length", static_cast<std::uint32_t>(cfg.intermediateSize));
    w.addU32(arch + ".block_count", static_cast<std::uint32_t>(cfg.numLayers));
    w.addU32(arch + ".attention.head_count", static_cast<std::uint32_t>(cfg.numHeads));
    w.addU32(arch + ".attention.head_count_kv", static_cast<std::uint32_t>(cfg.numKvHeads > 0 ? cfg.numKvHeads : cfg.numHeads));
    w.addF32(arch + ".attention.layer_norm_epsilon", static_cast<float>(cfg.layerNormEps));
    w.addU32(arch + ".rope.dimension_count", static_cast<std::uint32_t>(cfg.rotaryDim()));
    w.addF32(arch + ".rope.freq_base", static_cast<float>(cfg.ropeTheta));
    w.addString("tokenizer.ggml.model", "gpt2");
    w.addString("tokenizer.ggml.pre", vocab.real ? "phi-2" : "default");
    w.addStringArray("tokenizer.ggml.tokens", vocab.tokens);
    w.addI32Array("tokenizer.ggml.token_type", vocab.types);
    w.addStringArray("tokenizer.ggml.merges", vocab.merges);
    if (cfg.bosTokenId && *cfg.bosTokenId >= 0 && *cfg.bosTokenId < cfg.vocabSize)
        w.addU32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(*cfg.bosTokenId));
    if (cfg.eosTokenId && *cfg.eosTokenId >= 0 && *cfg.eosTokenId < cfg.vocabSize)
        w.addU32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(*cfg.eosTokenId));
    w.addBool("tokenizer.ggml.add_bos_token", false);

    std::vector<at::Tensor> shapes;
    for (const auto& s : plan) {
        at::Tensor t = s.get();
        if (!t.defined()) fail(modelDir, "has no tensor for " + s.name);
        std::vector<std::int64_t> shape(t.sizes().begin(), t.sizes().end());
        std::uint32_t type = gguf::kF32;
        if (s.matrix && shape.size() == 2) {
            type = wtype;
            // Rows that are not whole blocks of 32 stay F16, as llama.cpp's converter does.
            if ((type == gguf::kQ8_0 || type == gguf::kQ4_0) && shape[1] % 32 != 0) type = gguf::kF16;
        }
        w.addTensor(s.name, shape, type);
        res.typeCounts[gguf::typeName(type)]++;
    }
    res.tensors = static_cast<int>(plan.size());

    writeFileAtomically(out, [&](std::ostream& os) {
        w.write(os, [&](std::size_t i) { return toVector(plan[i].get()); }, ctx);
    });
    res.bytes = static_cast<std::int64_t>(fs::file_size(out, ec));

    if (opts.modelfile) {
        res.modelfilePath = (fs::path(out).parent_path() / "Modelfile").string();
        if (fs::path(out).parent_path().empty()) res.modelfilePath = "Modelfile";
        writeTextFileAtomically(res.modelfilePath, ollamaModelfile(fs::path(out).filename().string(), cfg, vocab));
    }
    return res;
}

}  // namespace qcw
