// The compression pipeline end to end on the tiny fixture: every method reaches its budget,
// saves and reloads to identical logits, stores factors only, and refuses bad requests.
#include "common/error.h"
#include "decompose/compress.h"
#include "decompose/compress_api.h"
#include "decompose/decompose.h"
#include "decompose/rank_search.h"
#include "decompose/sensitivity.h"
#include "decompose/spectra_api.h"
#include "io/checkpoint.h"
#include "io/inventory.h"
#include "model/factorized.h"
#include "model/loader.h"
#include "model/quantized.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <QTemporaryDir>
#include <QtTest>

#include <c10/core/InferenceMode.h>
#include "../common/model_test_support.h"
#include "../common/test_support.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace fs = std::filesystem;
using namespace qcw;
using qcw::test::errorOf;
using qcw::test::logitsOf;
using qcw::test::randomWindows;

namespace {
const std::string kTiny = std::string(QCW_TEST_DATA) + "/tiny-phi";

}  // namespace

class TestCompress : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { at::set_num_threads(2); }

    void everyMethodSavesAndReloadsExactly_data() {
        QTest::addColumn<QString>("method");
        QTest::addColumn<bool>("calibrate");
        QTest::addColumn<bool>("feedback");
        QTest::newRow("svd") << "svd" << false << false;
        QTest::newRow("asvd") << "asvd" << true << false;
        QTest::newRow("asvd+feedback") << "asvd" << true << true;
        QTest::newRow("tucker") << "tucker" << false << false;
        QTest::newRow("tucker-xl") << "tucker-xl" << true << false;
        QTest::newRow("tt") << "tt" << false << false;
        QTest::newRow("auto") << "auto" << true << false;
    }
    void everyMethodSavesAndReloadsExactly() {
        QFETCH(QString, method);
        QFETCH(bool, calibrate);
        QFETCH(bool, feedback);
        c10::InferenceMode guard;
        QTemporaryDir tmp;
        const std::string out = tmp.filePath("c").toStdString();
        CompressOptions o;
        o.keepFraction = 0.5;
        o.method = method.toStdString();
        o.errorFeedback = feedback;
        if (calibrate) o.calibration = randomWindows(8, 32, 320, 1);
        CompressionReport r = compressModelDir(kTiny, out, o);
        QVERIFY2(r.ratio <= 0.5 + 1e-9 && r.ratio > 0.40, qPrintable(QString("ratio %1").arg(r.ratio)));
        QCOMPARE(r.calibrated, calibrate);
        for (const auto& l : r.layers) {
            QVERIFY(l.relError >= 0 && std::isfinite(l.relError));  // with error feedback the target is not W itself
            if (calibrate) QVERIFY(l.outError >= 0);
        }
        // Reload: the same parameter count, logits identical to the in-memory compressed model.
        PhiModel original = loadPhiModel(Checkpoint::open(kTiny));
        PhiModel inMemory = loadPhiModel(Checkpoint::open(kTiny));
        compressModel(inMemory, o);
        PhiModel reloaded = loadPhiModel(Checkpoint::open(out));
        QCOMPARE(reloaded.parameterCount(), r.paramsAfter);
        at::Tensor ids = at::randint(320, {2, 20}, at::detail::createCPUGenerator(4), at::kLong);
        QCOMPARE((logitsOf(reloaded, ids) - logitsOf(inMemory, ids)).abs().max().item<double>(), 0.0);
        // No dense weight is stored for a factorized layer, and the file is about params x 4 bytes.
        Checkpoint ck = Checkpoint::open(out);
        for (const auto& l : r.layers) QVERIFY2(!ck.find(l.name + ".weight"), l.name.c_str());
        const double bytes = double(fs::file_size(fs::path(out) / "model.safetensors"));
        QVERIFY2(bytes < 1.05 * 4.0 * double(r.paramsAfter) + 16384, qPrintable(QString::number(bytes)));
        QCOMPARE(inspectModel(out).params, r.paramsAfter);
        QVERIFY(inspectModel(out).compressed);
        // One layer alone (loadLinear) is the layer of the whole reloaded model, and the spectrum
        // of a factorized layer is that of the matrix its factors rebuild.
        {
            const auto afterOps = reloaded.linearOps();
            const auto beforeOps = original.linearOps();
            for (const auto& l : r.layers) {
                std::size_t i = 0;
                while (i < afterOps.size() && afterOps[i].first != l.name) ++i;
                QVERIFY2(i < afterOps.size(), l.name.c_str());
                const at::Tensor whole = (*afterOps[i].second)->denseWeight();
                const auto alone = loadLinear(ck, l.name);
                QCOMPARE(alone->method(), (*afterOps[i].second)->method());
                QCOMPARE((alone->denseWeight() - whole).abs().max().item<double>(), 0.0);
                const MatrixSpectrum s = computeMatrixSpectrum(out, l.name + ".weight");
                QCOMPARE(s.storage, alone->method());
                const auto oracle = singularValues(whole);
                QCOMPARE(s.singularValues.size(), oracle.size());
                for (std::size_t k = 0; k < oracle.size(); ++k)
                    QVERIFY(std::fabs(s.singularValues[k] - oracle[k]) <= 1e-6 * oracle[0]);
                if (l.method == "svd") {
                    // Truncated SVD keeps the leading singular values and drops the rest.
                    QCOMPARE(s.numericalRank, l.ranks.at(0));
                    const auto before = singularValues((*beforeOps[i].second)->denseWeight());
                    for (int k = 0; k < l.ranks[0]; ++k)
                        QVERIFY2(std::fabs(s.singularValues[std::size_t(k)] - before[std::size_t(k)]) <= 1e-4 * before[0],
                                 qPrintable(QString("%1 s_%2").arg(l.name.c_str()).arg(k)));
                }
                if (!calibrate && (l.method == "svd" || l.method == "tucker")) {
                    // Uncalibrated, both are orthogonal projections: ||W'||^2 = ||W||^2 - ||W - W'||^2.
                    const double before = computeMatrixSpectrum(kTiny, l.name + ".weight").stats.frobeniusSq;
                    QVERIFY2(std::fabs(s.stats.frobeniusSq - before * (1 - l.relError * l.relError)) <= 1e-4 * before,
                             qPrintable(QString("%1: %2 vs %3").arg(l.name.c_str()).arg(s.stats.frobeniusSq).arg(before * (1 - l.relError * l.relError))));
                }
            }
        }
        // The reported weight error is the real one (the fast path derives it from singular values).
        {
            auto before = original.linearOps();
            auto after = reloaded.linearOps();
            for (const auto& l : r.layers) {
                if (l.method != "svd") continue;
                for (std::size_t i = 0; i < before.size(); ++i)
                    if (before[i].first == l.name) {
                        const double real = relativeError((*before[i].second)->denseWeight(), (*after[i].second)->denseWeight());
                        QVERIFY2(std::fabs(real - l.relError) < 1e-4, qPrintable(QString("%1: %2 vs %3").arg(l.name.c_str()).arg(real).arg(l.relError)));
                    }
            }
        }
        // Compression changes the function (the fixture's random weights have flat spectra, so
        // by how much says little; the benchmarks measure it on learned weights).
        const double rel = ((logitsOf(reloaded, ids) - logitsOf(original, ids)).norm() / logitsOf(original, ids).norm()).item<double>();
        QVERIFY2(rel > 0 && std::isfinite(rel), qPrintable(QString::number(rel)));
    }

    void fullRankIsExact() {
        c10::InferenceMode guard;
        PhiModel m = loadPhiModel(Checkpoint::open(kTiny));
        PhiModel ref = loadPhiModel(Checkpoint::open(kTiny));
        CompressOptions o;
        o.keepFraction = 1.0;
        o.method = "svd";
        // Explicit full ranks: every group at its maximum rank reproduces the model.
        for (const auto& g : groupInfos(m, o)) o.ranks[g.name] = g.maxRank;
        compressModel(m, o);
        at::Tensor ids = at::randint(320, {1, 16}, at::detail::createCPUGenerator(5), at::kLong);
        QVERIFY((logitsOf(m, ids) - logitsOf(ref, ids)).abs().max().item<double>() < 1e-3);
    }

    void whiteningHelpsOutputError() {
        c10::InferenceMode guard;
        CompressOptions o;
        o.keepFraction = 0.4;
        o.calibration = randomWindows(8, 32, 320, 2);
        o.method = "svd";
        PhiModel a = loadPhiModel(Checkpoint::open(kTiny));
        auto plain = compressModel(a, o);
        o.method = "asvd";
        PhiModel b = loadPhiModel(Checkpoint::open(kTiny));
        auto white = compressModel(b, o);
        double ep = 0, ew = 0;
        for (const auto& l : plain.layers) ep += l.outError * l.outError;
        for (const auto& l : white.layers) ew += l.outError * l.outError;
        QVERIFY2(ew < ep, qPrintable(QString("whitened %1 plain %2").arg(ew).arg(ep)));
    }

    void variationalRefinementNeverHurtsAndHelpsTensorTrains() {
        // TT-SVD truncates in weight space; Adam steps on its cores against the calibration
        // output error must lower it. Whitened SVD is already the optimum of that objective,
        // so refinement must leave it where it is.
        c10::InferenceMode guard;
        CompressOptions o;
        o.keepFraction = 0.5;
        o.calibration = randomWindows(8, 32, 320, 6);
        o.refineSteps = 40;
        o.method = "tt";
        PhiModel m = loadPhiModel(Checkpoint::open(kTiny));
        auto tt = compressModel(m, o);
        double before = 0, after = 0;
        int refined = 0;
        for (const auto& l : tt.layers) {
            if (l.outErrorBeforeRefine < 0) continue;
            ++refined;
            QVERIFY2(l.outError <= l.outErrorBeforeRefine * (1 + 1e-5) + 1e-7, l.name.c_str());  // float32 factors
            before += l.outErrorBeforeRefine * l.outErrorBeforeRefine;
            after += l.outError * l.outError;
        }
        QCOMPARE(refined, static_cast<int>(tt.layers.size()));
        QVERIFY2(after < 0.95 * before, qPrintable(QString("TT refined %1 -> %2").arg(before).arg(after)));
        o.method = "asvd";
        PhiModel a = loadPhiModel(Checkpoint::open(kTiny));
        for (const auto& l : compressModel(a, o).layers)
            QVERIFY2(std::fabs(l.outError - l.outErrorBeforeRefine) < 1e-6, l.name.c_str());
        // Refinement without calibration is refused.
        CompressOptions bad;
        bad.refineSteps = 5;
        PhiModel b = loadPhiModel(Checkpoint::open(kTiny));
        QVERIFY(errorOf([&] { compressModel(b, bad); }).contains("needs calibration"));
    }

    void int8BaselineRoundTrips() {
        c10::InferenceMode guard;
        QTemporaryDir tmp;
        const std::string out = tmp.filePath("q").toStdString();
        CompressOptions o;
        o.keepFraction = 1.0;
        o.method = "int8";
        CompressionReport r = compressModelDir(kTiny, out, o);
        // Every weight is kept; one scale per output channel is added (18 x 64 or 256, plus 320).
        QCOMPARE(r.paramsAfter, r.paramsBefore + 3 * (64 * 5 + 256) + 320);
        QCOMPARE(r.layers.size(), std::size_t(19));
        for (const auto& l : r.layers) QVERIFY2(l.relError > 0 && l.relError < 0.01, l.name.c_str());
        // Weights stored as one byte each: the file shrinks to about a quarter of fp32.
        Checkpoint ck = Checkpoint::open(out);
        QCOMPARE(ck.find("model.layers.0.mlp.fc1.qweight")->dtype, DType::I8);
        QVERIFY(!ck.find("model.layers.0.mlp.fc1.weight"));
        const double ratio = double(fs::file_size(fs::path(out) / "model.safetensors")) /
                             double(fs::file_size(fs::path(kTiny) / "model.safetensors"));
        QVERIFY2(ratio < 0.40, qPrintable(QString::number(ratio)));
        // Reloaded logits equal the in-memory quantized model's, and stay close to the original.
        PhiModel inMemory = loadPhiModel(Checkpoint::open(kTiny));
        compressModel(inMemory, o);
        PhiModel reloaded = loadPhiModel(Checkpoint::open(out));
        PhiModel original = loadPhiModel(Checkpoint::open(kTiny));
        at::Tensor ids = at::randint(320, {2, 20}, at::detail::createCPUGenerator(7), at::kLong);
        QCOMPARE((logitsOf(reloaded, ids) - logitsOf(inMemory, ids)).abs().max().item<double>(), 0.0);
        const double rel = ((logitsOf(reloaded, ids) - logitsOf(original, ids)).norm() / logitsOf(original, ids).norm()).item<double>();
        QVERIFY2(rel < 0.05, qPrintable(QString::number(rel)));
        QCOMPARE(inspectModel(out).params, r.paramsAfter);
        o.keepFraction = 0.5;
        QVERIFY(errorOf([&] { compressModelDir(kTiny, tmp.filePath("q2").toStdString(), o); }).contains("use --target-params 1"));
    }

    void int8FactorsRoundTrip() {
        c10::InferenceMode guard;
        QTemporaryDir tmp;
        const std::string fp = tmp.filePath("fp").toStdString(), q = tmp.filePath("q").toStdString();
        CompressOptions o;
        o.keepFraction = 0.6;
        CompressionReport rf = compressModelDir(kTiny, fp, o);
        o.int8Factors = true;
        CompressionReport rq = compressModelDir(kTiny, q, o);
        QCOMPARE(rq.method, std::string("svd+int8"));
        // The same ranks; the scales (one per row of each factor) are the only extra numbers.
        std::int64_t scales = 0;
        for (std::size_t i = 0; i < rq.layers.size(); ++i) {
            const auto& l = rq.layers[i];
            QCOMPARE(l.method, std::string("svd+int8"));
            QCOMPARE(l.ranks, rf.layers[i].ranks);
            QVERIFY2(l.int8Error > 0 && l.int8Error < 0.02, qPrintable(QString::fromStdString(l.name) + " " + QString::number(l.int8Error)));
            scales += l.paramsAfter - rf.layers[i].paramsAfter;
            QCOMPARE(l.paramsAfter - rf.layers[i].paramsAfter, std::int64_t(l.ranks[0]) + (l.name == "lm_head" ? 320 : l.name.find("fc1") != std::string::npos ? 256 : 64));
        }
        QCOMPARE(rq.paramsAfter, rf.paramsAfter + scales);
        Checkpoint ck = Checkpoint::open(q);
        QCOMPARE(ck.find("model.layers.0.mlp.fc1.lowrank_left")->dtype, DType::I8);
        QCOMPARE(ck.find("model.layers.0.mlp.fc1.lowrank_right_scale")->dtype, DType::F32);
        // Factor bytes shrink to a quarter (the embedding, norms and biases stay fp32).
        const double fpBytes = double(fs::file_size(fs::path(fp) / "model.safetensors"));
        const double qBytes = double(fs::file_size(fs::path(q) / "model.safetensors"));
        QVERIFY2(qBytes < 0.8 * fpBytes, qPrintable(QString("%1 vs %2").arg(qBytes).arg(fpBytes)));
        // Reloads to the in-memory model's logits exactly, and stays close to the float factors.
        PhiModel inMemory = loadPhiModel(Checkpoint::open(kTiny));
        compressModel(inMemory, o);
        PhiModel reloaded = loadPhiModel(Checkpoint::open(q)), floatFactors = loadPhiModel(Checkpoint::open(fp));
        QVERIFY(dynamic_cast<Int8LowRankLinear*>(reloaded.blocks[0].fc1.get()));
        at::Tensor ids = at::randint(320, {2, 20}, at::detail::createCPUGenerator(9), at::kLong);
        QCOMPARE((logitsOf(reloaded, ids) - logitsOf(inMemory, ids)).abs().max().item<double>(), 0.0);
        const double rel = ((logitsOf(reloaded, ids) - logitsOf(floatFactors, ids)).norm() / logitsOf(floatFactors, ids).norm()).item<double>();
        QVERIFY2(rel < 0.05, qPrintable(QString::number(rel)));
        QCOMPARE(inspectModel(q).params, rq.paramsAfter);
    }

    void badRequestsAreRefused() {
        QTemporaryDir tmp;
        CompressOptions o;
        o.keepFraction = 1.5;
        QVERIFY(errorOf([&] { compressModelDir(kTiny, tmp.filePath("a").toStdString(), o); }).contains("(0, 1]"));
        o.keepFraction = 0.0;
        QVERIFY(errorOf([&] { compressModelDir(kTiny, tmp.filePath("a").toStdString(), o); }).contains("(0, 1]"));
        o.keepFraction = 0.001;
        QVERIFY(errorOf([&] { compressModelDir(kTiny, tmp.filePath("a").toStdString(), o); }).contains("cannot be reached"));
        o.keepFraction = 0.5;
        o.ranks["model.layers.0.mlp.fc1"] = 65;
        QVERIFY(errorOf([&] { compressModelDir(kTiny, tmp.filePath("a").toStdString(), o); }).contains("rank 65"));
        o.ranks.clear();
        o.calibration = {{1, 2, 3}};
        QVERIFY(errorOf([&] { compressModelDir(kTiny, tmp.filePath("a").toStdString(), o); }).contains("at least 64"));
        o.calibration.clear();
        o.method = "asvd";
        QVERIFY(errorOf([&] { compressModelDir(kTiny, tmp.filePath("a").toStdString(), o); }).contains("needs calibration"));
        o.method = "magic";
        QVERIFY(errorOf([&] { compressModelDir(kTiny, tmp.filePath("a").toStdString(), o); }).contains("unknown method"));
        // NaN weights are refused.
        c10::InferenceMode guard;
        PhiModel m = loadPhiModel(Checkpoint::open(kTiny));
        auto* d = dynamic_cast<DenseLinear*>(m.blocks[1].fc2.get());
        const_cast<at::Tensor&>(d->weight())[0][0] = std::nan("");
        CompressOptions ok;
        QVERIFY(errorOf([&] { compressModel(m, ok); }).contains("NaN"));
        // Nothing was left behind by the failed runs.
        QVERIFY(!fs::exists(tmp.filePath("a").toStdString()));
    }

    // searchRanks shows its solver's allocation as it goes: ranks per group, every call; the
    // exact solver's last one is its answer; the annealer's move.
    void rankSearchReportsAllocations() {
        for (const char* solver : {"exact", "anneal"}) {
            RankSearchOptions o;
            o.keepFraction = 0.5;
            o.solver = solver;
            o.weighting = "spectral";  // a real search (the data-free default is uniform ranks)
            std::vector<std::map<std::string, int>> seen;
            o.onAllocation = [&](const std::map<std::string, int>& ranks, long long) { seen.push_back(ranks); };
            RunContext ctx;
            const RankSearchResult r = searchRanks(kTiny, o, ctx);
            QVERIFY2(!seen.empty(), solver);
            for (const auto& a : seen) {
                QCOMPARE(a.size(), r.ranks.size());
                for (const auto& [group, rank] : a) {
                    QVERIFY2(r.ranks.count(group), group.c_str());
                    QVERIFY(rank >= 1 && rank <= 64);
                }
            }
            if (std::string(solver) == "exact") QCOMPARE(seen.back(), r.ranks);
            else QVERIFY2(seen.size() > 2 && seen.front() != seen.back(), "the annealer's state never moved");
        }
    }

    // --store-dtype: F16 halves the file and changes the logits by rounding only; "source"
    // follows the source snapshot (the fixture is F32); an unknown name is refused.
    void storeDtypeHalvesTheFile() {
        c10::InferenceMode guard;
        QTemporaryDir tmp;
        CompressOptions o;
        o.keepFraction = 0.5;
        const std::string f32 = tmp.filePath("f32").toStdString(), f16 = tmp.filePath("f16").toStdString(),
                          src = tmp.filePath("src").toStdString();
        const CompressionReport r = compressModelDir(kTiny, f32, o);
        o.storeDtype = "F16";
        compressModelDir(kTiny, f16, o);
        QCOMPARE(inspectModel(f16).dtype, std::string("F16"));
        QCOMPARE(inspectModel(f16).params, r.paramsAfter);
        const double b16 = double(fs::file_size(fs::path(f16) / "model.safetensors"));
        QVERIFY2(b16 < 1.05 * 2.0 * double(r.paramsAfter) + 16384, qPrintable(QString::number(b16)));
        const at::Tensor ids = at::randint(320, {2, 16}, at::detail::createCPUGenerator(5), at::kLong);
        const at::Tensor l32 = logitsOf(loadPhiModel(Checkpoint::open(f32)), ids);
        const at::Tensor l16 = logitsOf(loadPhiModel(Checkpoint::open(f16)), ids);
        const double diff = (l32 - l16).abs().max().item<double>();
        QVERIFY2(diff > 0 && diff < 0.05 * l32.abs().max().item<double>(), qPrintable(QString::number(diff)));
        o.storeDtype = "source";
        compressModelDir(kTiny, src, o);
        QCOMPARE(inspectModel(src).dtype, std::string("F32"));
        o.storeDtype = "F8";
        QVERIFY(errorOf([&] { compressModelDir(kTiny, tmp.filePath("bad").toStdString(), o); }).contains("--store-dtype F8"));
        QVERIFY(!fs::exists(tmp.filePath("bad").toStdString()));
    }

    // measureTruncationLoss against a direct computation: the dense loss, one matrix truncated
    // by hand, and a full-rank "truncation" that changes nothing; one-line errors.
    void truncationLossMatchesDirectComputation() {
        c10::InferenceMode guard;
        const auto windows = randomWindows(4, 24, 320, 9);
        const std::vector<TruncationProbe> probes = {
            {"model.layers.1.mlp.fc1", 8}, {"model.layers.1.mlp.fc1", 20}, {"lm_head", 64}, {"model.layers.0.self_attn.q_proj", 3}};
        const TruncationLoss t = measureTruncationLoss(kTiny, probes, windows);
        QCOMPARE(t.loss.size(), probes.size());
        QCOMPARE(t.tokens, std::int64_t(4 * 23));
        PhiModel m = loadPhiModel(Checkpoint::open(kTiny));
        std::vector<std::int64_t> flat;
        for (const auto& w : windows) flat.insert(flat.end(), w.begin(), w.end());
        const at::Tensor ids = at::from_blob(flat.data(), {4, 24}, at::kLong).clone();
        auto lossOf = [&] {
            at::Tensor logits = logitsOf(m, ids);
            return at::cross_entropy_loss(logits.slice(1, 0, 23).reshape({-1, 320}), ids.slice(1, 1).reshape({-1})).item<double>();
        };
        QVERIFY(std::fabs(t.baseLoss - lossOf()) < 1e-5);
        // One matrix at two ranks (its SVD is taken once): each equals its own truncation.
        for (std::size_t i : {std::size_t(0), std::size_t(1)}) {
            for (auto& [name, slot] : m.linearOps())
                if (name == "model.layers.1.mlp.fc1") {
                    const auto dense = *slot;
                    const auto tr = truncatedSvd(dense->denseWeight(), TruncateOptions().rank(probes[i].rank));
                    *slot = std::make_shared<LowRankLinear>(tr.left, tr.right, dense->bias());
                    const double direct = lossOf();
                    *slot = dense;
                    QVERIFY2(std::fabs(t.loss[i] - direct) < 1e-5, qPrintable(QString("%1 vs %2").arg(t.loss[i]).arg(direct)));
                }
        }
        QVERIFY(t.loss[0] != t.loss[1]);     // two different truncations
        QVERIFY(std::fabs(t.loss[2] - t.baseLoss) < 1e-4);  // lm_head at full rank 64
        QVERIFY(t.loss[3] != t.baseLoss);
        // Cancelled after the first probe: it stops there.
        RunContext stopper;
        int reported = 0;
        stopper.setCallback([&](const Progress& p) {
            if (p.stage == "sensitivity" && ++reported == 1) stopper.cancel();
        });
        QVERIFY_THROWS_EXCEPTION(qcw::Cancelled, measureTruncationLoss(kTiny, probes, windows, stopper));
        QCOMPARE(reported, 1);
        QVERIFY(errorOf([&] { measureTruncationLoss(kTiny, {{"model.layers.1.mlp", 8}}, windows); }).contains("is not a linear map"));
        QVERIFY(errorOf([&] { measureTruncationLoss(kTiny, {{"lm_head", 65}}, windows); }).contains("rank 65 is outside [1, 64]"));
        QVERIFY(errorOf([&] { measureTruncationLoss(kTiny, probes, {}); }).contains("no windows"));
        QVERIFY(errorOf([&] { measureTruncationLoss(kTiny, probes, {{1, 2, 3}, {1, 2}}); }).contains("one length"));
        QVERIFY(errorOf([&] { measureTruncationLoss(kTiny, probes, {{1, 2, 999}}); }).contains("token id 999"));
    }

    // The loss-weighted search: measured curves per group, an allocation no worse than uniform
    // ranks by its own prediction, and no rank below the lowest one measured.
    void lossWeightedRankSearch() {
        RankSearchOptions o;
        o.keepFraction = 0.5;
        o.solver = "exact";
        o.weighting = "loss";
        QVERIFY(errorOf([&] { RunContext c; searchRanks(kTiny, o, c); }).contains("needs calibration"));
        o.calibration = randomWindows(4, 32, 320, 3);
        RunContext ctx;
        const RankSearchResult r = searchRanks(kTiny, o, ctx);
        QCOMPARE(r.weighting, std::string("loss"));
        QCOMPARE(r.sensitivity.size(), std::size_t(19));
        QVERIFY(r.baseLoss > 0);
        for (const auto& [group, s] : r.sensitivity) {
            QVERIFY2(!s.ranks.empty() && s.ranks.size() == s.lossIncrease.size(), group.c_str());
            QVERIFY(std::is_sorted(s.ranks.begin(), s.ranks.end()));
            QVERIFY(std::find(s.ranks.begin(), s.ranks.end(), s.uniformRank) != s.ranks.end());
            QVERIFY2(r.ranks.at(group) >= s.ranks.front(), group.c_str());
        }
        QVERIFY2(r.objective <= r.uniformObjective + 1e-12, qPrintable(QString("%1 vs %2").arg(r.objective).arg(r.uniformObjective)));
        QVERIFY(r.paramsAfter <= std::int64_t(0.5 * double(r.paramsBefore)) + 1);
        const auto j = nlohmann::json::parse(r.json);
        QCOMPARE(j["weighting"].get<std::string>(), std::string("loss"));
        QCOMPARE(j["sensitivity"].size(), std::size_t(19));
        o.weighting = "fisher";
        QVERIFY(errorOf([&] { RunContext c; searchRanks(kTiny, o, c); }).contains("unknown objective weighting"));
    }

    // computeMatrixSpectrum: one tensor by exact name, the same values as computeSpectra,
    // one-line errors for a missing tensor and a vector.
    void matrixSpectrumByName() {
        const auto one = qcw::computeMatrixSpectrum(kTiny, "model.layers.1.mlp.fc1.weight");
        const auto all = qcw::computeSpectra(kTiny, "model.layers.1.mlp.fc1.weight");
        QCOMPARE(all.size(), std::size_t(1));
        QCOMPARE(one.name, std::string("model.layers.1.mlp.fc1.weight"));
        QCOMPARE(one.stats.rows, std::int64_t(256));
        QCOMPARE(one.stats.cols, std::int64_t(64));
        QCOMPARE(one.singularValues.size(), std::size_t(64));
        for (std::size_t i = 0; i < one.singularValues.size(); ++i)
            QCOMPARE(one.singularValues[i], all[0].singularValues[i]);
        QCOMPARE(one.stats.entropy, all[0].stats.entropy);
        // Not compressible, still a matrix.
        QCOMPARE(qcw::computeMatrixSpectrum(kTiny, "model.embed_tokens.weight").singularValues.size(), std::size_t(64));
        try {
            qcw::computeMatrixSpectrum(kTiny, "model.layers.9.mlp.fc1.weight");
            QFAIL("no error for a missing tensor");
        } catch (const qcw::Error& e) {
            QVERIFY2(std::string(e.what()).find("no tensor") != std::string::npos, e.what());
        }
        try {
            qcw::computeMatrixSpectrum(kTiny, "model.layers.0.input_layernorm.weight");
            QFAIL("no error for a vector");
        } catch (const qcw::Error& e) {
            QVERIFY2(std::string(e.what()).find("not a matrix (shape 64)") != std::string::npos, e.what());
        }
        qcw::RunContext cancelled;
        cancelled.cancel();
        QVERIFY_THROWS_EXCEPTION(qcw::Cancelled, qcw::computeMatrixSpectrum(kTiny, "lm_head.weight", cancelled));
        QCOMPARE(qcw::computeMatrixSpectrum(kTiny, "lm_head.weight").storage, std::string("dense"));
        // loadLinear names what it cannot build.
        const Checkpoint ck = Checkpoint::open(kTiny);
        QVERIFY(errorOf([&] { loadLinear(ck, "model.layers.9.mlp.fc1"); }).contains("model.layers.9.mlp.fc1: is not a linear map"));
        QVERIFY(errorOf([&] { loadLinear(ck, "model.layers.0.mlp"); }).contains("is not a linear map"));
        QVERIFY(errorOf([&] { loadLinear(ck, "model.layers.x.mlp.fc1"); }).contains("is not a linear map"));
        QCOMPARE(loadLinear(ck, "model.layers.1.mlp.fc2")->inFeatures(), std::int64_t(256));
    }
};

QTEST_APPLESS_MAIN(TestCompress)
#include "test_compress.moc"
