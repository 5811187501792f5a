#include "io/phi_config.h"

#include "common/error.h"
#include "common/files.h"

#include <nlohmann/json.hpp>

namespace qcw {

using nlohmann::json;

namespace {

int requireInt(const json& j, const char* key, const std::string& path) {
    if (!j.contains(key)) fail(path, std::string("missing required key '") + key + "'");
    const json& v = j.at(key);
    if (!v.is_number_integer()) fail(path, std::string("key '") + key + "' must be an integer");
    long long x = v.get<long long>();
    if (x <= 0 || x > (1LL << 31)) fail(path, std::string("key '") + key + "' = " + std::to_string(x) + " is out of range");
    return static_cast<int>(x);
}

std::optional<std::int64_t> optionalId(const json& j, const char* key) {
    if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;
    const json& v = j.at(key);
    if (v.is_number_integer()) return v.get<std::int64_t>();
    if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<std::int64_t>();
    return std::nullopt;
}

double numberOr(const json& j, const char* key, double fallback, const std::string& path) {
    if (!j.contains(key) || j.at(key).is_null()) return fallback;
    if (!j.at(key).is_number()) fail(path, std::string("key '") + key + "' must be a number");
    return j.at(key).get<double>();
}

}  // namespace

std::int64_t PhiConfig::parameterCount() const {
    const std::int64_t H = hiddenSize, I = intermediateSize, V = vocabSize;
    const std::int64_t kv = static_cast<std::int64_t>(numKvHeads) * headDim();
    std::int64_t perLayer = 2 * H                    // input_layernorm
                            + (H * H + H)            // q_proj
                            + 2 * (H * kv + kv)      // k_proj, v_proj
                            + (H * H + H)            // dense
                            + (H * I + I) + (I * H + H);  // fc1, fc2
    if (qkLayerNorm) perLayer += 4 * headDim();
    std::int64_t total = V * H + numLayers * perLayer + 2 * H;
    if (!tieWordEmbeddings) total += V * H;
    total += V;  // lm_head bias
    return total;
}

PhiConfig PhiConfig::fromJsonText(const std::string& text, const std::string& path) {
    json j;
    try {
        j = json::parse(text);
    } catch (const std::exception& e) {
        fail(path, std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object()) fail(path, "config is not a JSON object");
    std::string modelType = j.value("model_type", std::string());
    bool phiArch = modelType == "phi";
    if (j.contains("architectures") && j["architectures"].is_array()) {
        for (const auto& a : j["architectures"])
            if (a.is_string() && a.get<std::string>() == "PhiForCausalLM") phiArch = true;
    }
    if (!phiArch) {
        std::string what = modelType.empty() ? std::string("no model_type") : "model_type '" + modelType + "'";
        fail(path, "unsupported architecture (" + what + "); this build supports Phi (PhiForCausalLM, model_type 'phi')");
    }
    if (modelType.empty() == false && modelType != "phi")
        fail(path, "unsupported model_type '" + modelType + "'; expected 'phi'");

    PhiConfig c;
    c.vocabSize = requireInt(j, "vocab_size", path);
    c.hiddenSize = requireInt(j, "hidden_size", path);
    c.intermediateSize = requireInt(j, "intermediate_size", path);
    c.numLayers = requireInt(j, "num_hidden_layers", path);
    c.numHeads = requireInt(j, "num_attention_heads", path);
    c.numKvHeads = (j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null())
                       ? requireInt(j, "num_key_value_heads", path)
                       : c.numHeads;
    if (j.contains("max_position_embeddings") && !j["max_position_embeddings"].is_null())
        c.maxPositions = requireInt(j, "max_position_embeddings", path);
    c.layerNormEps = numberOr(j, "layer_norm_eps", 1e-5, path);

    // Rotary settings: transformers 5 nests them in rope_parameters; older files keep them at
    // the top level. The nested object wins when both are present.
    c.ropeTheta = numberOr(j, "rope_theta", 10000.0, path);
    c.partialRotaryFactor = numberOr(j, "partial_rotary_factor", 0.5, path);
    if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
        const json& rp = j["rope_parameters"];
        c.ropeTheta = numberOr(rp, "rope_theta", c.ropeTheta, path);
        c.partialRotaryFactor = numberOr(rp, "partial_rotary_factor", c.partialRotaryFactor, path);
        std::string type = rp.value("rope_type", std::string("default"));
        if (type != "default") fail(path, "rope_parameters.rope_type '" + type + "' is not supported (only 'default')");
    }
    if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
        fail(path, "rope_scaling is not supported by this build");

    c.qkLayerNorm = j.value("qk_layernorm", false);
    c.tieWordEmbeddings = j.value("tie_word_embeddings", false);
    c.hiddenAct = j.value("hidden_act", std::string("gelu_new"));
    if (c.hiddenAct != "gelu_new" && c.hiddenAct != "gelu" && c.hiddenAct != "gelu_pytorch_tanh")
        fail(path, "hidden_act '" + c.hiddenAct + "' is not supported (gelu_new, gelu, gelu_pytorch_tanh)");
    if (j.contains("torch_dtype") && j["torch_dtype"].is_string()) c.torchDtype = j["torch_dtype"].get<std::string>();
    if (j.contains("dtype") && j["dtype"].is_string()) c.torchDtype = j["dtype"].get<std::string>();
    c.bosTokenId = optionalId(j, "bos_token_id");
    c.eosTokenId = optionalId(j, "eos_token_id");
    c.padTokenId = optionalId(j, "pad_token_id");

    if (c.hiddenSize % c.numHeads != 0)
        fail(path, "hidden_size " + std::to_string(c.hiddenSize) + " is not divisible by num_attention_heads " +
                       std::to_string(c.numHeads));
    if (c.numHeads % c.numKvHeads != 0)
        fail(path, "num_attention_heads " + std::to_string(c.numHeads) + " is not divisible by num_key_value_heads " +
                       std::to_string(c.numKvHeads));
    if (!(c.partialRotaryFactor > 0.0 && c.partialRotaryFactor <= 1.0))
        fail(path, "partial_rotary_factor " + std::to_string(c.partialRotaryFactor) + " is outside (0, 1]");
    if (c.rotaryDim() % 2 != 0) fail(path, "rotary dimension " + std::to_string(c.rotaryDim()) + " is odd");
    if (!(c.ropeTheta > 0)) fail(path, "rope_theta must be positive");
    if (!(c.layerNormEps > 0)) fail(path, "layer_norm_eps must be positive");
    return c;
}

PhiConfig PhiConfig::load(const std::string& path) { return fromJsonText(readTextFile(path, 16u << 20), path); }

std::string PhiConfig::toJsonText() const {
    json j;
    j["architectures"] = {"PhiForCausalLM"};
    j["model_type"] = "phi";
    j["vocab_size"] = vocabSize;
    j["hidden_size"] = hiddenSize;
    j["intermediate_size"] = intermediateSize;
    j["num_hidden_layers"] = numLayers;
    j["num_attention_heads"] = numHeads;
    j["num_key_value_heads"] = numKvHeads;
    j["max_position_embeddings"] = maxPositions;
    j["layer_norm_eps"] = layerNormEps;
    j["rope_theta"] = ropeTheta;
    j["partial_rotary_factor"] = partialRotaryFactor;
    j["qk_layernorm"] = qkLayerNorm;
    j["tie_word_embeddings"] = tieWordEmbeddings;
    j["hidden_act"] = hiddenAct;
    j["attention_dropout"] = 0.0;
    j["embd_pdrop"] = 0.0;
    j["resid_pdrop"] = 0.0;
    j["rope_scaling"] = nullptr;
    j["use_cache"] = true;
    if (!torchDtype.empty()) j["torch_dtype"] = torchDtype;
    j["bos_token_id"] = bosTokenId ? json(*bosTokenId) : json(nullptr);
    j["eos_token_id"] = eosTokenId ? json(*eosTokenId) : json(nullptr);
    j["pad_token_id"] = padTokenId ? json(*padTokenId) : json(nullptr);
    return j.dump(2) + "\n";
}

PhiConfig PhiConfig::phi15() {
    PhiConfig c;
    c.vocabSize = 51200;
    c.hiddenSize = 2048;
    c.intermediateSize = 8192;
    c.numLayers = 24;
    c.numHeads = 32;
    c.numKvHeads = 32;
    c.maxPositions = 2048;
    c.layerNormEps = 1e-5;
    c.ropeTheta = 10000.0;
    c.partialRotaryFactor = 0.5;
    c.torchDtype = "float16";
    return c;
}

}  // namespace qcw
