#include "decompose/compress_job.h"

#include "common/error.h"
#include "common/files.h"
#include "data/train_data.h"
#include "decompose/strategies/registry.h"
#include "io/phi_config.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <random>

namespace qcw {

std::vector<std::vector<std::int64_t>> loadCalibration(const CalibrationSpec& spec, const std::string& modelDir,
                                                       std::uint64_t seed) {
    if (int(!spec.ids.empty()) + int(!spec.dataDir.empty()) + int(spec.random > 0) > 1)
        fail("calibration", "give one of a file of ids, a dataset folder and random windows");
    if (spec.given() && spec.length < 2)
        fail("calibration window length " + std::to_string(spec.length), "must be at least 2");
    std::vector<std::vector<std::int64_t>> out;
    if (!spec.ids.empty()) out = readIdRows(spec.ids);
    if (!spec.dataDir.empty()) {
        if (spec.windows < 1) fail("calibration windows " + std::to_string(spec.windows), "must be at least 1");
        out = calibrationWindows(spec.dataDir, modelDir, static_cast<std::size_t>(spec.length),
                                 static_cast<std::size_t>(spec.windows), spec.dataName);
    }
    if (spec.random > 0) {
        const auto vocab = static_cast<std::uint64_t>(PhiConfig::load(modelDir + "/config.json").vocabSize);
        if (vocab == 0) fail(modelDir + "/config.json", "has no vocab_size to draw random calibration tokens from");
        std::mt19937_64 rng(seed + 17);
        out.assign(static_cast<std::size_t>(spec.random), std::vector<std::int64_t>(static_cast<std::size_t>(spec.length)));
        for (auto& w : out)
            for (auto& t : w) t = static_cast<std::int64_t>(rng() % vocab);
    }
    return out;
}

std::string resolveWeighting(const std::string& weighting, bool calibrated, bool haveSolver) {
    if (weighting != "auto") return weighting;
    return calibrated ? "loss" : haveSolver ? "spectral" : "uniform";
}


namespace {

// The "allocation" of `qcompress ranks --json` into `ranks`; returns the solver it names.
std::string readRanksFile(const std::string& path, std::map<std::string, int>& ranks, bool& lossWeighted) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(readTextFile(path));
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        fail(path, std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object() || !j.contains("allocation") || !j["allocation"].is_array())
        fail(path, "has no 'allocation' array (expected the output of qcompress ranks --json)");
    for (const auto& a : j["allocation"]) {
        if (!a.is_object() || !a.contains("group") || !a["group"].is_string() || !a.contains("rank") ||
            !a["rank"].is_number_integer())
            fail(path, "an allocation entry needs a string 'group' and an integer 'rank'");
        ranks[a["group"].get<std::string>()] = a["rank"].get<int>();
    }
    lossWeighted = j.value("weighting", std::string()) == "loss";
    return j.value("solver", std::string("file"));
}

}  // namespace

CompressJobResult runCompressJob(const CompressJobOptions& o, RunContext& ctx, const CompressJobHooks& hooks) {
    const auto t0 = std::chrono::steady_clock::now();
    CompressJobResult result;
    CompressOptions c = o.compress;
    const std::string& method = c.method;
    if (!o.searchOnly && o.outDir.empty()) fail("compression", "needs an output folder");
    if (o.searchOnly && o.solver.empty()) fail("rank search", "needs a solver");
    if (!o.solver.empty() && !strategySearchable(method))
        fail("solver " + o.solver, "searched ranks apply to per-matrix methods (" + searchableStrategyIds() + "), not method " + method);
    if (!o.ranksFile.empty()) {
        if (!o.solver.empty()) fail("ranks file " + o.ranksFile, "give either a ranks file or a solver");
        if (!strategySearchable(method))
            fail("ranks file " + o.ranksFile, "ranks apply to per-matrix methods (" + searchableStrategyIds() + "), not method " + method);
    }
    if (o.weighting != "auto" && o.solver.empty())
        fail("weighting " + o.weighting, "weights the rank search; give a solver too");
    for (const auto& [group, rank] : o.overrides)
        if (rank < 1) fail("rank " + std::to_string(rank) + " for " + group, "must be at least 1");

    if (!o.calibration.dataDir.empty()) ctx.report("tokenize", 0, 0);
    c.calibration = loadCalibration(o.calibration, o.modelDir, c.seed);
    result.calibrationWindows = static_cast<std::int64_t>(c.calibration.size());
    ctx.checkCancelled();

    if (!o.solver.empty()) {
        RankSearchOptions r;
        r.keepFraction = c.keepFraction;
        r.solver = o.solver;
        r.seed = c.seed;
        r.includeLmHead = c.includeLmHead;
        r.weighting = resolveWeighting(o.weighting, !c.calibration.empty(), true);
        r.device = o.searchDevice;
        r.calibration = c.calibration;
        r.onAllocation = o.onAllocation;
        result.search = hooks.search ? hooks.search(o.modelDir, r, ctx) : searchRanks(o.modelDir, r, ctx);
        ctx.checkCancelled();
        result.weighting = r.weighting;
        c.ranks = result.search->ranks;
        c.solver = o.solver + (r.weighting == "loss" ? "+loss" : "");
    }
    if (!o.ranksFile.empty()) {
        bool loss = false;
        const std::string solver = readRanksFile(o.ranksFile, c.ranks, loss);
        c.solver = solver + (loss ? "+loss" : "");
    }
    for (const auto& [group, rank] : o.overrides) c.ranks[group] = rank;  // overrides win

    if (!o.searchOnly)
        result.report = hooks.compress ? hooks.compress(o.modelDir, o.outDir, c, ctx, o.replace)
                                       : compressModelDir(o.modelDir, o.outDir, c, ctx, o.replace);
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return result;
}

}  // namespace qcw
