#pragma once
// One allocation over (method, rank, bits): each matrix offers encodings (16-bit, 8-/4-bit
// blocks, low-rank with quantized factors, 4-bit plus a low-rank correction ...), each with
// the bytes it stores and its predicted error; pick one per matrix so the bytes fit a budget
// and the weighted error sum is least. The same multiple-choice knapsack as the rank
// allocation (rank_problem.h) with bytes for parameters, so every solver of solvers.h (exact
// DP, greedy, annealing, simulated quantum annealing, QAOA on tiny instances) solves it.
// Plain data, std only.
#include "rank/rank_problem.h"
#include "rank/solvers.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcw {

struct JointOption {
    std::string method;        // e.g. "f16", "q8", "q4", "lowrank", "q4+lqer"
    int rank = 0;              // low-rank or correction rank (0: none)
    int bits = 16;             // bits of the stored values (16, 8, 4)
    std::int64_t bytes = 0;    // bytes stored with this option
    double error = 0;          // predicted error (e.g. relative output error squared), >= 0
};

struct JointGroup {
    std::string name;
    double weight = 1;                 // multiplies every option's error (e.g. loss per unit error)
    std::int64_t denseParams = 0;      // parameters of the original matrix (for bits per parameter)
    std::vector<JointOption> options;
};

struct JointProblem {
    std::vector<JointGroup> groups;
    std::int64_t budgetBytes = 0;
};

struct JointSolution {
    std::string solver;
    std::vector<int> choice;    // option index per group
    double objective = 0;       // sum of weight * error
    std::int64_t bytes = 0;
    bool feasible = false;
    bool provenOptimal = false;
};

// The knapsack the solvers take: choice c of group g has params = bytes, error = weight * error,
// rank = c (the option index). Throws qcw::Error naming the group at fault (no options,
// negative bytes, a negative or non-finite error or weight).
RankProblem toRankProblem(const JointProblem& p);
JointSolution solveJoint(const JointProblem& p, const SolverOptions& options, RunContext& ctx);
// Every allocation enumerated (tests and tiny instances).
JointSolution bruteForceJoint(const JointProblem& p);
// The uniform allocation: every group gets at most the same bits per parameter b (its
// lowest-error option within b * denseParams / 8 bytes, or its cheapest when none fits), with
// b the largest that fits the budget (bisection). Needs denseParams > 0 on every group.
JointSolution uniformJoint(const JointProblem& p);
double jointObjective(const JointProblem& p, const std::vector<int>& choice);
std::int64_t jointBytes(const JointProblem& p, const std::vector<int>& choice);

}  // namespace qcw
