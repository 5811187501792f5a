#pragma once
// Decompositions as pure functions returning result structs (tensorly's habit): truncated SVD
// (exact and randomized), activation-aware ("whitened") SVD, Tucker by HOOI on stacks of
// matrices, and tensor-train (MPO) by TT-SVD. Every truncation says what it discarded.
// Internal to core (torch types).
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace qcw {

struct TruncateOptions {
    int maxRank = 0;            // 0: no limit
    double cutoff = 0;          // keep the smallest rank whose discarded weight is <= cutoff
    bool randomized = false;    // Halko-Martinsson-Tropp randomized range finder
    int oversample = 10;
    int powerIterations = 2;
    std::uint64_t seed = 0;

    TruncateOptions& rank(int r) { maxRank = r; return *this; }
    TruncateOptions& withCutoff(double c) { cutoff = c; return *this; }
    TruncateOptions& useRandomized(bool on = true) { randomized = on; return *this; }
    TruncateOptions& withSeed(std::uint64_t s) { seed = s; return *this; }
    TruncateOptions& powerIters(int n) { powerIterations = n; return *this; }
};

// W ~= left * right, left [m, r], right [r, n], singular values split evenly between them.
struct LowRankResult {
    at::Tensor left, right;
    at::Tensor singularValues;      // all singular values computed (descending), float64 on CPU
    int rank = 0;
    double discardedWeight = 0;     // ||W - left right||_F^2 / ||W||_F^2 (whitened norm when whitened)
    std::string whitening;          // "", "cholesky", "cholesky+damping", "eigen"
};

LowRankResult truncatedSvd(const at::Tensor& w, const TruncateOptions& opts);

// SVD-LLM: with X^T X of the layer's calibration inputs = L L^T, truncates W L so that the
// layer's output error (not the weight error) is minimal; right = S^{1/2} V^T L^{-1}. When the
// Cholesky factor fails, damping is added, and as a last resort an eigendecomposition with
// clamped eigenvalues is used; `whitening` says which.
LowRankResult whitenedSvd(const at::Tensor& w, const at::Tensor& xtx, const TruncateOptions& opts);

// Relative output error ||(W - W') X^T||_F^2 / ||W X^T||_F^2 = tr(D G D^T) / tr(W G W^T), G = X^T X.
double relativeOutputError(const at::Tensor& w, const at::Tensor& approx, const at::Tensor& xtx);
double relativeError(const at::Tensor& w, const at::Tensor& approx);  // ||W - W'||_F / ||W||_F

// Tucker-2 of a stack of equally shaped matrices W_l [m, n] (a 3-way tensor [L, m, n]) with
// shared bases: W_l ~= U_out G_l U_in^T. rankOut == m keeps the output side uncompressed
// (identity basis, `outBasis` undefined): only the input basis is shared.
struct TuckerOptions {
    int rankOut = 0, rankIn = 0;
    int maxIterations = 20;
    double tolerance = 1e-7;          // stop when the relative error improves less than this
    at::Tensor xtx;                   // optional: whiten the input mode with calibration statistics

    TuckerOptions& ranks(int out, int in) { rankOut = out; rankIn = in; return *this; }
    TuckerOptions& iterations(int n) { maxIterations = n; return *this; }
};

struct TuckerResult {
    at::Tensor core;                  // [L, rOut, rIn]
    at::Tensor outBasis;              // [m, rOut] orthonormal, or undefined (identity)
    at::Tensor inBasis;               // [n, rIn]: W_l ~= U_out G_l inBasis^T (already un-whitened)
    double relError = 0;              // sqrt(sum ||W_l - W_l'||^2 / sum ||W_l||^2) in the (whitened) norm
    double hosvdRelError = 0;         // the same for the truncated-HOSVD start
    std::vector<double> errorHistory; // per HOOI sweep
    int iterations = 0;
};

TuckerResult tuckerStack(const std::vector<at::Tensor>& mats, const TuckerOptions& opts);
at::Tensor tuckerReconstruct(const TuckerResult& t, std::size_t index);

// Tensor train / MPO of a matrix: W [m, n] with m = prod rowFactors, n = prod colFactors,
// cores G_k [r_{k-1}, m_k, n_k, r_k], bond dimensions at most maxBond.
struct TTOptions {
    std::vector<std::int64_t> rowFactors, colFactors;  // empty: balanced automatic factors
    int cores = 3;
    int maxBond = 0;                                   // 0: exact
    double cutoff = 0;                                 // per-bond discarded weight
    TTOptions& bond(int chi) { maxBond = chi; return *this; }
    TTOptions& numCores(int d) { cores = d; return *this; }
};

struct TTResult {
    std::vector<at::Tensor> cores;
    std::vector<std::int64_t> rowFactors, colFactors, bonds;  // bonds: r_0 .. r_d
    double relError = 0;                 // ||W - W_tt||_F / ||W||_F
    double errorBound = 0;               // sqrt(sum of per-step discarded squared norms) / ||W||_F
    std::int64_t parameterCount() const;
};

// Splits n into `parts` integer factors as equal as possible (product exactly n).
std::vector<std::int64_t> balancedFactors(std::int64_t n, int parts);
TTResult ttSvd(const at::Tensor& w, const TTOptions& opts);
at::Tensor ttReconstruct(const TTResult& tt);

// Singular values of W (descending, float64 on CPU), for spectra and error curves.
std::vector<double> singularValues(const at::Tensor& w);

}  // namespace qcw
