#include "rank/error_curve.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace qcw {

std::vector<double> sortedSpectrum(const std::vector<double>& s) {
    if (s.empty()) fail("spectrum", "empty singular-value spectrum");
    double total = 0.0;
    for (std::size_t k = 0; k < s.size(); ++k) {
        if (!std::isfinite(s[k]) || s[k] < 0.0)
            fail("spectrum", "singular value " + std::to_string(k) + " is " + std::to_string(s[k]) +
                                 ", expected a finite value >= 0");
        total += s[k] * s[k];
    }
    if (!(total > 0.0)) fail("spectrum", "all " + std::to_string(s.size()) + " singular values are zero");
    std::vector<double> out = s;
    if (!std::is_sorted(out.begin(), out.end(), std::greater<double>()))
        std::sort(out.begin(), out.end(), std::greater<double>());
    return out;
}

std::vector<double> discardedWeight(const std::vector<double>& s, const std::vector<int>& ranks) {
    const std::vector<double> v = sortedSpectrum(s);
    // tail[k] = sum_{j >= k} s_j^2, summed from the small end for accuracy
    std::vector<double> tail(v.size() + 1, 0.0);
    for (std::size_t k = v.size(); k-- > 0;) tail[k] = tail[k + 1] + v[k] * v[k];
    const double total = tail[0];
    std::vector<double> out;
    out.reserve(ranks.size());
    for (int r : ranks) {
        if (r < 0) fail("discardedWeight", "rank " + std::to_string(r) + " is negative");
        const std::size_t kept = std::min<std::size_t>(static_cast<std::size_t>(r), v.size());
        out.push_back(tail[kept] / total);
    }
    return out;
}

double discardedWeight(const std::vector<double>& s, int rank) {
    return discardedWeight(s, std::vector<int>{rank}).front();
}

std::int64_t factorParams(int rank, std::int64_t rows, std::int64_t cols) {
    if (rank < 0) fail("factorParams", "rank " + std::to_string(rank) + " is negative");
    if (rows <= 0 || cols <= 0)
        fail("factorParams", "matrix shape " + std::to_string(rows) + "x" + std::to_string(cols) + " is not positive");
    return static_cast<std::int64_t>(rank) * (rows + cols);
}

double entanglementEntropy(const std::vector<double>& s) {
    const std::vector<double> v = sortedSpectrum(s);
    double total = 0.0;
    for (double x : v) total += x * x;
    double S = 0.0;
    for (double x : v) {
        const double p = x * x / total;
        if (p > 0.0) S -= p * std::log(p);
    }
    return S;
}

double effectiveRank(const std::vector<double>& s) { return std::exp(entanglementEntropy(s)); }

std::vector<int> rankGrid(int maxRank, const RankGrid& grid) {
    if (maxRank < 1) fail("rankGrid", "maximum rank " + std::to_string(maxRank) + " is below 1");
    std::vector<int> out;
    if (grid.includeZero) out.push_back(0);
    if (grid.kind == RankGrid::Kind::Multiples) {
        if (grid.step < 1) fail("rankGrid", "step " + std::to_string(grid.step) + " is below 1");
        for (int r = grid.step; r <= maxRank; r += grid.step) out.push_back(r);
    } else {
        if (grid.first < 1) fail("rankGrid", "first rank " + std::to_string(grid.first) + " is below 1");
        if (!(grid.ratio > 1.0)) fail("rankGrid", "ratio " + std::to_string(grid.ratio) + " must exceed 1");
        if (grid.align < 1) fail("rankGrid", "alignment " + std::to_string(grid.align) + " is below 1");
        for (double r = grid.first; r <= maxRank; r *= grid.ratio) {
            int a = static_cast<int>(std::llround(r / grid.align)) * grid.align;
            a = std::max(a, grid.align);
            if (a <= maxRank) out.push_back(a);
        }
    }
    if (grid.includeMax || out.empty() || (out.size() == 1 && out[0] == 0)) out.push_back(maxRank);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

int maxProfitableRank(std::int64_t rows, std::int64_t cols) {
    if (rows <= 0 || cols <= 0)
        fail("maxProfitableRank", "matrix shape " + std::to_string(rows) + "x" + std::to_string(cols) + " is not positive");
    const std::int64_t r = (rows * cols - 1) / (rows + cols);   // largest r with r(m+n) < mn
    return static_cast<int>(std::max<std::int64_t>(r, 0));
}

RankGroup makeRankGroup(const std::string& name, std::int64_t rows, std::int64_t cols,
                        const std::vector<double>& spectrum, const std::vector<int>& ranks,
                        bool includeDense, double weight) {
    if (rows <= 0 || cols <= 0)
        fail(name, "matrix shape " + std::to_string(rows) + "x" + std::to_string(cols) + " is not positive");
    if (!std::isfinite(weight) || weight < 0.0)
        fail(name, "error weight " + std::to_string(weight) + " is not a finite value >= 0");
    const std::int64_t full = std::min(rows, cols);
    if (static_cast<std::int64_t>(spectrum.size()) > full)
        fail(name, "spectrum has " + std::to_string(spectrum.size()) + " values, more than min(" +
                       std::to_string(rows) + ", " + std::to_string(cols) + ")");
    if (ranks.empty() && !includeDense) fail(name, "no candidate ranks");
    RankGroup g;
    g.name = name;
    g.rows = rows;
    g.cols = cols;
    const std::vector<double> err = discardedWeight(spectrum, ranks);
    for (std::size_t i = 0; i < ranks.size(); ++i) {
        if (ranks[i] > full)
            fail(name, "candidate rank " + std::to_string(ranks[i]) + " exceeds min(" + std::to_string(rows) +
                           ", " + std::to_string(cols) + ") = " + std::to_string(full));
        RankChoice c;
        c.rank = ranks[i];
        c.params = factorParams(ranks[i], rows, cols);
        c.error = weight * err[i];
        g.choices.push_back(c);
    }
    if (includeDense) {
        RankChoice c;
        c.rank = static_cast<int>(full);
        c.params = rows * cols;
        c.error = 0.0;
        c.dense = true;
        g.choices.push_back(c);
    }
    return g;
}

}  // namespace qcw
