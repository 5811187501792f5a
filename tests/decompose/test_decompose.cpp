// Decompositions against known answers: exact recovery at full rank, SVD error equal to the
// discarded singular values, HOOI never above its HOSVD start, TT-SVD within its bound,
// whitening lowering the output error on correlated inputs, spectra of known matrices.
#include "common/error.h"
#include "decompose/decompose.h"
#include "decompose/spectra_stats.h"
#include "model/factorized.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <QtTest>

#include "../common/test_support.h"

#include <cmath>

using namespace qcw;
using qcw::test::errorOf;

namespace {

at::Generator gen(std::uint64_t seed) { return at::detail::createCPUGenerator(seed); }

// A matrix with prescribed singular values: U diag(s) V^T with random orthonormal U, V.
at::Tensor withSpectrum(std::int64_t m, std::int64_t n, const at::Tensor& s, std::uint64_t seed) {
    auto g = gen(seed);
    auto opts = at::TensorOptions().dtype(at::kDouble);
    auto u = std::get<0>(at::linalg_qr(at::randn({m, s.size(0)}, g, opts), "reduced"));
    auto v = std::get<0>(at::linalg_qr(at::randn({n, s.size(0)}, g, opts), "reduced"));
    return at::matmul(u * s.to(at::kDouble).unsqueeze(0), v.t());
}


}  // namespace

class TestDecompose : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { at::set_num_threads(2); }

    void svdExactAtFullRankAndErrorEqualsDiscarded() {
        auto s = at::pow(at::arange(1, 41, at::kDouble), -1.0);
        at::Tensor w = withSpectrum(60, 40, s, 1);
        auto full = truncatedSvd(w, TruncateOptions());
        QCOMPARE(full.rank, 40);
        QVERIFY(relativeError(w, at::matmul(full.left, full.right)) < 1e-10);
        for (int r : {1, 5, 17, 39}) {
            auto t = truncatedSvd(w, TruncateOptions().rank(r));
            const double err2 = std::pow(relativeError(w, at::matmul(t.left, t.right)), 2);
            const double expected = (s.narrow(0, r, 40 - r).pow(2).sum() / s.pow(2).sum()).item<double>();
            QVERIFY2(std::fabs(err2 - expected) < 1e-10, qPrintable(QString("r=%1 %2 vs %3").arg(r).arg(err2).arg(expected)));
            QVERIFY(std::fabs(t.discardedWeight - expected) < 1e-10);
        }
        // The cutoff picks the smallest rank meeting it.
        auto c = truncatedSvd(w, TruncateOptions().withCutoff(0.05));
        QVERIFY(c.discardedWeight <= 0.05);
        QVERIFY(truncatedSvd(w, TruncateOptions().rank(c.rank - 1)).discardedWeight > 0.05);
    }

    void randomizedSvdIsCloseOnDecayingSpectra() {
        auto s = at::pow(at::arange(1, 201, at::kDouble), -1.5);
        at::Tensor w = withSpectrum(300, 200, s, 2).to(at::kFloat);
        auto exact = truncatedSvd(w, TruncateOptions().rank(20));
        auto fast = truncatedSvd(w, TruncateOptions().rank(20).useRandomized().withSeed(3));
        const double e1 = relativeError(w, at::matmul(exact.left, exact.right));
        const double e2 = relativeError(w, at::matmul(fast.left, fast.right));
        QVERIFY2(e2 <= e1 * 1.02 + 1e-6, qPrintable(QString("%1 vs %2").arg(e2).arg(e1)));
        // Same seed, same factors.
        auto again = truncatedSvd(w, TruncateOptions().rank(20).useRandomized().withSeed(3));
        QVERIFY(at::equal(again.left, fast.left));
    }

    void whiteningLowersOutputErrorOnCorrelatedInputs() {
        auto g = gen(5);
        auto opts = at::TensorOptions().dtype(at::kDouble);
        const std::int64_t n = 48, m = 64, tokens = 2000;
        // Strongly correlated inputs: a few directions carry most of the energy.
        at::Tensor mix = at::randn({n, n}, g, opts) * at::pow(at::arange(1, n + 1, opts), -1.2).unsqueeze(0);
        at::Tensor x = at::matmul(at::randn({tokens, n}, g, opts), mix.t());
        at::Tensor xtx = at::matmul(x.t(), x);
        at::Tensor w = at::randn({m, n}, g, opts);
        for (int r : {4, 8, 16}) {
            auto plain = truncatedSvd(w, TruncateOptions().rank(r));
            auto white = whitenedSvd(w, xtx, TruncateOptions().rank(r));
            QCOMPARE(white.whitening, std::string("cholesky"));
            const double ep = relativeOutputError(w, at::matmul(plain.left, plain.right), xtx);
            const double ew = relativeOutputError(w, at::matmul(white.left, white.right), xtx);
            QVERIFY2(ew < ep, qPrintable(QString("r=%1 whitened %2 plain %3").arg(r).arg(ew).arg(ep)));
            // The whitened discarded weight is exactly the output error.
            QVERIFY(std::fabs(white.discardedWeight - ew) < 1e-8);
        }
        // Rank-deficient statistics (fewer tokens than features): the fallback still works.
        at::Tensor few = x.narrow(0, 0, 10);
        auto fb = whitenedSvd(w, at::matmul(few.t(), few), TruncateOptions().rank(8));
        QVERIFY(fb.whitening != "cholesky");
        QVERIFY(at::isfinite(fb.right).all().item<bool>());
    }

    void hooiNeverAboveHosvdAndExactAtFullRank() {
        for (std::uint64_t seed = 0; seed < 4; ++seed) {
            auto g = gen(10 + seed);
            std::vector<at::Tensor> mats;
            at::Tensor shared = at::randn({24, 30}, g, at::kDouble);
            for (int i = 0; i < 3; ++i) mats.push_back(shared + 0.3 * at::randn({24, 30}, g, at::kDouble));
            auto t = tuckerStack(mats, TuckerOptions().ranks(10, 12));
            QVERIFY2(t.relError <= t.hosvdRelError + 1e-12, qPrintable(QString("%1 > %2").arg(t.relError).arg(t.hosvdRelError)));
            for (std::size_t i = 1; i < t.errorHistory.size(); ++i) QVERIFY(t.errorHistory[i] <= t.errorHistory[i - 1] + 1e-12);
            // The reported error is the reconstruction error.
            double num = 0, den = 0;
            for (std::size_t i = 0; i < mats.size(); ++i) {
                num += (mats[i] - tuckerReconstruct(t, i)).pow(2).sum().item<double>();
                den += mats[i].pow(2).sum().item<double>();
            }
            QVERIFY(std::fabs(std::sqrt(num / den) - t.relError) < 1e-9);
        }
        auto g = gen(3);
        std::vector<at::Tensor> mats = {at::randn({8, 6}, g, at::kDouble), at::randn({8, 6}, g, at::kDouble)};
        auto full = tuckerStack(mats, TuckerOptions().ranks(8, 6));
        QVERIFY(full.relError < 1e-10);
        QVERIFY(relativeError(mats[1], tuckerReconstruct(full, 1)) < 1e-10);
        QVERIFY(errorOf([&] { tuckerStack(mats, TuckerOptions().ranks(9, 6)); }).contains("rankOut 9"));
    }

    void ttWithinBoundExactAtFullBondAndAppliedInFactoredForm() {
        auto g = gen(4);
        at::Tensor w = at::randn({24, 30}, g, at::kDouble);
        auto exact = ttSvd(w, TTOptions().numCores(3));
        QVERIFY(exact.relError < 1e-10);
        QCOMPARE(exact.rowFactors, (std::vector<std::int64_t>{2, 3, 4}));
        for (int chi : {1, 2, 4, 8}) {
            auto tt = ttSvd(w, TTOptions().numCores(3).bond(chi));
            QVERIFY2(tt.relError <= tt.errorBound + 1e-10, qPrintable(QString("chi=%1 %2 > %3").arg(chi).arg(tt.relError).arg(tt.errorBound)));
            for (auto b : tt.bonds) QVERIFY(b <= chi);
        }
        auto tt = ttSvd(w, TTOptions().numCores(3).bond(4));
        at::Tensor x = at::randn({5, 7, 30}, g, at::kDouble);
        at::Tensor viaCores = ttApply(tt.cores, x);
        at::Tensor viaDense = at::matmul(x, ttReconstruct(tt).t());
        QVERIFY((viaCores - viaDense).abs().max().item<double>() < 1e-10);
        // The cost model by hand: cores [r, m, n, r'] = [1,2,2,4] [4,3,3,4] [4,4,5,1], per row
        // 2 * (1*15*(1*2)*(2*4) + 2*5*(4*3)*(3*4) + 6*1*(4*5)*(4*1)) = 4,320 flops, against
        // 2 * 24 * 30 = 1,440 for the dense map.
        QCOMPARE(tt.bonds, (std::vector<std::int64_t>{1, 4, 4, 1}));
        QCOMPARE(tt.cores[1].sizes().vec(), (std::vector<std::int64_t>{4, 3, 3, 4}));
        QCOMPARE(ttApplyFlopsPerRow(tt.cores), 4320.0);
        // Contracting the cores into each other gives the dense matrix for
        // 2 * (2*2 * 4 * 3*3*4) + 2 * (6*6 * 4 * 4*5*1) = 1,152 + 5,760 = 6,912 flops.
        QVERIFY((ttDense(tt.cores) - ttReconstruct(tt)).abs().max().item<double>() < 1e-10);
        QCOMPARE(ttDenseFlops(tt.cores), 2.0 * (2 * 2 * 4 * 36) + 2.0 * (6 * 6 * 4 * 20));
        // TTLinear picks the cheaper path by that model; both give the same map: 3 rows apply
        // the cores (3 * 4320 < 6912 + 3 * 1440), 200 rows rebuild the weight.
        TTLinear layer(tt.cores, at::Tensor());
        for (std::int64_t rows : {3, 200}) {
            at::Tensor xr = at::randn({rows, 30}, g, at::kDouble);
            QVERIFY((layer.forward(xr) - at::matmul(xr, ttReconstruct(tt).t())).abs().max().item<double>() < 1e-10);
        }
        QCOMPARE(balancedFactors(51200, 3), (std::vector<std::int64_t>{32, 40, 40}));
        QCOMPARE(balancedFactors(8192, 3), (std::vector<std::int64_t>{16, 16, 32}));
    }

    void badInputsAreNamed() {
        at::Tensor w = at::randn({6, 4});
        QVERIFY(errorOf([&] { truncatedSvd(w, TruncateOptions().rank(5)); }).contains("rank 5"));
        at::Tensor bad = w.clone();
        bad[0][0] = std::nan("");
        QVERIFY(errorOf([&] { truncatedSvd(bad, TruncateOptions().rank(2)); }).contains("NaN"));
        QVERIFY(errorOf([&] { whitenedSvd(w, at::zeros({3, 3}), TruncateOptions().rank(2)); }).contains("[4, 4]"));
    }

    void spectralStatsOfKnownMatrices() {
        // r equal singular values: entropy ln r, effective rank r, stable rank r.
        std::vector<double> flat(16, 2.0);
        auto st = spectralStats(flat, 16, 32);
        QVERIFY(std::fabs(st.entropy - std::log(16.0)) < 1e-12);
        QVERIFY(std::fabs(st.effectiveRank - 16.0) < 1e-9);
        QVERIFY(std::fabs(st.stableRank - 16.0) < 1e-9);
        auto d = discardedWeights({3, 2, 1});
        QVERIFY(std::fabs(d[1] - 5.0 / 14.0) < 1e-12);
        QCOMPARE(rankForCutoff({3, 2, 1}, 1.0 / 14.0), 2);

        // A Gaussian matrix sits inside its Marchenko-Pastur bulk; planted spikes stick out.
        auto g = gen(8);
        at::Tensor noise = at::randn({400, 200}, g, at::kDouble);
        auto sn = spectralStats(singularValues(noise), 400, 200);
        QVERIFY2(sn.spikes <= 2, qPrintable(QString::number(sn.spikes)));
        QVERIFY(std::fabs(sn.mpSigma2 - 1.0) < 0.15);
        at::Tensor spiked = noise + withSpectrum(400, 200, at::full({3}, 200.0, at::kDouble), 9);
        auto ss = spectralStats(singularValues(spiked), 400, 200);
        QCOMPARE(ss.spikes, 3);
        // Heavy-tailed spectrum: the fitted alpha is finite and > 1.
        auto s = at::pow(at::arange(1, 301, at::kDouble), -1.0);
        auto st2 = spectralStats(singularValues(withSpectrum(600, 300, s * 50, 10)), 600, 300);
        QVERIFY(st2.alpha > 1.0 && st2.alpha < 10.0);
    }
};

QTEST_APPLESS_MAIN(TestDecompose)
#include "test_decompose.moc"
