#include "decompose/decompose.h"

#include "common/error.h"
#include "model/factorized.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <numeric>
#include <tuple>

namespace qcw {

namespace {

std::string shapeOf(const at::Tensor& t) {
    std::string s = "[";
    for (int i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "]";
}

void requireMatrix(const at::Tensor& w, const char* where) {
    if (!w.defined() || w.dim() != 2) fail(where, "expected a 2-D weight matrix, got " + (w.defined() ? shapeOf(w) : std::string("nothing")));
    if (w.numel() == 0) fail(where, "empty matrix");
    if (!at::isfinite(w).all().item<bool>()) fail(where, "the weight matrix contains NaN or Inf");
}

at::ScalarType workType(const at::Tensor& w) { return w.scalar_type() == at::kDouble ? at::kDouble : at::kFloat; }

int chooseRank(const std::vector<double>& s, const TruncateOptions& o, std::int64_t limit) {
    int r = static_cast<int>(limit);
    if (o.cutoff > 0) {
        double total = 0;
        for (double v : s) total += v * v;
        double tail = total;
        r = 0;
        while (r < static_cast<int>(s.size()) && tail / total > o.cutoff) {
            tail -= s[static_cast<std::size_t>(r)] * s[static_cast<std::size_t>(r)];
            ++r;
        }
    }
    if (o.maxRank > 0) r = std::min(r, o.maxRank);
    return std::max(1, std::min<int>(r, static_cast<int>(limit)));
}

std::vector<double> toVector(const at::Tensor& s) {
    auto d = s.to(at::kCPU, at::kDouble).contiguous();
    return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

// Thin SVD of a (work-typed) matrix, exact or randomized to rank `want`.
std::tuple<at::Tensor, at::Tensor, at::Tensor> svdOf(const at::Tensor& a, const TruncateOptions& o, int want) {
    const std::int64_t m = a.size(0), n = a.size(1), k = std::min(m, n);
    if (!o.randomized || want + o.oversample >= k) {
        auto r = at::linalg_svd(a, false);
        return {std::get<0>(r), std::get<1>(r), std::get<2>(r)};
    }
    const std::int64_t l = std::min<std::int64_t>(k, want + o.oversample);
    at::Generator gen = at::detail::createCPUGenerator(o.seed);
    at::Tensor omega = at::randn({n, l}, gen, at::TensorOptions().dtype(a.scalar_type())).to(a.device());
    at::Tensor y = at::matmul(a, omega);
    at::Tensor q = std::get<0>(at::linalg_qr(y, "reduced"));
    for (int i = 0; i < o.powerIterations; ++i) {
        at::Tensor z = std::get<0>(at::linalg_qr(at::matmul(a.t(), q), "reduced"));
        q = std::get<0>(at::linalg_qr(at::matmul(a, z), "reduced"));
    }
    at::Tensor b = at::matmul(q.t(), a);  // [l, n]
    auto r = at::linalg_svd(b, false);
    return {at::matmul(q, std::get<0>(r)), std::get<1>(r), std::get<2>(r)};
}

}  // namespace

std::vector<double> singularValues(const at::Tensor& w) {
    requireMatrix(w, "singularValues");
    return toVector(at::linalg_svdvals(w.to(workType(w))));
}

double relativeError(const at::Tensor& w, const at::Tensor& approx) {
    auto a = w.to(at::kDouble), b = approx.to(at::kDouble);
    return ((a - b).norm() / a.norm()).item<double>();
}

double relativeOutputError(const at::Tensor& w, const at::Tensor& approx, const at::Tensor& xtx) {
    auto g = xtx.to(at::kDouble);
    auto a = w.to(at::kDouble);
    auto d = a - approx.to(at::kDouble);
    const double num = at::matmul(at::matmul(d, g), d.t()).trace().item<double>();
    const double den = at::matmul(at::matmul(a, g), a.t()).trace().item<double>();
    return den > 0 ? num / den : 0.0;
}

LowRankResult truncatedSvd(const at::Tensor& wIn, const TruncateOptions& o) {
    requireMatrix(wIn, "truncatedSvd");
    const std::int64_t k = std::min(wIn.size(0), wIn.size(1));
    if (o.maxRank > k) fail("rank " + std::to_string(o.maxRank), "is above the matrix size " + shapeOf(wIn));
    if (o.maxRank < 0) fail("rank " + std::to_string(o.maxRank), "must be positive");
    at::Tensor w = wIn.to(workType(wIn));
    const int want = o.maxRank > 0 ? o.maxRank : static_cast<int>(k);
    auto [u, s, vh] = svdOf(w, o, want);
    LowRankResult r;
    r.singularValues = s.to(at::kCPU, at::kDouble);
    std::vector<double> sv = toVector(s);
    r.rank = chooseRank(sv, o, static_cast<std::int64_t>(sv.size()));
    auto sq = s.narrow(0, 0, r.rank).sqrt();
    r.left = (u.narrow(1, 0, r.rank) * sq.unsqueeze(0)).to(wIn.scalar_type());
    r.right = (sq.unsqueeze(1) * vh.narrow(0, 0, r.rank)).to(wIn.scalar_type());
    if (o.randomized && static_cast<std::int64_t>(sv.size()) < k) {
        const double total = at::sum(w.square(), at::kDouble).item<double>();
        double kept = 0;
        for (int i = 0; i < r.rank; ++i) kept += sv[static_cast<std::size_t>(i)] * sv[static_cast<std::size_t>(i)];
        r.discardedWeight = total > 0 ? std::max(0.0, (total - kept) / total) : 0.0;
    } else {
        double total = 0, tail = 0;
        for (std::size_t i = 0; i < sv.size(); ++i) {
            total += sv[i] * sv[i];
            if (static_cast<int>(i) >= r.rank) tail += sv[i] * sv[i];
        }
        r.discardedWeight = total > 0 ? tail / total : 0.0;
    }
    return r;
}

LowRankResult whitenedSvd(const at::Tensor& wIn, const at::Tensor& xtxIn, const TruncateOptions& o) {
    requireMatrix(wIn, "whitenedSvd");
    const std::int64_t n = wIn.size(1);
    if (!xtxIn.defined() || xtxIn.dim() != 2 || xtxIn.size(0) != n || xtxIn.size(1) != n)
        fail("whitenedSvd", "calibration statistics must be [" + std::to_string(n) + ", " + std::to_string(n) + "], got " +
                                (xtxIn.defined() ? shapeOf(xtxIn) : std::string("nothing")));
    const std::int64_t k = std::min(wIn.size(0), n);
    if (o.maxRank > k) fail("rank " + std::to_string(o.maxRank), "is above the matrix size " + shapeOf(wIn));
    at::Tensor g = xtxIn.to(at::kDouble);
    g = 0.5 * (g + g.t());
    at::Tensor w = wIn.to(at::kDouble);
    std::string how = "cholesky";
    const double meanDiag = g.diagonal().mean().item<double>();
    if (!(meanDiag > 0)) fail("whitenedSvd", "calibration statistics are zero (no calibration tokens reached this layer)");
    at::Tensor l, info;
    std::tie(l, info) = at::linalg_cholesky_ex(g, false, false);
    double damp = 1e-6 * meanDiag;
    for (int tries = 0; info.item<int>() != 0 && tries < 6; ++tries, damp *= 10) {
        how = "cholesky+damping";
        std::tie(l, info) = at::linalg_cholesky_ex(g + damp * at::eye(n, g.options()), false, false);
    }
    at::Tensor linvApply;  // maps B_white -> B_white L^{-1}
    at::Tensor wl;
    bool eigen = info.item<int>() != 0;
    at::Tensor q, lam;
    if (eigen) {
        how = "eigen";
        std::tie(lam, q) = at::linalg_eigh(g, "L");
        lam = lam.clamp_min(1e-10 * meanDiag);
        l = q * lam.sqrt().unsqueeze(0);  // G ~= l l^T, l^{-1} = diag(lam^-1/2) q^T
    }
    wl = at::matmul(w, l);
    auto [u, s, vh] = svdOf(wl, o, o.maxRank > 0 ? o.maxRank : static_cast<int>(k));
    std::vector<double> sv = toVector(s);
    LowRankResult r;
    r.whitening = how;
    r.singularValues = s.to(at::kCPU, at::kDouble);
    r.rank = chooseRank(sv, o, static_cast<std::int64_t>(sv.size()));
    auto sq = s.narrow(0, 0, r.rank).sqrt();
    at::Tensor left = u.narrow(1, 0, r.rank) * sq.unsqueeze(0);
    at::Tensor rightWhite = sq.unsqueeze(1) * vh.narrow(0, 0, r.rank);  // [r, n]
    at::Tensor right;
    if (eigen) right = at::matmul(rightWhite * lam.rsqrt().unsqueeze(0), q.t());
    else right = at::linalg_solve_triangular(l, rightWhite, /*upper=*/false, /*left=*/false, /*unitriangular=*/false);
    double total = 0, tail = 0;
    for (std::size_t i = 0; i < sv.size(); ++i) {
        total += sv[i] * sv[i];
        if (static_cast<int>(i) >= r.rank) tail += sv[i] * sv[i];
    }
    r.discardedWeight = total > 0 ? tail / total : 0.0;
    r.left = left.to(wIn.scalar_type());
    r.right = right.to(wIn.scalar_type());
    return r;
}

// ---------------------------------------------------------------------------------------------
// Tucker-2 by HOOI

namespace {
at::Tensor leadingEigenvectors(const at::Tensor& gram, int r) {
    auto [vals, vecs] = at::linalg_eigh(gram, "L");
    return vecs.narrow(1, gram.size(0) - r, r).flip({1});
}
}  // namespace

TuckerResult tuckerStack(const std::vector<at::Tensor>& mats, const TuckerOptions& o) {
    if (mats.empty()) fail("tucker", "no matrices to decompose");
    for (const auto& m : mats) {
        requireMatrix(m, "tucker");
        if (m.sizes() != mats[0].sizes())
            fail("tucker", "all matrices of a stack must have one shape; got " + shapeOf(mats[0]) + " and " + shapeOf(m));
    }
    const std::int64_t m = mats[0].size(0), n = mats[0].size(1);
    if (o.rankOut <= 0 || o.rankOut > m) fail("tucker rankOut " + std::to_string(o.rankOut), "must be in [1, " + std::to_string(m) + "]");
    if (o.rankIn <= 0 || o.rankIn > n) fail("tucker rankIn " + std::to_string(o.rankIn), "must be in [1, " + std::to_string(n) + "]");
    const bool compressOut = o.rankOut < m;
    std::vector<at::Tensor> w;
    for (const auto& x : mats) w.push_back(x.to(at::kDouble));
    // Optional whitening of the input mode: work on W_l L, un-whiten the input basis at the end.
    at::Tensor l, linv;
    if (o.xtx.defined()) {
        at::Tensor g = o.xtx.to(at::kDouble);
        g = 0.5 * (g + g.t());
        auto [lam, q] = at::linalg_eigh(g, "L");
        lam = lam.clamp_min(1e-10 * std::max(1e-30, lam.max().item<double>()));
        l = q * lam.sqrt().unsqueeze(0);
        linv = lam.rsqrt().unsqueeze(1) * q.t();  // l^{-1}
        for (auto& x : w) x = at::matmul(x, l);
    }
    double total = 0;
    for (const auto& x : w) total += x.pow(2).sum().item<double>();

    auto gramIn = [&](const at::Tensor& uOut) {
        at::Tensor g = at::zeros({n, n}, w[0].options());
        for (const auto& x : w) {
            at::Tensor y = uOut.defined() ? at::matmul(uOut.t(), x) : x;
            g += at::matmul(y.t(), y);
        }
        return g;
    };
    auto gramOut = [&](const at::Tensor& uIn) {
        at::Tensor g = at::zeros({m, m}, w[0].options());
        for (const auto& x : w) {
            at::Tensor y = at::matmul(x, uIn);
            g += at::matmul(y, y.t());
        }
        return g;
    };
    // The residual is formed explicitly (not as total - kept, whose rounding noise would
    // dominate near-exact fits).
    auto errorOf = [&](const at::Tensor& uOut, const at::Tensor& uIn) {
        double resid = 0;
        for (const auto& x : w) {
            at::Tensor approx = at::matmul(at::matmul(x, uIn), uIn.t());
            if (uOut.defined()) approx = at::matmul(uOut, at::matmul(uOut.t(), approx));
            resid += (x - approx).pow(2).sum().item<double>();
        }
        return total > 0 ? std::sqrt(resid / total) : 0.0;
    };

    // Truncated HOSVD start: leading singular vectors of each mode's unfolding.
    at::Tensor uIn = leadingEigenvectors(gramIn({}), o.rankIn);
    at::Tensor uOut;
    if (compressOut) {
        at::Tensor g = at::zeros({m, m}, w[0].options());
        for (const auto& x : w) g += at::matmul(x, x.t());
        uOut = leadingEigenvectors(g, o.rankOut);
    }
    TuckerResult r;
    r.hosvdRelError = errorOf(uOut, uIn);
    double err = r.hosvdRelError;
    r.errorHistory.push_back(err);
    if (compressOut) {
        for (int it = 0; it < o.maxIterations; ++it) {
            at::Tensor newOut = leadingEigenvectors(gramOut(uIn), o.rankOut);
            at::Tensor newIn = leadingEigenvectors(gramIn(newOut), o.rankIn);
            const double e = errorOf(newOut, newIn);
            ++r.iterations;
            if (e <= err) {  // HOOI is monotone up to rounding; never accept a worse sweep
                uOut = newOut;
                uIn = newIn;
                const double gain = err - e;
                err = e;
                r.errorHistory.push_back(e);
                if (gain < o.tolerance) break;
            } else {
                break;
            }
        }
    }
    // With the output side uncompressed the optimum for a fixed input basis is reached at once.
    std::vector<at::Tensor> cores;
    for (const auto& x : w) {
        at::Tensor c = at::matmul(x, uIn);
        if (uOut.defined()) c = at::matmul(uOut.t(), c);
        cores.push_back(c);
    }
    r.relError = err;
    r.core = at::stack(cores, 0).to(mats[0].scalar_type());
    r.outBasis = uOut.defined() ? uOut.to(mats[0].scalar_type()) : at::Tensor();
    // W_l L ~= U_out G U_in^T  =>  W_l ~= U_out G (L^{-T} U_in)^T... precisely: U_in^T L^{-1}.
    at::Tensor inB = linv.defined() ? at::matmul(uIn.t(), linv).t() : uIn;
    r.inBasis = inB.contiguous().to(mats[0].scalar_type());
    return r;
}

at::Tensor tuckerReconstruct(const TuckerResult& t, std::size_t index) {
    at::Tensor g = t.core.select(0, static_cast<std::int64_t>(index));
    at::Tensor w = at::matmul(g, t.inBasis.t());
    return t.outBasis.defined() ? at::matmul(t.outBasis, w) : w;
}

// ---------------------------------------------------------------------------------------------
// Tensor train

std::vector<std::int64_t> balancedFactors(std::int64_t n, int parts) {
    if (n <= 0 || parts <= 0) fail("balancedFactors", "needs a positive size and number of parts");
    std::vector<std::int64_t> primes;
    std::int64_t x = n;
    for (std::int64_t p = 2; p * p <= x; ++p)
        while (x % p == 0) {
            primes.push_back(p);
            x /= p;
        }
    if (x > 1) primes.push_back(x);
    std::vector<std::int64_t> f(static_cast<std::size_t>(parts), 1);
    // Largest primes first, each onto the currently smallest factor.
    std::sort(primes.rbegin(), primes.rend());
    for (auto p : primes) *std::min_element(f.begin(), f.end()) *= p;
    std::sort(f.begin(), f.end());
    return f;
}

std::int64_t TTResult::parameterCount() const {
    std::int64_t n = 0;
    for (const auto& c : cores) n += c.numel();
    return n;
}

TTResult ttSvd(const at::Tensor& wIn, const TTOptions& o) {
    requireMatrix(wIn, "ttSvd");
    const std::int64_t m = wIn.size(0), n = wIn.size(1);
    TTResult r;
    const int d = o.rowFactors.empty() ? o.cores : static_cast<int>(o.rowFactors.size());
    if (d < 2) fail("tt cores " + std::to_string(d), "a tensor train needs at least 2 cores");
    r.rowFactors = o.rowFactors.empty() ? balancedFactors(m, d) : o.rowFactors;
    r.colFactors = o.colFactors.empty() ? balancedFactors(n, d) : o.colFactors;
    if (r.colFactors.size() != r.rowFactors.size()) fail("ttSvd", "row and column factor lists differ in length");
    auto prod = [](const std::vector<std::int64_t>& v) { return std::accumulate(v.begin(), v.end(), std::int64_t(1), std::multiplies<>()); };
    if (prod(r.rowFactors) != m || prod(r.colFactors) != n)
        fail("ttSvd", "factors do not multiply to the matrix shape " + shapeOf(wIn));
    if (o.maxBond < 0) fail("tt bond " + std::to_string(o.maxBond), "must not be negative");
    at::Tensor w = wIn.to(workType(wIn));
    // [m1..md, n1..nd] -> [m1, n1, m2, n2, ...]
    std::vector<std::int64_t> shape(r.rowFactors);
    shape.insert(shape.end(), r.colFactors.begin(), r.colFactors.end());
    std::vector<std::int64_t> perm;
    for (int k = 0; k < d; ++k) {
        perm.push_back(k);
        perm.push_back(d + k);
    }
    at::Tensor c = w.reshape(shape).permute(perm).contiguous();
    const double normSq = w.to(at::kDouble).pow(2).sum().item<double>();
    double discardedSq = 0;
    std::int64_t rPrev = 1;
    r.bonds.push_back(1);
    for (int k = 0; k < d - 1; ++k) {
        const std::int64_t mk = r.rowFactors[static_cast<std::size_t>(k)], nk = r.colFactors[static_cast<std::size_t>(k)];
        at::Tensor mat = c.reshape({rPrev * mk * nk, -1});
        auto svd = at::linalg_svd(mat, false);
        at::Tensor u = std::get<0>(svd), s = std::get<1>(svd), vh = std::get<2>(svd);
        std::vector<double> sv = toVector(s);
        int keep = static_cast<int>(sv.size());
        if (o.cutoff > 0) {
            double total = 0;
            for (double v : sv) total += v * v;
            double tail = 0;
            keep = static_cast<int>(sv.size());
            while (keep > 1) {
                const double v = sv[static_cast<std::size_t>(keep - 1)];
                if ((tail + v * v) / total > o.cutoff) break;
                tail += v * v;
                --keep;
            }
        }
        if (o.maxBond > 0) keep = std::min(keep, o.maxBond);
        keep = std::max(1, keep);
        for (std::size_t i = static_cast<std::size_t>(keep); i < sv.size(); ++i) discardedSq += sv[i] * sv[i];
        r.cores.push_back(u.narrow(1, 0, keep).reshape({rPrev, mk, nk, keep}).to(wIn.scalar_type()));
        c = s.narrow(0, 0, keep).unsqueeze(1) * vh.narrow(0, 0, keep);
        rPrev = keep;
        r.bonds.push_back(keep);
    }
    r.cores.push_back(c.reshape({rPrev, r.rowFactors.back(), r.colFactors.back(), 1}).to(wIn.scalar_type()));
    r.bonds.push_back(1);
    r.errorBound = normSq > 0 ? std::sqrt(discardedSq / normSq) : 0.0;
    r.relError = relativeError(wIn, ttReconstruct(r));
    return r;
}

at::Tensor ttReconstruct(const TTResult& tt) { return ttDense(tt.cores); }

}  // namespace qcw
