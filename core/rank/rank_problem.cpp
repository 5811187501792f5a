#include "rank/rank_problem.h"

#include "common/error.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace qcw {

namespace {

std::string groupLabel(const RankProblem& p, std::size_t g) {
    const std::string& n = p.groups[g].name;
    return "group " + std::to_string(g) + (n.empty() ? std::string() : " (" + n + ")");
}

void checkAllocation(const RankProblem& p, const std::vector<int>& a) {
    if (a.size() != p.groups.size())
        fail("allocation", "expected " + std::to_string(p.groups.size()) + " choices, got " + std::to_string(a.size()));
    for (std::size_t g = 0; g < a.size(); ++g)
        if (a[g] < 0 || static_cast<std::size_t>(a[g]) >= p.groups[g].choices.size())
            fail("allocation", "choice " + std::to_string(a[g]) + " of " + groupLabel(p, g) + " is outside 0.." +
                                   std::to_string(static_cast<long long>(p.groups[g].choices.size()) - 1));
}

}  // namespace

void RankProblem::validate() const {
    if (groups.empty()) fail("rank problem", "no groups");
    if (budget < 0) fail("rank problem", "budget " + std::to_string(budget) + " is negative");
    const std::int64_t limit = std::numeric_limits<std::int64_t>::max() / 4;
    std::int64_t sumMax = 0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const RankGroup& G = groups[g];
        if (G.choices.empty()) fail("rank problem", groupLabel(*this, g) + " has no choices");
        std::int64_t gmax = 0;
        for (std::size_t c = 0; c < G.choices.size(); ++c) {
            const RankChoice& ch = G.choices[c];
            if (ch.params < 0)
                fail("rank problem", groupLabel(*this, g) + " choice " + std::to_string(c) + " has params " +
                                         std::to_string(ch.params) + ", expected >= 0");
            if (ch.params > limit)
                fail("rank problem", groupLabel(*this, g) + " choice " + std::to_string(c) + " has params " +
                                         std::to_string(ch.params) + ", too large");
            if (!std::isfinite(ch.error))
                fail("rank problem", groupLabel(*this, g) + " choice " + std::to_string(c) + " has error " +
                                         std::to_string(ch.error) + ", expected a finite value");
            gmax = std::max(gmax, ch.params);
        }
        if (sumMax > limit - gmax) fail("rank problem", "the parameter counts add up past 2^61");
        sumMax += gmax;
    }
    const std::int64_t minP = minParams();
    if (budget < minP)
        fail("rank problem", "budget " + std::to_string(budget) + " is below the minimum allocation " + std::to_string(minP));
}

std::int64_t RankProblem::minParams() const {
    std::int64_t s = 0;
    for (const auto& g : groups) {
        std::int64_t m = std::numeric_limits<std::int64_t>::max();
        for (const auto& c : g.choices) m = std::min(m, c.params);
        if (!g.choices.empty()) s += m;
    }
    return s;
}

std::int64_t RankProblem::maxParams() const {
    std::int64_t s = 0;
    for (const auto& g : groups) {
        std::int64_t m = 0;
        for (const auto& c : g.choices) m = std::max(m, c.params);
        s += m;
    }
    return s;
}

std::size_t RankProblem::numVariables() const {
    std::size_t n = 0;
    for (const auto& g : groups) n += g.choices.size();
    return n;
}

double RankProblem::objective(const std::vector<int>& a) const {
    checkAllocation(*this, a);
    double s = 0.0;
    for (std::size_t g = 0; g < a.size(); ++g) s += groups[g].choices[static_cast<std::size_t>(a[g])].error;
    return s;
}

std::int64_t RankProblem::params(const std::vector<int>& a) const {
    checkAllocation(*this, a);
    std::int64_t s = 0;
    for (std::size_t g = 0; g < a.size(); ++g) s += groups[g].choices[static_cast<std::size_t>(a[g])].params;
    return s;
}

bool RankProblem::feasible(const std::vector<int>& a) const { return params(a) <= budget; }

std::vector<int> RankProblem::ranks(const std::vector<int>& a) const {
    checkAllocation(*this, a);
    std::vector<int> r(a.size());
    for (std::size_t g = 0; g < a.size(); ++g) r[g] = groups[g].choices[static_cast<std::size_t>(a[g])].rank;
    return r;
}

std::vector<int> RankProblem::cheapestAllocation() const {
    std::vector<int> a(groups.size(), 0);
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const auto& ch = groups[g].choices;
        int best = 0;
        for (std::size_t c = 1; c < ch.size(); ++c) {
            const auto& b = ch[static_cast<std::size_t>(best)];
            if (ch[c].params < b.params || (ch[c].params == b.params && ch[c].error < b.error)) best = static_cast<int>(c);
        }
        a[g] = best;
    }
    return a;
}

void evaluateSolution(const RankProblem& problem, RankSolution& s) {
    s.objective = problem.objective(s.allocation);
    s.params = problem.params(s.allocation);
    s.budget = problem.budget;
    s.feasible = s.params <= problem.budget;
}

RankSolution bruteForce(const RankProblem& problem, std::uint64_t maxStates) {
    problem.validate();
    std::uint64_t states = 1;
    for (const auto& g : problem.groups) {
        if (states > maxStates / g.choices.size())
            fail("bruteForce", "more than " + std::to_string(maxStates) + " allocations to enumerate");
        states *= g.choices.size();
    }
    const std::size_t G = problem.groups.size();
    std::vector<int> a(G, 0);
    RankSolution best;
    best.solver = "bruteforce";
    double bestObj = std::numeric_limits<double>::infinity();
    std::int64_t bestParams = 0;
    for (std::uint64_t it = 0; it < states; ++it) {
        double e = 0.0;
        std::int64_t p = 0;
        for (std::size_t g = 0; g < G; ++g) {
            const auto& c = problem.groups[g].choices[static_cast<std::size_t>(a[g])];
            e += c.error;
            p += c.params;
        }
        if (p <= problem.budget && (e < bestObj || (e == bestObj && p < bestParams))) {
            bestObj = e;
            bestParams = p;
            best.allocation = a;
        }
        for (std::size_t g = 0; g < G; ++g) {   // odometer
            if (++a[g] < static_cast<int>(problem.groups[g].choices.size())) break;
            a[g] = 0;
        }
    }
    best.iterations = static_cast<long long>(states);
    best.provenOptimal = true;
    evaluateSolution(problem, best);
    return best;
}

std::string toJson(const RankProblem& problem, const RankSolution& s, int indent) {
    using nlohmann::json;
    json j;
    j["solver"] = s.solver;
    j["objective"] = s.objective;
    j["params_after"] = s.params;
    j["budget"] = problem.budget;
    j["feasible"] = s.feasible;
    j["cancelled"] = s.cancelled;
    j["iterations"] = s.iterations;
    json alloc = json::array();
    const std::vector<int> r = problem.ranks(s.allocation);
    for (std::size_t g = 0; g < s.allocation.size(); ++g) {
        json e;
        e["group"] = problem.groups[g].name.empty() ? std::to_string(g) : problem.groups[g].name;
        e["rank"] = r[g];
        alloc.push_back(std::move(e));
    }
    j["allocation"] = std::move(alloc);
    j["seconds"] = s.seconds;
    if (s.solver == "exact") {
        j["granularity"] = s.granularity;
        j["proven_optimal"] = s.provenOptimal;
    }
    if (s.qaoa) {
        const QaoaInfo& q = *s.qaoa;
        json k;
        k["layers"] = q.layers;
        k["qubits"] = q.qubits;
        k["gammas"] = q.gammas;
        k["betas"] = q.betas;
        k["expected_energy"] = q.expectedEnergy;
        k["prob_optimum"] = q.probOptimum;
        k["prob_feasible"] = q.probFeasible;
        k["optimum"] = q.optimum;
        k["evaluations"] = q.evaluations;
        j["qaoa"] = std::move(k);
    }
    return j.dump(indent);
}

}  // namespace qcw
