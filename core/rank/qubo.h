#pragma once
// The QUBO form of the rank-allocation problem (rank_problem.h).
//
// Binary variables: one-hot x_k, k = off_g + c (off_g = sum_{h<g} C_h), x_k = 1 when group g
// takes choice c; optionally K slack bits s_j. With u the parameter unit (default: gcd of all
// parameter counts), p^_k = p_k / u and capacity b^ = floor(budget / u) (budget / u when some
// p_k is not a multiple of u), the energy is
//
//   E(x, s) =  sum_k e_k x_k                                          (objective)
//            + A * sum_g ( sum_c x_gc - 1 )^2                          (one-hot)
//            + B * ( sum_k p^_k x_k + sum_j w_j s_j - b^ )^2           (budget, with slack)
//
// The slack weights are w = 1, 2, 4, ..., 2^(K-2), S - (2^(K-1) - 1) with S = b^ - sum_g
// min_c p^_gc and K = floor(log2 S) + 1, so sum_j w_j s_j takes every integer 0..S exactly
// once the bits are free. Expanding the squares with x^2 = x gives the usual form
//   E = offset + sum_i h_i z_i + sum_{i<j} J_ij z_i z_j   over z = (x, s).
//
// For one-hot x with integer p^, minimising over s eliminates the slack in closed form:
//   min_s E(x, s) = sum_k e_k x_k + B * max(0, sum_k p^_k x_k - b^)^2      (*)
// so a feasible one-hot x has energy equal to its objective and an infeasible one pays
// B * violation^2 (violation >= 1 unit). The annealers (anneal, sqa) search one-hot states
// with moves that switch a group's choice (or two groups' choices at once) and use (*) as
// their energy; QAOA uses either the full QUBO with slack qubits or (*) plus the one-hot
// term on its diagonal.
//
// Automatic weights, with R = sum_g (max_c e_gc - min_c e_gc) and M = max |e_gc|:
//   B = R + tiny  : every one-hot state over budget lies above every feasible one
//   A = R + M + tiny : a state with an empty or doubly-filled group lies above the optimum.
#include "rank/rank_problem.h"

#include <Eigen/Dense>

#include <cstdint>
#include <vector>

namespace qcw {

struct QuboOptions {
    double unit = 0.0;          // parameters per unit; 0 = gcd of all parameter counts
    double onehotWeight = 0.0;  // A; 0 = automatic
    double budgetWeight = 0.0;  // B; 0 = automatic
    bool slack = true;          // add the slack bits; false: x only, and the budget term becomes
                                // the equality penalty B (p^.x - b^)^2 (QAOA instead puts (*) on
                                // its diagonal, see qaoa.cpp)
};

// The scale pieces shared by the QUBO and the annealers' energy (*).
struct PenaltyModel {
    double unit = 1.0;          // u
    double capacity = 0.0;      // b^
    double onehotWeight = 0.0;  // A
    double budgetWeight = 0.0;  // B
    double errorRange = 0.0;    // R
    // B * max(0, params/u - b^)^2
    double budgetPenalty(std::int64_t params) const;
};

PenaltyModel makePenaltyModel(const RankProblem& problem, double unit = 0.0, double onehotWeight = 0.0,
                              double budgetWeight = 0.0);

// gcd of every parameter count (1 when they are all zero).
std::int64_t parameterGcd(const RankProblem& problem);

struct Qubo {
    int numX = 0;                         // one-hot variables, sum_g C_g
    int numSlack = 0;                     // K
    double offset = 0.0;
    Eigen::VectorXd linear;               // h, size numX + numSlack
    Eigen::MatrixXd quadratic;            // J, strictly upper triangular (i < j)
    PenaltyModel penalty;
    std::vector<double> slackWeights;     // w_j
    std::vector<int> groupOf, choiceOf;   // for the x variables

    int size() const { return numX + numSlack; }
    // offset + h.z + sum_{i<j} J_ij z_i z_j; z has size() entries of 0/1.
    double energy(const std::vector<std::uint8_t>& z) const;
    // Same for a basis state: bit i of `state` is z_i.
    double energy(std::uint64_t state) const;
    // Decodes the x part: choice per group, or an empty vector when x is not one-hot.
    std::vector<int> decode(const std::vector<std::uint8_t>& z) const;
    std::vector<std::uint8_t> encode(const std::vector<int>& allocation, std::int64_t slackValue = 0) const;
};

// Throws when the problem is invalid or has more than `maxVariables` variables (the matrix is
// dense: the budget term couples every pair).
Qubo buildQubo(const RankProblem& problem, const QuboOptions& options = {}, int maxVariables = 4096);

// The energy terms evaluated directly from their definitions (for tests and the diagonal):
// objective + A * one-hot violation + B * (p^.x + w.s - b^)^2.
double quboEnergyDirect(const RankProblem& problem, const Qubo& qubo, const std::vector<std::uint8_t>& z);

}  // namespace qcw
