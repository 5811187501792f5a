#pragma once
// From a singular-value spectrum (plain std::vector<double>, no torch) to rank candidates:
// discarded weight at candidate ranks, entanglement entropy / effective rank, rank grids,
// and the RankGroup a solver takes.
#include "rank/rank_problem.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcw {

// Validates (finite, >= 0, not all zero) and returns the spectrum sorted descending.
std::vector<double> sortedSpectrum(const std::vector<double>& s);

// Discarded weight of keeping the r largest values: sum_{k>r} s_k^2 / sum_k s_k^2, for each
// rank in `ranks` (r >= len gives 0, r = 0 gives 1).
std::vector<double> discardedWeight(const std::vector<double>& s, const std::vector<int>& ranks);
double discardedWeight(const std::vector<double>& s, int rank);

// Parameters of a rank-r two-factor factorisation of an m x n matrix: r (m + n).
std::int64_t factorParams(int rank, std::int64_t rows, std::int64_t cols);

// S = -sum p_k ln p_k with p_k = s_k^2 / sum s^2 (natural log), and exp(S).
double entanglementEntropy(const std::vector<double>& s);
double effectiveRank(const std::vector<double>& s);

// Candidate ranks up to maxRank, ascending and unique.
struct RankGrid {
    enum class Kind { Multiples, Geometric };
    Kind kind = Kind::Multiples;
    int step = 32;              // Multiples: step, 2 step, ... (<= maxRank)
    int first = 8;              // Geometric: first, first*ratio, ... rounded to `align`
    double ratio = 1.5;
    int align = 8;
    bool includeZero = false;   // add rank 0 (drop the matrix: error 1, params 0)
    bool includeMax = false;    // add maxRank itself

    static RankGrid multiples(int step) { RankGrid g; g.kind = Kind::Multiples; g.step = step; return g; }
    static RankGrid geometric(int first, double ratio, int align = 8) {
        RankGrid g; g.kind = Kind::Geometric; g.first = first; g.ratio = ratio; g.align = align; return g;
    }
};
std::vector<int> rankGrid(int maxRank, const RankGrid& grid);

// Largest rank whose factorisation is smaller than the dense matrix: r (m+n) < m n.
int maxProfitableRank(std::int64_t rows, std::int64_t cols);

// A group from a spectrum: one choice per rank (params r(m+n), error weight * discarded
// weight), plus a dense choice (params m n, error 0) when `includeDense`.
RankGroup makeRankGroup(const std::string& name, std::int64_t rows, std::int64_t cols,
                        const std::vector<double>& spectrum, const std::vector<int>& ranks,
                        bool includeDense = true, double weight = 1.0);

}  // namespace qcw
