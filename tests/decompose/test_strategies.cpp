// The decomposition-strategy table (core/decompose/strategies): it lists every method once, the
// CLI's `compress --help` offers exactly its entries, each strategy's saved layers are of the
// kinds it declares and reload to the in-memory compressed model's logits, and a factorizer
// registered at run time becomes a strategy of the same table. (The compression pane's method
// list against the table: tests/ui/test_strategy_offer.cpp.)
#include "common/error.h"
#include "decompose/compress.h"
#include "decompose/strategies/registry.h"
#include "decompose/strategies/strategy.h"
#include "io/checkpoint.h"
#include "model/layer_kinds.h"
#include "model/loader.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <c10/core/InferenceMode.h>
#include "../common/model_test_support.h"
#include "../common/test_support.h"

#include <algorithm>
#include <set>

using namespace qcw;
using qcw::test::errorOf;
using qcw::test::logitsOf;
using qcw::test::randomWindows;

namespace {
const std::string kTiny = std::string(QCW_TEST_DATA) + "/tiny-phi";

// A plain factorizer, as a plugin would bring one: W ~ (U S) V^T by LibTorch's SVD.
MatrixFactors svdFactors(const float* w, std::int64_t rows, std::int64_t cols, int rank) {
    at::Tensor m = at::from_blob(const_cast<float*>(w), {rows, cols}, at::kFloat).to(at::kDouble);
    auto [u, s, vh] = at::linalg_svd(m, false);
    at::Tensor l = (u.narrow(1, 0, rank) * s.narrow(0, 0, rank).unsqueeze(0)).to(at::kFloat).contiguous();
    at::Tensor r = vh.narrow(0, 0, rank).to(at::kFloat).contiguous();
    MatrixFactors f;
    f.rank = rank;
    f.left.assign(l.data_ptr<float>(), l.data_ptr<float>() + l.numel());
    f.right.assign(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
    return f;
}

// The layer kind a saved matrix is stored as, from its tensors (the loader's kinds).
std::string storedKind(const Checkpoint& ck, const std::string& layer) {
    if (const TensorView* v = ck.find(layer + ".lowrank_left")) return v->dtype == DType::I8 ? "lowrank-int8" : "lowrank";
    if (ck.find(layer + ".tucker_core")) return "tucker";
    if (ck.find(layer + ".tt_core_0")) return "tt";
    if (ck.find(layer + ".qweight")) return "int8";
    if (ck.find(layer + ".weight")) return "dense";
    return "?";
}

// The "Strategies (--method):" block of `qcompress compress --help`: id -> description.
std::vector<std::pair<std::string, std::string>> helpStrategies(const QString& help) {
    std::vector<std::pair<std::string, std::string>> out;
    const QStringList lines = help.split('\n');
    const int at = lines.indexOf(QStringLiteral("Strategies (--method):"));
    if (at < 0) return out;
    for (int i = at + 1; i < lines.size(); ++i) {
        const QString l = lines[i];
        if (!l.startsWith(QStringLiteral("  ")) || l.trimmed().isEmpty()) break;
        const QString t = l.trimmed();
        const int sp = t.indexOf(' ');
        out.emplace_back(t.left(sp).toStdString(), t.mid(sp).trimmed().toStdString());
    }
    return out;
}

}  // namespace

class TestStrategies : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { at::set_num_threads(2); }

    void theTableListsEveryMethodOnce() {
        std::vector<std::string> ids;
        for (const auto& s : strategyInfos()) ids.push_back(s.id);
        const std::vector<std::string> expected = {"svd", "asvd", "tucker", "tucker-xl", "tt", "auto", "int8", "custom"};
        QCOMPARE(ids, expected);
        QCOMPARE(listedStrategyIds(), std::string("svd, asvd, tucker, tucker-xl, tt, auto or int8"));
        QCOMPARE(searchableStrategyIds(), std::string("svd, asvd"));
        QCOMPARE(defaultStrategyId(), std::string("svd"));
        const auto kinds = storedLayerKinds();
        const std::set<std::string> known(kinds.begin(), kinds.end());
        for (const auto& s : strategyInfos()) {
            QCOMPARE(strategyFor(s.id).info().id, s.id);
            QVERIFY2(!s.name.empty() && !s.description.empty(), s.id.c_str());
            QVERIFY2(!s.stores.empty(), s.id.c_str());
            for (const auto& k : s.stores) QVERIFY2(known.count(k), (s.id + " stores " + k).c_str());
            QCOMPARE(findStrategyInfo(s.id)->id, s.id);
        }
        QVERIFY(!findStrategyInfo("nope"));
        QCOMPARE(errorOf([] { strategyFor("nope"); }),
                 QStringLiteral("--method nope: unknown method; expected svd, asvd, tucker, tucker-xl, tt, auto or int8"));
    }

    void theCliHelpOffersExactlyTheTable() {
        QProcess p;
        p.start(QStringLiteral(QCW_BIN_DIR "/qcompress"), {QStringLiteral("compress"), QStringLiteral("--help")});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 0);
        const QString help = QString::fromUtf8(p.readAllStandardOutput());
        std::vector<std::pair<std::string, std::string>> expected;
        for (const auto& s : strategyInfos())
            if (s.listed) expected.emplace_back(s.id, s.description);
        QCOMPARE(helpStrategies(help), expected);
        QVERIFY2(help.contains(QString::fromStdString("Decomposition strategy: " + listedStrategyIds())), qPrintable(help));
        // The CLI's checks read the table too: a search applies to the searchable strategies only.
        QProcess bad;
        bad.start(QStringLiteral(QCW_BIN_DIR "/qcompress"),
                  {QStringLiteral("compress"), QString::fromStdString(kTiny), QStringLiteral("--out"), QStringLiteral("/nonexistent/x"),
                   QStringLiteral("--target-params"), QStringLiteral("0.5"), QStringLiteral("--method"), QStringLiteral("tucker"),
                   QStringLiteral("--solver"), QStringLiteral("greedy")});
        QVERIFY(bad.waitForFinished(60000));
        QVERIFY(bad.exitCode() != 0);
        QVERIFY2(QString::fromUtf8(bad.readAllStandardError())
                     .contains(QStringLiteral("searched ranks apply to per-matrix methods (svd, asvd), not --method tucker")),
                 "solver refused for tucker");
    }

    void everyStrategyRoundTrips_data() {
        QTest::addColumn<QString>("method");
        QTest::addColumn<double>("keep");
        QTest::addColumn<bool>("calibrate");
        QTest::addColumn<bool>("int8Factors");
        QTest::newRow("svd") << "svd" << 0.5 << false << false;
        QTest::newRow("svd+int8-factors") << "svd" << 0.5 << false << true;
        QTest::newRow("asvd") << "asvd" << 0.5 << true << false;
        QTest::newRow("tucker") << "tucker" << 0.5 << false << false;
        QTest::newRow("tucker-xl") << "tucker-xl" << 0.5 << true << false;
        QTest::newRow("tt") << "tt" << 0.5 << false << false;
        QTest::newRow("auto") << "auto" << 0.5 << true << false;
        QTest::newRow("int8") << "int8" << 1.0 << false << false;
        QTest::newRow("custom") << "custom" << 0.6 << false << false;
    }
    void everyStrategyRoundTrips() {
        QFETCH(QString, method);
        QFETCH(double, keep);
        QFETCH(bool, calibrate);
        QFETCH(bool, int8Factors);
        c10::InferenceMode guard;
        CompressOptions o;
        o.keepFraction = keep;
        o.method = method.toStdString();
        o.int8Factors = int8Factors;
        if (calibrate) o.calibration = randomWindows(4, 32, 320, 2);
        if (o.method == "custom") {
            o.factorizer = svdFactors;
            o.factorizerName = "test-factorizer";
        }
        QTemporaryDir tmp;
        const std::string out = tmp.filePath("c").toStdString();
        const CompressionReport r = compressModelDir(kTiny, out, o);
        QVERIFY(!r.layers.empty());
        // The saved layers are of the kinds the strategy declares.
        const StrategyInfo* info = findStrategyInfo(o.method);
        QVERIFY(info);
        Checkpoint ck = Checkpoint::open(out);
        for (const auto& l : r.layers) {
            const std::string kind = storedKind(ck, l.name);
            QVERIFY2(std::find(info->stores.begin(), info->stores.end(), kind) != info->stores.end(),
                     (l.name + " stored as " + kind).c_str());
        }
        // Factorize in memory, save, load: the logits are equal.
        PhiModel inMemory = loadPhiModel(Checkpoint::open(kTiny));
        const CompressionReport again = compressModel(inMemory, o);
        QCOMPARE(again.paramsAfter, r.paramsAfter);
        PhiModel reloaded = loadPhiModel(ck);
        QCOMPARE(reloaded.parameterCount(), r.paramsAfter);
        at::Tensor ids = at::randint(320, {2, 16}, at::detail::createCPUGenerator(5), at::kLong);
        QCOMPARE((logitsOf(reloaded, ids) - logitsOf(inMemory, ids)).abs().max().item<double>(), 0.0);
    }

    void aRegisteredFactorizerIsAStrategyOfTheTable() {
        c10::InferenceMode guard;
        registerFactorizerStrategy("test-svd", "Test SVD", "LibTorch's SVD through the factorizer interface", svdFactors);
        QCOMPARE(strategyInfos().back().id, std::string("test-svd"));
        QCOMPARE(listedStrategyIds(), std::string("svd, asvd, tucker, tucker-xl, tt, auto, int8 or test-svd"));
        QVERIFY(errorOf([] { registerFactorizerStrategy("test-svd", "again", "again", svdFactors); }).contains("already in the table"));
        CompressOptions o;
        o.keepFraction = 0.6;
        o.method = "test-svd";
        QTemporaryDir tmp;
        const std::string out = tmp.filePath("c").toStdString();
        const CompressionReport r = compressModelDir(kTiny, out, o);
        QCOMPARE(r.method, std::string("test-svd"));
        for (const auto& l : r.layers) QCOMPARE(l.method, std::string("test-svd"));
        // The same ranks as svd, and nearly the same factors.
        CompressOptions s;
        s.keepFraction = 0.6;
        PhiModel viaSvd = loadPhiModel(Checkpoint::open(kTiny));
        const CompressionReport rs = compressModel(viaSvd, s);
        QCOMPARE(r.paramsAfter, rs.paramsAfter);
        for (std::size_t i = 0; i < r.layers.size(); ++i) QVERIFY(std::fabs(r.layers[i].relError - rs.layers[i].relError) < 1e-4);
        PhiModel inMemory = loadPhiModel(Checkpoint::open(kTiny));
        compressModel(inMemory, o);
        PhiModel reloaded = loadPhiModel(Checkpoint::open(out));
        at::Tensor ids = at::randint(320, {2, 16}, at::detail::createCPUGenerator(6), at::kLong);
        QCOMPARE((logitsOf(reloaded, ids) - logitsOf(inMemory, ids)).abs().max().item<double>(), 0.0);
    }
};

QTEST_MAIN(TestStrategies)
#include "test_strategies.moc"
