#pragma once
// Global rank allocation under a parameter budget, as a multiple-choice knapsack.
//
// There are G groups (a weight matrix, a Q/K/V stack, a cross-layer stack ...). Group g has
// candidate choices c = 0..C_g-1, each a rank r_gc with a parameter count p_gc and a
// predicted error e_gc (for instance the discarded weight of the singular-value spectrum,
// see error_curve.h). An allocation picks exactly one choice per group; it is feasible when
//     sum_g p_{g,a_g} <= budget
// and the solvers minimise the objective  sum_g e_{g,a_g}  over feasible allocations.
//
// Plain data, std only: the solvers are in solvers.h, the QUBO form in qubo.h.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qcw {

struct RankChoice {
    int rank = 0;                 // the rank this choice keeps (for a dense choice: min(m, n))
    std::int64_t params = 0;      // parameters the group costs with this choice
    double error = 0.0;           // predicted error of this choice (lower is better)
    bool dense = false;           // keep the matrix uncompressed
};

struct RankGroup {
    std::string name;             // e.g. "model.layers.3.mlp.fc1.weight"
    std::int64_t rows = 0, cols = 0;   // informational (0 when unknown)
    std::vector<RankChoice> choices;
};

struct RankProblem {
    std::vector<RankGroup> groups;
    std::int64_t budget = 0;      // most parameters the allocation may use, all groups together

    // Throws qcw::Error naming the first value at fault: no groups, a group without choices,
    // a negative parameter count, a non-finite error, a parameter sum that overflows, or a
    // budget below the minimum allocation.
    void validate() const;

    std::int64_t minParams() const;     // sum over groups of the cheapest choice
    std::int64_t maxParams() const;     // sum over groups of the most expensive choice
    std::size_t numVariables() const;   // sum_g C_g: the one-hot QUBO variables

    // Sum of errors / parameters of an allocation (choice index per group); throw when the
    // allocation has the wrong length or an index out of range.
    double objective(const std::vector<int>& allocation) const;
    std::int64_t params(const std::vector<int>& allocation) const;
    bool feasible(const std::vector<int>& allocation) const;
    // Rank chosen for each group.
    std::vector<int> ranks(const std::vector<int>& allocation) const;
    // The cheapest choice of every group (ties: lowest error, then lowest index); feasible
    // whenever validate() passes.
    std::vector<int> cheapestAllocation() const;
};

// Extra results of QAOA (solver "qaoa").
struct QaoaInfo {
    int layers = 0;                     // p
    int qubits = 0;
    std::vector<double> gammas, betas;  // tuned angles, one pair per layer
    double expectedEnergy = 0.0;        // <psi|C|psi> in the units of the objective
    double probOptimum = 0.0;           // probability of measuring an optimal feasible state
    double probFeasible = 0.0;          // probability of measuring any feasible state
    double optimum = 0.0;               // brute-force optimum from the enumerated diagonal
    std::vector<int> mostProbableFeasible;  // readout: the most probable feasible allocation
    double mostProbableProbability = 0.0;
    long long evaluations = 0;          // circuit evaluations spent by the optimiser
};

struct RankSolution {
    std::string solver;                 // "exact", "greedy", "anneal", "sqa", "qaoa"
    std::vector<int> allocation;        // choice index per group
    double objective = 0.0;             // sum of errors of the allocation
    std::int64_t params = 0;            // parameters the allocation uses
    std::int64_t budget = 0;
    bool feasible = false;              // params <= budget (every solver returns a feasible one)
    bool cancelled = false;             // the run was cancelled; allocation is the best so far
    double seconds = 0.0;
    long long iterations = 0;           // sweeps / greedy steps / DP groups / optimiser evaluations
    // exact: the bucket size in parameters and whether the result is the true optimum
    // (true when every parameter count is a multiple of the bucket size).
    std::int64_t granularity = 0;
    bool provenOptimal = false;
    std::optional<QaoaInfo> qaoa;
};

// Sets objective/params/feasible of `s` from its allocation.
void evaluateSolution(const RankProblem& problem, RankSolution& s);

// Enumerates every allocation (prod_g C_g of them; throws above `maxStates`). For tests and
// for small instances; returns the optimum as a RankSolution with solver "bruteforce".
RankSolution bruteForce(const RankProblem& problem, std::uint64_t maxStates = 50'000'000ull);

// JSON for the CLI:
// {"solver","objective","params_after","budget","feasible","cancelled","iterations",
//  "allocation":[{"group","rank"}...],"seconds"} plus "qaoa":{...} for QAOA.
std::string toJson(const RankProblem& problem, const RankSolution& s, int indent = 2);

}  // namespace qcw
