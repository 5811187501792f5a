#pragma once
// Spectral diagnostics of one weight matrix from its singular values (plain std, no torch):
// the quantum-inspired reading (Schmidt coefficients p_k = s_k^2 / sum s^2 of the matrix as a
// bipartite state: entanglement entropy, effective rank, discarded weight) and the heavy-tail
// metrics of WeightWatcher (power-law alpha of the eigenvalue spectrum, Marchenko-Pastur bulk
// edge, number of spikes).
#include <cstdint>
#include <vector>

namespace qcw {

struct SpectralStats {
    std::int64_t rows = 0, cols = 0;
    double frobeniusSq = 0;       // sum s^2
    double entropy = 0;           // S = -sum p ln p (nats)
    double effectiveRank = 0;     // exp(S)
    double stableRank = 0;        // sum s^2 / s_max^2
    double alpha = 0;             // power-law exponent of the ESD tail (Clauset MLE), 0 if not fitted
    double alphaXmin = 0;         // eigenvalue where the fitted tail starts
    double mpBulkEdge = 0;        // Marchenko-Pastur lambda_+ for the ESD of W^T W / rows
    int spikes = 0;               // eigenvalues above the bulk edge
    double mpSigma2 = 0;          // element variance used for the edge
};

// `s`: singular values in any order (sorted descending internally).
SpectralStats spectralStats(std::vector<double> s, std::int64_t rows, std::int64_t cols);

// sum_{k>=r} s_k^2 / sum s^2 for r = 0..len (s sorted descending): the truncation error of a
// rank-r approximation as a fraction of the squared Frobenius norm (DMRG's discarded weight).
std::vector<double> discardedWeights(const std::vector<double>& sDescending);

// Smallest rank whose discarded weight is at most `cutoff`.
int rankForCutoff(const std::vector<double>& sDescending, double cutoff);

}  // namespace qcw
