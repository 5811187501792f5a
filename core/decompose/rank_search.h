#pragma once
// From a model directory to a searched rank allocation: each compressible matrix becomes a
// group whose candidate ranks carry the discarded weight of its singular-value spectrum (the
// DMRG truncation criterion); a budget solver (core/rank) picks one rank per group so the
// whole model keeps the requested fraction of its parameters. Plain data, no torch.
#include "common/run_context.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qcw {

struct RankSearchOptions {
    double keepFraction = 0.3;
    std::string solver = "exact";   // exact, greedy, anneal, sqa, qaoa
    std::uint64_t seed = 1;
    bool includeLmHead = true;
    int candidatesPerGroup = 48;    // rank grid resolution
    // What the solver minimises:
    //   "spectral": the summed discarded weight of every matrix's spectrum, each matrix alike
    //               (DMRG's truncation criterion; needs nothing but the weights);
    //   "loss":     the summed calibration-loss increase each matrix's truncation causes,
    //               measured with that matrix alone truncated (sensitivity.h) at 1/2, 1 and 2
    //               times its uniform rank, interpolated in between and falling to 0 at full
    //               rank; ranks below the lowest measured one are not offered. One forward pass
    //               per matrix and measured rank. Needs `calibration`.
    //   "size":     the discarded weight of each matrix times its share of the parameters
    //               (m n over the mean m n), so lm_head is not starved (needs only the weights);
    //   "uniform":  every matrix keeps the same fraction of its parameters (no search);
    //   "auto":     loss with calibration windows, uniform without (measured on the demo model
    //               at 30%: size +8% and spectral +220% perplexity against uniform ranks).
    std::string weighting = "auto";
    std::vector<std::vector<std::int64_t>> calibration;  // token windows, for "loss"
    std::string device = "cpu";     // where "loss" runs its forward passes (cpu, cuda, cuda:N)
    // Called on the searching thread with the solver's current allocation (group -> rank)
    // each time the solver reports one: the annealers' current state (it may exceed the budget
    // until they settle), greedy's, and the exact solver's answer at its end.
    std::function<void(const std::map<std::string, int>& ranks, long long iteration)> onAllocation;
};

struct RankSearchResult {
    std::string solver;
    std::string weighting = "spectral";
    double objective = 0;              // summed (weighted) discarded weight of the allocation
    double uniformObjective = 0;       // the same for uniform ranks at the same budget
    // "loss" weighting: the dense model's calibration loss, and per group its uniform rank and
    // the loss increases measured at the probed ranks.
    double baseLoss = 0;
    struct Sensitivity {
        int uniformRank = 0;
        std::vector<int> ranks;              // ascending
        std::vector<double> lossIncrease;    // at each of `ranks` (nats/token)
    };
    std::map<std::string, Sensitivity> sensitivity;
    std::int64_t paramsBefore = 0, paramsAfter = 0, budget = 0;
    std::map<std::string, int> ranks;  // group (tensor name without ".weight") -> rank
    std::vector<std::string> order;    // groups in model order
    double seconds = 0;
    std::string json;                  // the CLI contract's object
};

RankSearchResult searchRanks(const std::string& modelDir, const RankSearchOptions& opts, RunContext& ctx);

}  // namespace qcw
