#include "rank/joint_allocation.h"

#include "common/error.h"
#include "common/run_context.h"

#include <cmath>
#include <limits>

namespace qcw {

RankProblem toRankProblem(const JointProblem& p) {
    RankProblem r;
    r.budget = p.budgetBytes;
    for (const auto& g : p.groups) {
        if (g.options.empty()) fail("allocation group " + g.name, "offers no encodings");
        if (!(g.weight >= 0) || !std::isfinite(g.weight)) fail("allocation group " + g.name, "has a negative or non-finite weight");
        RankGroup rg;
        rg.name = g.name;
        for (std::size_t c = 0; c < g.options.size(); ++c) {
            const auto& o = g.options[c];
            if (o.bytes < 0) fail("allocation group " + g.name, "option " + o.method + " has negative bytes");
            if (!(o.error >= 0) || !std::isfinite(o.error))
                fail("allocation group " + g.name, "option " + o.method + " has a negative or non-finite error");
            RankChoice ch;
            ch.rank = static_cast<int>(c);
            ch.params = o.bytes;
            ch.error = g.weight * o.error;
            rg.choices.push_back(ch);
        }
        r.groups.push_back(std::move(rg));
    }
    return r;
}

double jointObjective(const JointProblem& p, const std::vector<int>& choice) {
    double s = 0;
    for (std::size_t g = 0; g < p.groups.size(); ++g) s += p.groups[g].weight * p.groups[g].options[static_cast<std::size_t>(choice[g])].error;
    return s;
}

std::int64_t jointBytes(const JointProblem& p, const std::vector<int>& choice) {
    std::int64_t s = 0;
    for (std::size_t g = 0; g < p.groups.size(); ++g) s += p.groups[g].options[static_cast<std::size_t>(choice[g])].bytes;
    return s;
}

namespace {

JointSolution fromRank(const JointProblem& p, const RankSolution& s) {
    JointSolution j;
    j.solver = s.solver;
    j.choice = s.allocation;
    j.objective = jointObjective(p, j.choice);
    j.bytes = jointBytes(p, j.choice);
    j.feasible = j.bytes <= p.budgetBytes;
    j.provenOptimal = s.provenOptimal;
    return j;
}

}  // namespace

JointSolution solveJoint(const JointProblem& p, const SolverOptions& options, RunContext& ctx) {
    const RankProblem r = toRankProblem(p);
    return fromRank(p, solveRanks(r, options, ctx));
}

JointSolution bruteForceJoint(const JointProblem& p) {
    const RankProblem r = toRankProblem(p);
    r.validate();
    return fromRank(p, bruteForce(r));
}

JointSolution uniformJoint(const JointProblem& p) {
    toRankProblem(p).validate();
    auto pick = [&](double bits) {
        std::vector<int> choice;
        for (const auto& g : p.groups) {
            if (g.denseParams <= 0) fail("allocation group " + g.name, "needs its parameter count for a uniform allocation");
            const double cap = bits * double(g.denseParams) / 8.0;
            int best = -1, cheapest = 0;
            for (std::size_t c = 0; c < g.options.size(); ++c) {
                const auto& o = g.options[c];
                if (o.bytes < g.options[static_cast<std::size_t>(cheapest)].bytes) cheapest = static_cast<int>(c);
                if (double(o.bytes) <= cap && (best < 0 || o.error < g.options[static_cast<std::size_t>(best)].error))
                    best = static_cast<int>(c);
            }
            choice.push_back(best < 0 ? cheapest : best);
        }
        return choice;
    };
    double lo = 0, hi = 64;
    std::vector<int> bestChoice = pick(lo);
    for (int it = 0; it < 60; ++it) {
        const double mid = 0.5 * (lo + hi);
        auto c = pick(mid);
        if (jointBytes(p, c) <= p.budgetBytes) {
            lo = mid;
            bestChoice = std::move(c);
        } else {
            hi = mid;
        }
    }
    JointSolution j;
    j.solver = "uniform";
    j.choice = bestChoice;
    j.objective = jointObjective(p, j.choice);
    j.bytes = jointBytes(p, j.choice);
    j.feasible = j.bytes <= p.budgetBytes;
    return j;
}

}  // namespace qcw
