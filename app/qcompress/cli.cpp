#include "cli.h"

#include "common/error.h"
#include "data/train_data.h"
#include "hub/hub_cache.h"
#include "io/phi_config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstring>
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
    // The one hook for hub ids: every MODEL (and --teacher) argument that is not a path but
    // ORG/NAME[@REV] becomes its snapshot in the Hugging Face cache (pulled when missing).
    for (CLI::App* sub : root.get_subcommands({}))
        for (CLI::Option* opt : sub->get_options())
            if (opt->get_name() == "MODEL" || opt->get_name() == "model" || opt->get_name() == "--teacher")
                opt->transform([](std::string v) { return hub::resolveModelArg(v, interruptibleContext()); }, "",
                               "hub-id");
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

void CalibrationArgs::addTo(CLI::App* sub) {
    sub->add_option("--calib", ids, "Calibration ids: a safetensors file with int64 input_ids [windows, length]");
    sub->add_option("--calib-random", random,
                    "Calibrate on N windows of uniformly random token ids (for synthetic models without text)");
    sub->add_option("--calib-data", data,
                    "Calibrate on a dataset folder from 'qcompress data build' (its dataset.jsonl, with the model's tokenizer)");
    sub->add_option("--calib-windows", windows, "Windows taken evenly from --calib-data (default 32)")
        ->check(CLI::Range(1, 1 << 20));
    sub->add_option("--calib-length", length, "Window length for --calib-data and --calib-random (default 128)")
        ->check(CLI::Range(2, 1 << 20));
}

qcw::CalibrationSpec CalibrationArgs::spec() const {
    if (int(!ids.empty()) + int(!data.empty()) + int(random > 0) > 1)
        fail("calibration", "give one of --calib, --calib-data and --calib-random");
    qcw::CalibrationSpec s;
    s.ids = ids;
    s.dataDir = data;
    s.random = random;
    s.windows = windows;
    s.length = length;
    s.dataName = "--calib-data";
    return s;
}

std::vector<std::vector<std::int64_t>> CalibrationArgs::load(const std::string& modelDir, std::uint64_t seed) const {
    return qcw::loadCalibration(spec(), modelDir, seed);
}

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

// The readers live in core (data/train_data.h) so the workbench shares them.
std::vector<std::vector<std::int64_t>> readIdRows(const std::string& path) { return qcw::readIdRows(path); }

std::vector<std::string> readDatasetTexts(const std::string& jsonl) { return qcw::readDatasetTexts(jsonl); }

std::vector<std::int64_t> tokenizeDataset(const std::string& jsonl, const std::string& modelDir, const char* forWhat) {
    return qcw::tokenizeDataset(jsonl, modelDir, forWhat);
}

std::string defaultCorpusDir() {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const fs::path& p : {fs::path(QCW_SOURCE_DIR) / "resources/corpus", fs::path(QCW_INSTALL_DATADIR) / "corpus"})
        if (fs::is_directory(p, ec)) return p.string();
    return (fs::path(QCW_SOURCE_DIR) / "resources/corpus").string();
}

}  // namespace qcw::cli
