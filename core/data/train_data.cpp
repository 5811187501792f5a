// Dataset folder -> token windows (no torch types; see train_data.h).
#include "data/train_data.h"

#include "common/error.h"
#include "common/jsonl.h"
#include "io/phi_config.h"
#include "io/safetensors.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>

namespace fs = std::filesystem;

namespace qcw {

namespace {

std::vector<std::vector<std::int64_t>> chunk(const std::vector<std::int64_t>& s, std::size_t len) {
    std::vector<std::vector<std::int64_t>> out;
    for (std::size_t i = 0; i + len <= s.size(); i += len) out.emplace_back(s.begin() + long(i), s.begin() + long(i + len));
    return out;
}

}  // namespace

std::vector<std::vector<std::int64_t>> readIdRows(const std::string& path) {
    auto f = SafetensorsFile::open(path);
    const TensorView* t = f->find("input_ids");
    if (!t) fail(path, "has no tensor named 'input_ids'");
    if (t->dtype != DType::I64 || t->shape.size() != 2) fail(path, "input_ids must be int64 [rows, length]");
    std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(t->shape[0]));
    const auto len = static_cast<std::size_t>(t->shape[1]);
    for (std::size_t b = 0; b < rows.size(); ++b) {
        rows[b].resize(len);
        std::memcpy(rows[b].data(), t->data + b * len * 8, len * 8);
    }
    return rows;
}

std::vector<std::string> readDatasetTexts(const std::string& jsonl) {
    std::vector<std::string> texts;
    forEachJsonLine(jsonl, [&](const nlohmann::json& j, const std::string& where) {
        if (j.is_object() && j.contains("text") && j["text"].is_string()) {
            texts.push_back(j["text"].get<std::string>());
        } else if (j.is_object() && j.contains("prompt") && j["prompt"].is_string() && j.contains("completion") &&
                   j["completion"].is_string()) {
            texts.push_back(j["prompt"].get<std::string>() + j["completion"].get<std::string>());
        } else if (j.is_object() && j.contains("messages") && j["messages"].is_array()) {
            // A chat record becomes "Role: content" lines.
            std::string t;
            for (const auto& m : j["messages"]) {
                if (!m.is_object() || !m.contains("content") || !m["content"].is_string())
                    fail(where, "has a message without string \"content\"");
                std::string role = m.contains("role") && m["role"].is_string() ? m["role"].get<std::string>() : "user";
                if (!role.empty()) role[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(role[0])));
                t += role + ": " + m["content"].get<std::string>() + "\n";
            }
            texts.push_back(std::move(t));
        } else {
            fail(where, "has neither \"text\", \"prompt\" and \"completion\", nor \"messages\"");
        }
        return true;
    });
    return texts;
}

std::vector<std::int64_t> tokenizeDataset(const std::string& jsonl, const std::string& modelDir, const std::string& forWhat) {
    auto tok = loadTokenizerForModel(modelDir);
    if (!tok) fail(modelDir, "has no tokenizer (tokenizer.json) for " + forWhat);
    const auto cfg = PhiConfig::load((fs::path(modelDir) / "config.json").string());
    std::vector<std::int64_t> stream;
    for (const auto& text : readDatasetTexts(jsonl)) {
        for (int id : tok->encodeIds(text)) stream.push_back(id);
        if (cfg.eosTokenId) stream.push_back(*cfg.eosTokenId);
    }
    return stream;
}

TrainData loadTrainData(const std::string& dataDir, const std::string& modelDir, const TrainDataOptions& o) {
    if (o.seqLen < 0 || o.seqLen == 1) fail("sequence length " + std::to_string(o.seqLen), "must be at least 2");
    const PhiConfig cfg = PhiConfig::load((fs::path(modelDir) / "config.json").string());
    const fs::path ids = fs::path(dataDir) / "ids.safetensors", jsonl = fs::path(dataDir) / "dataset.jsonl";
    std::error_code ec;
    TrainData d;
    std::size_t len = 0;
    if (fs::exists(ids, ec)) {
        d.source = ids.string();
        for (auto& row : readIdRows(d.source)) {
            len = o.seqLen > 0 ? std::size_t(o.seqLen) : row.size();
            for (auto& w : chunk(row, len)) d.windows.push_back(std::move(w));
        }
    } else if (fs::exists(jsonl, ec)) {
        d.source = jsonl.string();
        len = o.seqLen > 0 ? std::size_t(o.seqLen) : std::size_t(std::min(128, cfg.maxPositions));
        d.windows = chunk(tokenizeDataset(d.source, modelDir, o.tokenizerFor), len);
    } else {
        fail(dataDir, "has neither ids.safetensors nor dataset.jsonl");
    }
    if (d.windows.empty())
        fail(dataDir, len > 0 ? "gives no complete window of " + std::to_string(len) + " tokens" : "holds no tokens");
    d.seqLen = static_cast<int>(d.windows.front().size());
    if (d.windows.size() >= 10) {
        const std::size_t hold = (d.windows.size() + 19) / 20;
        d.evalWindows.assign(d.windows.end() - long(hold), d.windows.end());
        d.windows.resize(d.windows.size() - hold);
        if (o.maxEvalWindows > 0 && d.evalWindows.size() > o.maxEvalWindows) d.evalWindows.resize(o.maxEvalWindows);
    }
    return d;
}

std::vector<std::vector<std::int64_t>> calibrationWindows(const std::string& dataDir, const std::string& modelDir,
                                                          std::size_t length, std::size_t count,
                                                          const std::string& forWhat) {
    const std::string jsonl = (std::filesystem::path(dataDir) / "dataset.jsonl").string();
    const auto stream = tokenizeDataset(jsonl, modelDir, forWhat);
    const std::size_t have = length > 0 ? stream.size() / length : 0;
    if (have == 0) fail(jsonl, "gives fewer than " + std::to_string(length) + " tokens to calibrate on");
    const std::size_t n = std::min(have, count);
    std::vector<std::vector<std::int64_t>> out;
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t at = (i * have / n) * length;
        out.emplace_back(stream.begin() + static_cast<std::ptrdiff_t>(at),
                         stream.begin() + static_cast<std::ptrdiff_t>(at + length));
    }
    return out;
}

}  // namespace qcw
