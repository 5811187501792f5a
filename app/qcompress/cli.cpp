#include "cli.h"

#include "common/error.h"
#include "common/jsonl.h"
#include "io/phi_config.h"
#include "tokenizer/tokenizer.h"
#include "io/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <vector>

namespace qcw::cli {

namespace {
std::vector<std::pair<int, Registrar>>& registry() {
    static std::vector<std::pair<int, Registrar>> r;
    return r;
}
RunContext* g_ctx = nullptr;
extern "C" void onSigint(int) {
    if (g_ctx) g_ctx->cancel();
}
}  // namespace

bool registerCommand(int order, Registrar r) {
    registry().emplace_back(order, std::move(r));
    return true;
}

void addAllCommands(CLI::App& root) {
    auto& r = registry();
    std::stable_sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& [order, reg] : r) reg(root);
}

RunContext& interruptibleContext() {
    static RunContext ctx(printProgress);
    if (!g_ctx) {
        g_ctx = &ctx;
        struct sigaction sa {};
        sa.sa_handler = onSigint;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGTERM, &sa, nullptr);
    }
    return ctx;
}

void printProgress(const Progress& p) {
    static std::mutex m;
    std::lock_guard<std::mutex> lock(m);
    static const bool tty = ::isatty(STDERR_FILENO);
    std::string metrics;
    for (const auto& [k, v] : p.metrics) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " %s=%.4g", k.c_str(), v);
        metrics += buf;
    }
    if (tty && p.total > 0) {
        const int width = 30;
        int filled = static_cast<int>(width * std::min<double>(1.0, double(p.step) / double(p.total)));
        std::fprintf(stderr, "\r%-10s [%s%s] %lld/%lld%s %s\033[K", p.stage.c_str(), std::string(filled, '#').c_str(),
                     std::string(width - filled, '.').c_str(), p.step, p.total, metrics.c_str(), p.message.c_str());
        if (p.step >= p.total) std::fputc('\n', stderr);
    } else {
        // Plain lines: one at each tenth of the way (and at the end), not one per step.
        static std::string lastStage;
        static long long lastTenth = -1;
        if (p.total > 0) {
            long long tenth = p.step * 10 / p.total;
            if (p.stage == lastStage && tenth == lastTenth && p.step != p.total) return;
            lastStage = p.stage;
            lastTenth = tenth;
        }
        if (p.total > 0)
            std::fprintf(stderr, "%s %lld/%lld%s %s\n", p.stage.c_str(), p.step, p.total, metrics.c_str(), p.message.c_str());
        else
            std::fprintf(stderr, "%s %lld%s %s\n", p.stage.c_str(), p.step, metrics.c_str(), p.message.c_str());
    }
    std::fflush(stderr);
}

void printJson(const nlohmann::json& j) { std::cout << j.dump() << std::endl; }

std::string defaultModelDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const fs::path& p : {fs::path(QCW_SOURCE_DIR) / "resources/models/demo-phi",
                             fs::path(QCW_SOURCE_DIR) / "tests/data/tiny-phi",
                             fs::path(QCW_INSTALL_DATADIR) / "models/demo-phi",
                             fs::path(QCW_INSTALL_DATADIR) / "models/tiny-phi"})
        if (fs::exists(p / "config.json", ec)) return p.string();
    return (fs::path(QCW_SOURCE_DIR) / "tests/data/tiny-phi").string();
}

std::vector<std::vector<std::int64_t>> readIdRows(const std::string& path) {
    auto f = qcw::SafetensorsFile::open(path);
    const qcw::TensorView* t = f->find("input_ids");
    if (!t) qcw::fail(path, "has no tensor named 'input_ids'");
    if (t->dtype != qcw::DType::I64 || t->shape.size() != 2) qcw::fail(path, "input_ids must be int64 [rows, length]");
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
    qcw::forEachJsonLine(jsonl, [&](const nlohmann::json& j, const std::string& where) {
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
                    qcw::fail(where, "has a message without string \"content\"");
                std::string role = m.contains("role") && m["role"].is_string() ? m["role"].get<std::string>() : "user";
                if (!role.empty()) role[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(role[0])));
                t += role + ": " + m["content"].get<std::string>() + "\n";
            }
            texts.push_back(std::move(t));
        } else {
            qcw::fail(where, "has neither \"text\", \"prompt\" and \"completion\", nor \"messages\"");
        }
        return true;
    });
    return texts;
}

// The dataset's texts tokenized with the model's tokenizer into one stream, each followed by
// the end-of-text token when the config names one.
std::vector<std::int64_t> tokenizeDataset(const std::string& jsonl, const std::string& modelDir, const char* forWhat) {
    auto tok = qcw::loadTokenizerForModel(modelDir);
    if (!tok) qcw::fail(modelDir, std::string("has no tokenizer (tokenizer.json) for ") + forWhat);
    const auto cfg = qcw::PhiConfig::load((std::filesystem::path(modelDir) / "config.json").string());
    std::vector<std::int64_t> stream;
    for (const auto& text : readDatasetTexts(jsonl)) {
        for (int id : tok->encodeIds(text)) stream.push_back(id);
        if (cfg.eosTokenId) stream.push_back(*cfg.eosTokenId);
    }
    return stream;
}

std::string defaultCorpusDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const fs::path& p : {fs::path(QCW_SOURCE_DIR) / "resources/corpus", fs::path(QCW_INSTALL_DATADIR) / "corpus"})
        if (fs::is_directory(p, ec)) return p.string();
    return (fs::path(QCW_SOURCE_DIR) / "resources/corpus").string();
}

}  // namespace qcw::cli
