#include "decompose/spectra_stats.h"

#include "rank/error_curve.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>

namespace qcw {

std::vector<double> discardedWeights(const std::vector<double>& s) {
    double total = 0;
    for (double v : s) total += v * v;
    if (total <= 0) return std::vector<double>(s.size() + 1, 0.0);
    std::vector<int> ranks(s.size() + 1);
    for (std::size_t r = 0; r < ranks.size(); ++r) ranks[r] = static_cast<int>(r);
    return discardedWeight(s, ranks);  // rank/error_curve.h
}

int rankForCutoff(const std::vector<double>& s, double cutoff) {
    const auto d = discardedWeights(s);
    for (std::size_t r = 0; r < d.size(); ++r)
        if (d[r] <= cutoff) return static_cast<int>(r);
    return static_cast<int>(s.size());
}

namespace {

// Clauset-Shalizi-Newman: continuous power-law MLE alpha = 1 + n / sum ln(x/xmin), with xmin
// chosen to minimise the Kolmogorov-Smirnov distance of the tail.
void fitPowerLaw(const std::vector<double>& eigAscending, double& alpha, double& xmin) {
    alpha = 0;
    xmin = 0;
    const std::size_t n = eigAscending.size();
    if (n < 10) return;
    double bestD = 1e300;
    // Candidate xmin: every eigenvalue up to the one leaving at least 5 points in the tail;
    // subsampled to at most 200 candidates to stay linear-ish on 8192-wide spectra.
    const std::size_t last = n - 5;
    const std::size_t step = std::max<std::size_t>(1, last / 200);
    for (std::size_t i = 0; i < last; i += step) {
        const double xm = eigAscending[i];
        if (xm <= 0) continue;
        const std::size_t m = n - i;
        double sumLog = 0;
        for (std::size_t j = i; j < n; ++j) sumLog += std::log(eigAscending[j] / xm);
        if (sumLog <= 0) continue;
        const double a = 1.0 + double(m) / sumLog;
        double d = 0;
        for (std::size_t j = i; j < n; ++j) {
            const double empirical = double(j - i) / double(m);
            const double model = 1.0 - std::pow(eigAscending[j] / xm, 1.0 - a);
            d = std::max(d, std::fabs(empirical - model));
        }
        if (d < bestD) {
            bestD = d;
            alpha = a;
            xmin = xm;
        }
    }
}

}  // namespace

SpectralStats spectralStats(std::vector<double> s, std::int64_t rows, std::int64_t cols) {
    SpectralStats st;
    st.rows = rows;
    st.cols = cols;
    std::sort(s.begin(), s.end(), std::greater<double>());
    for (double v : s) st.frobeniusSq += v * v;
    if (s.empty() || st.frobeniusSq <= 0) return st;
    st.entropy = entanglementEntropy(s);  // rank/error_curve.h
    st.effectiveRank = std::exp(st.entropy);
    st.stableRank = st.frobeniusSq / (s[0] * s[0]);

    // Eigenvalues of the correlation matrix X = W^T W / N with N the larger dimension.
    const double N = double(std::max(rows, cols)), M = double(std::min(rows, cols));
    std::vector<double> eig;
    eig.reserve(s.size());
    for (auto it = s.rbegin(); it != s.rend(); ++it) eig.push_back((*it) * (*it) / N);
    fitPowerLaw(eig, st.alpha, st.alphaXmin);
    // Marchenko-Pastur: for i.i.d. entries of variance sigma^2 the ESD lives below
    // lambda_+ = sigma^2 (1 + sqrt(Q))^2, Q = M / N. sigma^2 is estimated from the bulk as the
    // median eigenvalue over the MP median for this Q (robust to the spikes), computed by
    // integrating the MP density numerically.
    const double q = M / N;
    const double lo = (1 - std::sqrt(q)) * (1 - std::sqrt(q)), hi = (1 + std::sqrt(q)) * (1 + std::sqrt(q));
    const int steps = 4000;
    double mass = 0, median = hi;
    std::vector<double> cdf(steps + 1, 0.0);
    auto density = [&](double x) {
        if (x <= lo || x >= hi) return 0.0;
        return std::sqrt((hi - x) * (x - lo)) / (2 * M_PI * q * x);
    };
    const double dx = (hi - lo) / steps;
    for (int i = 1; i <= steps; ++i) {
        mass += 0.5 * (density(lo + (i - 1) * dx) + density(lo + i * dx)) * dx;
        cdf[static_cast<std::size_t>(i)] = mass;
    }
    for (int i = 0; i <= steps; ++i)
        if (cdf[static_cast<std::size_t>(i)] >= 0.5 * mass) {
            median = lo + i * dx;
            break;
        }
    const double eigMedian = eig[eig.size() / 2];
    st.mpSigma2 = median > 0 ? eigMedian / median : 0;
    st.mpBulkEdge = st.mpSigma2 * hi;
    for (double e : eig) st.spikes += e > st.mpBulkEdge ? 1 : 0;
    return st;
}

}  // namespace qcw
