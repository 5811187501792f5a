#pragma once
// Shared plumbing of the solvers (not installed API): reproducible random draws, a stopwatch,
// the event reporter, the annealers' move machinery and the repair step.
#include "rank/qubo.h"
#include "rank/solvers.h"

#include "common/run_context.h"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace qcw::rankdetail {

// Our own distributions: std::uniform_*_distribution differ between standard libraries.
inline double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
inline std::uint64_t uniformIndex(std::mt19937_64& rng, std::uint64_t n) {
    // rejection sampling on the top bits: unbiased and portable
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
    std::uint64_t r;
    do r = rng();
    while (r >= limit);
    return r % n;
}

class Stopwatch {
public:
    double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }
private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Sends SolverEvents to the observer and, as Progress, to the RunContext.
class Reporter {
public:
    Reporter(std::string solver, RunContext& ctx, const Observer& observer, long long every, long long total)
        : solver_(std::move(solver)), ctx_(ctx), observer_(observer), every_(every < 1 ? 1 : every), total_(total) {}
    bool due(long long iteration) const { return iteration % every_ == 0 || iteration == total_; }
    void emit(SolverEvent e) const {
        e.solver = solver_;
        e.total = total_;
        std::map<std::string, double> m{{"energy", e.energy}, {"best", e.bestObjective}};
        if (e.temperature != 0.0) m["temperature"] = e.temperature;
        if (e.gamma != 0.0) m["gamma"] = e.gamma;
        ctx_.report("rank:" + solver_, e.iteration, total_, std::move(m));
        if (observer_) observer_(e);
    }
private:
    std::string solver_;
    RunContext& ctx_;
    const Observer& observer_;
    long long every_, total_;
};

// Downgrades groups (least error increase per parameter saved first) until the allocation
// fits the budget; the cheapest allocation always fits, so this terminates feasible.
std::vector<int> repair(const RankProblem& p, std::vector<int> a);

// Per-group view for the annealers: choices sorted by parameters.
struct MoveTables {
    std::vector<std::vector<int>> order;   // order[g][pos] = choice
    std::vector<std::vector<int>> pos;     // pos[g][choice] = position in order[g]
    std::vector<int> movable;              // groups with more than one choice
    explicit MoveTables(const RankProblem& p);
    // A new choice for group g (different from `current`): with probability 1/2 a neighbour
    // 1..2 steps up or down the params order (direction dir: +1 up, -1 down, 0 either),
    // otherwise uniform among the other choices.
    int propose(std::mt19937_64& rng, int g, int current, int dir) const;
    // The choice of group g with the most parameters <= maxParams (-1 when none).
    int fit(int g, std::int64_t maxParams) const;
    std::vector<std::vector<std::int64_t>> sortedParams;   // params in order[g]
};

// Automatic temperature scale from the problem: mean |delta error| of uniform random
// switches (hot) and the median |delta error| of neighbour switches (fine).
struct EnergyScale {
    double hot = 1.0;
    double fine = 1e-3;
};
EnergyScale energyScale(const RankProblem& p, const MoveTables& t);

}  // namespace qcw::rankdetail
