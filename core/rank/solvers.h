#pragma once
// Rank-allocation solvers behind one interface (see rank_problem.h for the problem).
//
//   exact   dynamic programming over the multiple-choice knapsack, parameters in buckets
//   greedy  marginal gain: start at the cheapest choices, take the best d(error)/d(params)
//           upgrade that still fits, until none does
//   anneal  simulated annealing on the QUBO of qubo.h with one-hot-preserving moves
//   sqa     path-integral (Suzuki-Trotter) simulated quantum annealing, P replicas
//   qaoa    QAOA on an exact statevector simulator (small instances, <= ~20 qubits)
//
// Shaped like ITensor's DMRG: a Schedule gives the per-sweep control value (temperature,
// transverse field) and an Observer sees one SolverEvent per reported iteration. Every
// solver also forwards the events to RunContext::report (stage "rank:<solver>") and checks
// RunContext::isCancelled() between sweeps (anneal, sqa: ~0.1 ms each at Phi-1.5 size),
// DP groups, greedy steps and QAOA layers; a cancelled solver returns its best feasible
// allocation so far with RankSolution::cancelled set (it does not throw). For exact, the
// best feasible allocation known before the table is complete is the cheapest one.
//
// All randomness comes from std::mt19937_64 seeded by the options with our own integer and
// uniform draws (not std::*_distribution, whose output differs between standard libraries),
// so a seed reproduces a run exactly with the same build.
#include "rank/rank_problem.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace qcw {

class RunContext;

// Per-sweep control values: value(s) for s = 0..sweeps()-1, computed on demand (a schedule of
// 10^8 sweeps costs no memory).
class Schedule {
public:
    Schedule() = default;
    static Schedule geometric(double from, double to, int sweeps);  // from * (to/from)^(s/(n-1))
    static Schedule linear(double from, double to, int sweeps);     // from + (to-from) s/(n-1)
    static Schedule custom(std::vector<double> values);
    int sweeps() const { return sweeps_; }
    double value(int sweep) const;
    bool empty() const { return sweeps_ == 0; }
    double minValue() const;

private:
    enum class Kind { Geometric, Linear, Custom };
    Kind kind_ = Kind::Custom;
    double from_ = 0.0, to_ = 0.0;
    int sweeps_ = 0;
    std::vector<double> values_;
};

struct SolverEvent {
    std::string solver;
    long long iteration = 0;        // sweep, greedy step, DP group or optimiser evaluation
    long long total = 0;            // planned iterations (0 when unknown)
    double energy = 0.0;            // current energy / objective (with penalties for annealers)
    double bestObjective = 0.0;     // best feasible objective so far (+inf when none);
                                    // qaoa: best angle objective (CVaR) so far
    std::vector<int> allocation;    // current allocation (choice index per group)
    double temperature = 0.0;       // anneal/sqa; 0 otherwise
    double gamma = 0.0;             // sqa: transverse field Gamma; qaoa: 0
};

using Observer = std::function<void(const SolverEvent&)>;

// A small macro for typed options with chained setters: Options().sweeps(10).seed(1).
#define QCW_RANK_OPTION(Type, name, def)                  \
public:                                                   \
    Type name() const { return name##_; }                 \
    auto& name(Type v) { name##_ = v; return *this; }     \
private:                                                  \
    Type name##_ = def;

class ExactOptions {
    // Bucket size in parameters; 0 = automatic (gcd of all parameter counts, coarsened only
    // when the table would exceed maxBuckets). Parameter counts are rounded UP to whole
    // buckets and the budget DOWN, so the result is always feasible; it is the exact optimum
    // of the bucketed problem, and the exact optimum of the real one when every parameter
    // count is a multiple of the bucket (granularity 1 always is).
    QCW_RANK_OPTION(std::int64_t, granularity, 0)
    QCW_RANK_OPTION(std::int64_t, maxBuckets, 4'000'000)
    QCW_RANK_OPTION(int, reportEvery, 1)        // groups between events
};

class GreedyOptions {
    QCW_RANK_OPTION(int, reportEvery, 1)        // steps between events
};

class AnnealOptions {
    // Sweeps (one sweep = G move attempts). The schedule is geometric from tFrom to tTo
    // unless schedule() is set; 0 = automatic: tFrom = mean |error change| of a random switch,
    // tTo = min(tFrom, 0.02 * median |error change| between neighbouring ranks).
    QCW_RANK_OPTION(int, sweeps, 20000)
    QCW_RANK_OPTION(double, tFrom, 0.0)
    QCW_RANK_OPTION(double, tTo, 0.0)
    QCW_RANK_OPTION(Schedule, schedule, Schedule())
    // Budget-penalty weight B of E(x) = sum e x + B * max(0, (sum p x - budget)/unit)^2
    // (qubo.h); 0 = automatic (the strict value that makes every violation costlier than
    // any error saving).
    QCW_RANK_OPTION(double, penalty, 0.0)
    QCW_RANK_OPTION(double, pairMoveFraction, 0.5)  // share of two-group (swap) moves
    QCW_RANK_OPTION(int, restarts, 1)               // independent runs, best kept
    QCW_RANK_OPTION(std::uint64_t, seed, 1)
    QCW_RANK_OPTION(int, reportEvery, 0)            // sweeps between events; 0 = ~100 events
};

class SqaOptions {
    // Suzuki-Trotter with `replicas` slices at temperature T (P*T is the temperature each
    // slice feels), coupled by J_perp(Gamma) = -(P T / 2) ln tanh(Gamma / (P T)); Gamma goes
    // linearly from gammaFrom to gammaTo unless schedule() is set. 0 = automatic:
    // T = median |error change| between neighbouring ranks / 300, Gamma from 3 P T to 0.001 P T.
    QCW_RANK_OPTION(int, replicas, 16)
    QCW_RANK_OPTION(int, sweeps, 3000)
    QCW_RANK_OPTION(double, temperature, 0.0)
    QCW_RANK_OPTION(double, gammaFrom, 0.0)
    QCW_RANK_OPTION(double, gammaTo, 0.0)
    QCW_RANK_OPTION(Schedule, schedule, Schedule())
    QCW_RANK_OPTION(double, penalty, 0.0)           // as AnnealOptions::penalty
    QCW_RANK_OPTION(double, pairMoveFraction, 0.5)
    QCW_RANK_OPTION(std::uint64_t, seed, 1)
    QCW_RANK_OPTION(int, reportEvery, 0)
};

class QaoaOptions {
    // Depth p, Nelder-Mead evaluations per start, number of starts (the first is a linear
    // ramp, the others random), shots sampled from the final state.
    QCW_RANK_OPTION(int, layers, 3)
    QCW_RANK_OPTION(int, maxEvaluations, 600)
    QCW_RANK_OPTION(int, starts, 4)
    QCW_RANK_OPTION(int, shots, 1024)
    QCW_RANK_OPTION(int, maxQubits, 20)
    // true: budget as the textbook QUBO with binary slack qubits; false (default): slack
    // eliminated analytically, B * max(0, sum p x - budget)^2 on the diagonal (qubo.h).
    QCW_RANK_OPTION(bool, slackQubits, false)
    QCW_RANK_OPTION(double, onehotPenalty, 0.0)     // A; 0 = automatic
    QCW_RANK_OPTION(double, budgetPenalty, 0.0)     // B; 0 = automatic
    // Parameters per budget unit u of the QUBO; 0 = automatic: the larger of the gcd of the
    // parameter counts and (max params - min params) / (number of variables), so that the
    // budget term stays on the scale of the errors (a coarse u makes it less strict: a
    // violation below one unit costs less than B; the readout only takes feasible states).
    QCW_RANK_OPTION(double, budgetUnit, 0.0)
    // Angle objective: CVaR_alpha, the mean energy of the lowest alpha share of the measured
    // distribution (Barkoutsos et al. 2020); alpha = 1 is the plain expectation <C>.
    QCW_RANK_OPTION(double, cvarAlpha, 0.1)
    QCW_RANK_OPTION(std::uint64_t, seed, 1)
    QCW_RANK_OPTION(int, reportEvery, 1)            // evaluations between events
};

class SolverOptions {
    QCW_RANK_OPTION(std::string, solver, "exact")  // "exact","greedy","anneal","sqa","qaoa"
    QCW_RANK_OPTION(ExactOptions, exact, ExactOptions())
    QCW_RANK_OPTION(GreedyOptions, greedy, GreedyOptions())
    QCW_RANK_OPTION(AnnealOptions, anneal, AnnealOptions())
    QCW_RANK_OPTION(SqaOptions, sqa, SqaOptions())
    QCW_RANK_OPTION(QaoaOptions, qaoa, QaoaOptions())
    QCW_RANK_OPTION(Observer, observer, Observer())
};

#undef QCW_RANK_OPTION

// Names accepted by solveRanks, in this order: exact, greedy, anneal, sqa, qaoa.
const std::vector<std::string>& solverNames();

// Validates the problem, runs the solver named by options.solver() and returns its result.
// Throws qcw::Error for an invalid problem or an unknown solver name.
RankSolution solveRanks(const RankProblem& problem, const SolverOptions& options, RunContext& ctx);

RankSolution solveExact(const RankProblem& problem, const ExactOptions& options, RunContext& ctx,
                        const Observer& observer = {});
RankSolution solveGreedy(const RankProblem& problem, const GreedyOptions& options, RunContext& ctx,
                         const Observer& observer = {});
RankSolution solveAnneal(const RankProblem& problem, const AnnealOptions& options, RunContext& ctx,
                         const Observer& observer = {});
RankSolution solveSqa(const RankProblem& problem, const SqaOptions& options, RunContext& ctx,
                      const Observer& observer = {});
RankSolution solveQaoa(const RankProblem& problem, const QaoaOptions& options, RunContext& ctx,
                       const Observer& observer = {});

// J_perp(Gamma) = -(P T / 2) ln tanh(Gamma / (P T)), the replica coupling of SQA.
double trotterCoupling(double gamma, int replicas, double temperature);

}  // namespace qcw
