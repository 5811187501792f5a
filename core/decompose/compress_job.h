#pragma once
// The compression use case as ONE job, shared by `qcompress compress` and the workbench's
// compression pane: calibration (a file of ids, windows of a dataset folder, or random
// windows), rank search (solver, weighting), ranks from a file, per-group rank overrides and
// the compression itself (parameter or byte budget). Plain data, no torch here; progress and
// cancellation go through the RunContext.
//
// The rules are the CLI's (the contract in CLI.md): random calibration is `random` windows of
// `length` token ids drawn by std::mt19937_64(seed + 17); dataset calibration takes `windows`
// windows of `length` tokens; weighting "auto" is loss with calibration, spectral with a solver
// and without calibration, else uniform.
#include "common/run_context.h"
#include "decompose/compress_api.h"
#include "decompose/rank_search.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace qcw {

// Where the calibration windows come from: at most one of ids, dataDir and random (none: no
// calibration). The defaults are the CLI's (--calib-windows 32, --calib-length 128).
struct CalibrationSpec {
    static constexpr int kDefaultWindows = 32;
    static constexpr int kDefaultLength = 128;
    std::string ids;        // a safetensors file with int64 input_ids [windows, length]
    std::string dataDir;    // a dataset folder from `qcompress data build` (its dataset.jsonl)
    int random = 0;         // N windows of uniformly random token ids (synthetic models)
    int windows = kDefaultWindows;  // windows taken evenly from dataDir
    int length = kDefaultLength;    // window length for dataDir and random
    std::string dataName = "calibration data";  // names dataDir in errors (the CLI: "--calib-data")
    bool given() const { return !ids.empty() || !dataDir.empty() || random > 0; }
};

// The windows `spec` asks for (empty when none); `seed` draws the random ones (seed + 17).
// Throws qcw::Error naming the file, folder or value at fault.
std::vector<std::vector<std::int64_t>> loadCalibration(const CalibrationSpec& spec, const std::string& modelDir,
                                                       std::uint64_t seed);

struct CompressJobOptions {
    std::string modelDir;
    std::string outDir;            // required unless searchOnly
    bool replace = false;          // replace a non-empty outDir
    bool searchOnly = false;       // search ranks and stop (nothing is written)
    // What and how to compress. Its keepFraction, seed and includeLmHead also drive the
    // search; its calibration, ranks and solver are filled in by the job.
    CompressOptions compress;
    CalibrationSpec calibration;
    // Rank search: a solver (exact, greedy, anneal, sqa, qaoa; empty: no search) weighted by
    // "auto", "loss", "size", "spectral" or "uniform" (rank_search.h), run on searchDevice.
    std::string solver;
    std::string weighting = "auto";
    std::string searchDevice = "cpu";
    // Ranks from a file: the JSON of `qcompress ranks --json` (its "allocation").
    std::string ranksFile;
    // Per-group ranks that win over searched, file or uniform ranks (group: tensor name
    // without ".weight"); the other groups keep theirs, so the total moves.
    std::map<std::string, int> overrides;
    // The solver's current allocation, as RankSearchOptions::onAllocation.
    std::function<void(const std::map<std::string, int>& ranks, long long iteration)> onAllocation;
};

// "auto" resolved as the CLI does (loss with calibration, spectral for a solver without it,
// else uniform); other values are returned as they are.
std::string resolveWeighting(const std::string& weighting, bool calibrated, bool haveSolver);

struct CompressJobResult {
    std::optional<RankSearchResult> search;   // when a solver ran
    std::optional<CompressionReport> report;  // unless searchOnly
    std::string weighting;                    // the weighting the search used ("" without search)
    std::int64_t calibrationWindows = 0;
    double seconds = 0;
};

// The two core entry points the job calls; replaceable (the workbench's tests slow them down
// to exercise cancellation). Empty: qcw::searchRanks and qcw::compressModelDir.
struct CompressJobHooks {
    std::function<RankSearchResult(const std::string& modelDir, const RankSearchOptions&, RunContext&)> search;
    std::function<CompressionReport(const std::string& modelDir, const std::string& outDir, const CompressOptions&,
                                    RunContext&, bool replace)>
        compress;
};

// Runs the job on the calling thread: calibration ("tokenize" stage for a dataset), search,
// ranks file, overrides, compression. Throws qcw::Error (a one-line message naming the value at
// fault) or qcw::Cancelled.
CompressJobResult runCompressJob(const CompressJobOptions& options, RunContext& ctx,
                                 const CompressJobHooks& hooks = {});

}  // namespace qcw
