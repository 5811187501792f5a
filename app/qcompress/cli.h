#pragma once
// Shared pieces of the qcompress subcommands. No torch here: commands talk to core through
// its plain-data facades.
#include "common/run_context.h"
#include "decompose/compress_job.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <vector>
#include <string>

namespace qcw::cli {

using Registrar = std::function<void(CLI::App& root)>;
// Called from static initialisers in cmd_*.cpp.
bool registerCommand(int order, Registrar r);
void addAllCommands(CLI::App& root);

// Progress on stderr: a bar when stderr is a terminal, plain lines otherwise. Ctrl-C
// cancels the context that `interruptibleContext` returns.
RunContext& interruptibleContext();
void printProgress(const Progress& p);

// Prints one JSON object on stdout and nothing else there.
void printJson(const nlohmann::json& j);

// Rows of the int64 tensor "input_ids" [rows, length] of a safetensors file.
std::vector<std::vector<std::int64_t>> readIdRows(const std::string& path);

// The texts of a dataset JSONL from `qcompress data build` (dataset.jsonl or eval.jsonl):
// "text", "prompt" + "completion", or "messages" (as "Role: content" lines), one record per
// line; errors name the line.
std::vector<std::string> readDatasetTexts(const std::string& jsonl);
// Those texts tokenized by modelDir's tokenizer into one stream, each followed by end-of-text
// when the config names one; `forWhat` goes into the error when there is no tokenizer.
std::vector<std::int64_t> tokenizeDataset(const std::string& jsonl, const std::string& modelDir, const char* forWhat);

// Calibration windows from one of --calib FILE, --calib-data DIR or --calib-random N (with
// --calib-windows and --calib-length), shared by the commands that calibrate.
struct CalibrationArgs {
    std::string ids, data;
    int random = 0, windows = qcw::CalibrationSpec::kDefaultWindows, length = qcw::CalibrationSpec::kDefaultLength;
    void addTo(CLI::App* sub);
    bool given() const { return !ids.empty() || !data.empty() || random > 0; }
    // The core's description of these windows (decompose/compress_job.h, the one calibration
    // rule); fails naming the options when more than one source is given.
    qcw::CalibrationSpec spec() const;
    // Empty when none was given; `seed` draws the random windows (seed + 17). Errors name the option.
    std::vector<std::vector<std::int64_t>> load(const std::string& modelDir, std::uint64_t seed) const;
};

// Where the bundled demo assets live (source tree in a build, /usr/share/qcw when installed).
std::string defaultModelDir();
// The bundled sample corporate corpus (resources/corpus, or /usr/share/qcw/corpus installed).
std::string defaultCorpusDir();

}  // namespace qcw::cli

#define QCW_CLI_CONCAT2(a, b) a##b
#define QCW_CLI_CONCAT(a, b) QCW_CLI_CONCAT2(a, b)
// QCW_COMMAND(order) { root.add_subcommand(...); }  -- `order` sorts --help output.
#define QCW_COMMAND(order)                                                                          \
    static void QCW_CLI_CONCAT(qcwCmd_, __LINE__)(CLI::App & root);                                \
    static const bool QCW_CLI_CONCAT(qcwCmdReg_, __LINE__) =                                       \
        ::qcw::cli::registerCommand(order, &QCW_CLI_CONCAT(qcwCmd_, __LINE__));                     \
    static void QCW_CLI_CONCAT(qcwCmd_, __LINE__)(CLI::App & root)
