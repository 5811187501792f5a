#include "decompose/rank_search.h"

#include "common/error.h"
#include "decompose/spectra_api.h"
#include "io/inventory.h"
#include "rank/error_curve.h"
#include "rank/solvers.h"

#include <nlohmann/json.hpp>

#include <chrono>

namespace qcw {

RankSearchResult searchRanks(const std::string& modelDir, const RankSearchOptions& o, RunContext& ctx) {
    if (!(o.keepFraction > 0.0 && o.keepFraction <= 1.0))
        fail("--target-params " + std::to_string(o.keepFraction), "the kept fraction must be in (0, 1]");
    auto t0 = std::chrono::steady_clock::now();
    const ModelSummary summary = inspectModel(modelDir);
    if (summary.compressed) fail(modelDir, "is already compressed; search ranks on the original model");
    // The matrices the compressor factorizes: the decoder's six per block and lm_head.
    std::vector<MatrixSpectrum> spectra;
    for (auto& s : computeSpectra(modelDir, {}, ctx)) {
        const std::string kind = layerKind(s.name);
        if (kind == "embedding") continue;
        if (kind == "lm_head" && !o.includeLmHead) continue;
        spectra.push_back(std::move(s));
    }
    RankProblem problem;
    std::int64_t groupDense = 0;
    std::vector<double> uniformFraction;
    for (const auto& s : spectra) {
        const std::int64_t m = s.stats.rows, n = s.stats.cols;
        const int maxRank = std::max(1, maxProfitableRank(m, n));
        const int step = std::max(1, (maxRank + o.candidatesPerGroup - 1) / o.candidatesPerGroup);
        std::vector<int> ranks = rankGrid(maxRank, RankGrid::multiples(step));
        if (ranks.empty() || ranks.front() != 1) ranks.insert(ranks.begin(), 1);
        const std::string group = s.name.substr(0, s.name.size() - std::string(".weight").size());
        problem.groups.push_back(makeRankGroup(group, m, n, s.singularValues, ranks, /*includeDense=*/false));
        groupDense += m * n;
    }
    const std::int64_t fixed = summary.params - groupDense;
    const double target = o.keepFraction * double(summary.params);
    problem.budget = static_cast<std::int64_t>(target) - fixed;
    if (problem.budget <= 0)
        fail("--target-params " + std::to_string(o.keepFraction),
             "cannot be reached: the uncompressed parts alone hold " + std::to_string(double(fixed) / double(summary.params)) +
                 " of the parameters");
    SolverOptions so = SolverOptions().solver(o.solver);
    so.anneal(AnnealOptions().seed(o.seed)).sqa(SqaOptions().seed(o.seed)).qaoa(QaoaOptions().seed(o.seed));
    if (o.onAllocation)
        so.observer([&problem, &o](const SolverEvent& e) {
            if (e.allocation.size() != problem.groups.size()) return;  // qaoa's angle steps, the DP's sweeps
            const auto ranks = problem.ranks(e.allocation);
            std::map<std::string, int> named;
            for (std::size_t g = 0; g < ranks.size(); ++g) named[problem.groups[g].name] = ranks[g];
            o.onAllocation(named, e.iteration);
        });
    RankSolution sol = solveRanks(problem, so, ctx);

    RankSearchResult r;
    r.solver = o.solver;
    r.objective = sol.objective;
    r.paramsBefore = summary.params;
    r.paramsAfter = fixed + sol.params;
    r.budget = problem.budget;
    const auto ranks = problem.ranks(sol.allocation);
    for (std::size_t g = 0; g < problem.groups.size(); ++g) {
        r.ranks[problem.groups[g].name] = ranks[g];
        r.order.push_back(problem.groups[g].name);
    }
    // Uniform baseline: every matrix keeps the same fraction of its parameters.
    const double f = double(problem.budget) / double(groupDense);
    for (std::size_t g = 0; g < spectra.size(); ++g) {
        const std::int64_t m = spectra[g].stats.rows, n = spectra[g].stats.cols;
        const int ru = std::max(1, static_cast<int>(f * double(m * n) / double(m + n)));
        r.uniformObjective += discardedWeight(spectra[g].singularValues, ru);
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json j = nlohmann::json::parse(toJson(problem, sol, -1));
    j["params_before"] = r.paramsBefore;
    j["params_after"] = r.paramsAfter;
    j["group_params_after"] = sol.params;
    j["uniform_objective"] = r.uniformObjective;
    j["target_params"] = o.keepFraction;
    j["seconds_total"] = r.seconds;
    r.json = j.dump();
    return r;
}

}  // namespace qcw
