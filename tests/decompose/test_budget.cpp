// Quantization and the byte budget: GGML-identical blocks, GPTQ against rounding, the
// low-rank correction of quantization, the joint allocation against brute force, and the
// budget compression end to end on the tiny fixture (bytes, reload, loss against uniform),
// plus the default rank-search objective against uniform ranks.
#include "common/error.h"
#include "decompose/budget.h"
#include "decompose/compress.h"
#include "decompose/compress_api.h"
#include "decompose/decompose.h"
#include "decompose/lqer.h"
#include "decompose/quantize.h"
#include "decompose/rank_search.h"
#include "io/checkpoint.h"
#include "model/encoded.h"
#include "model/loader.h"
#include "rank/joint_allocation.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <QTemporaryDir>
#include <QtTest>

#include <c10/core/InferenceMode.h>
#include "../common/model_test_support.h"
#include "../common/test_support.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;
using namespace qcw;
using kernels::Format;
using qcw::test::errorOf;
using qcw::test::logitsOf;
using qcw::test::randomWindows;

namespace {
const std::string kTiny = std::string(QCW_TEST_DATA) + "/tiny-phi";
const std::string kBlocks = std::string(QCW_SOURCE_DIR) + "/tests/decompose/data/ggml_blocks.bin";

// Mean next-token cross-entropy of a model on windows.
double lossOf(const PhiModel& m, const std::vector<std::vector<std::int64_t>>& windows) {
    std::vector<std::int64_t> flat;
    for (const auto& w : windows) flat.insert(flat.end(), w.begin(), w.end());
    at::Tensor ids = at::from_blob(flat.data(), {static_cast<std::int64_t>(windows.size()), static_cast<std::int64_t>(windows[0].size())}, at::kLong).clone();
    ForwardArgs a;
    a.inputIds = ids;
    at::Tensor logits = m.forward(a).to(at::kFloat);
    const std::int64_t V = logits.size(-1);
    return at::cross_entropy_loss(logits.slice(1, 0, -1).reshape({-1, V}), ids.slice(1, 1).reshape({-1})).item<double>();
}

// Windows the tiny model itself finds likely (sampled from it), so the loss means something
// on a model with random weights.
std::vector<std::vector<std::int64_t>> sampledWindows(int n, int len, std::uint64_t seed) {
    PhiModel m = loadPhiModel(Checkpoint::open(kTiny));
    auto g = at::detail::createCPUGenerator(seed);
    at::Tensor ids = at::randint(m.config.vocabSize, {n, 1}, g, at::kLong);
    for (int t = 1; t < len; ++t) {
        ForwardArgs a;
        a.inputIds = ids;
        at::Tensor logits = m.forward(a).select(1, ids.size(1) - 1).to(at::kFloat);
        at::Tensor next = at::multinomial(at::softmax(logits * 2.0, -1), 1, false, g);
        ids = at::cat({ids, next}, 1);
    }
    std::vector<std::vector<std::int64_t>> out(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        out[static_cast<std::size_t>(i)] = std::vector<std::int64_t>(ids[i].data_ptr<std::int64_t>(), ids[i].data_ptr<std::int64_t>() + len);
    return out;
}

double outErr(const at::Tensor& w, const at::Tensor& approx, const at::Tensor& h) {
    at::Tensor d = (w - approx).to(at::kDouble);
    return at::trace(at::matmul(at::matmul(d, h), d.t())).item<double>();
}

}  // namespace

class TestBudget : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { at::set_num_threads(2); }

    // The oracle: blocks written by the llama.cpp tool's converter (its Q8_0 / Q4_0 rules are
    // bit-identical to GGML's reference quantizer), for inputs with ties, equal magnitudes,
    // zeros and exact grid values.
    void blocksAreBitIdenticalToGgml() {
        std::ifstream f(kBlocks, std::ios::binary);
        QVERIFY2(f.good(), kBlocks.c_str());
        std::vector<char> all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        const int nb = 8;
        QCOMPARE(all.size(), std::size_t(nb * 32 * 4 + nb * 18 + nb * 34));
        const float* x = reinterpret_cast<const float*>(all.data());
        const auto* q4ref = reinterpret_cast<const std::uint8_t*>(all.data() + nb * 32 * 4);
        const auto* q8ref = q4ref + nb * 18;
        for (int b = 0; b < nb; ++b) {
            std::uint8_t q4[16];
            std::int8_t q8[32];
            std::uint16_t d4, d8;
            quantizeBlockQ4(x + b * 32, q4, &d4);
            quantizeBlockQ8(x + b * 32, q8, &d8);
            QVERIFY2(std::memcmp(&d4, q4ref + b * 18, 2) == 0 && std::memcmp(q4, q4ref + b * 18 + 2, 16) == 0,
                     qPrintable(QString("q4 block %1").arg(b)));
            QVERIFY2(std::memcmp(&d8, q8ref + b * 34, 2) == 0 && std::memcmp(q8, q8ref + b * 34 + 2, 32) == 0,
                     qPrintable(QString("q8 block %1").arg(b)));
        }
        // A whole matrix by rounding holds the same blocks, and its packed form computes what
        // its dequantized form says.
        at::Tensor w = at::from_blob(const_cast<float*>(x), {2, 128}, at::kFloat).clone();
        BlockMatrix m = quantizeRtn(w, Format::Q4);
        for (int b = 0; b < nb; ++b) QVERIFY(std::memcmp(m.data.data() + b * 16, q4ref + b * 18 + 2, 16) == 0);
        QCOMPARE((m.packed().dense() - m.dequantize()).abs().max().item<double>(), 0.0);
        // Padding past the columns is the code of zero.
        BlockMatrix p = quantizeRtn(w.slice(1, 0, 40), Format::Q4);
        QCOMPARE(p.blocksPerRow(), std::int64_t(2));
        QCOMPARE((p.dequantize() - quantizeRtn(w.slice(1, 0, 40).contiguous(), Format::Q4).dequantize()).abs().max().item<double>(), 0.0);
    }

    void gptqBeatsRoundingUnderCorrelatedInputs() {
        c10::InferenceMode guard;
        auto g = at::detail::createCPUGenerator(11);
        const std::int64_t m = 48, n = 96, samples = 600;
        at::Tensor w = at::randn({m, n}, g, at::kDouble);
        // Correlated inputs: a few strong directions mixed into every feature.
        at::Tensor z = at::randn({samples, 8}, g, at::kDouble);
        at::Tensor x = at::matmul(z, at::randn({8, n}, g, at::kDouble)) + 0.1 * at::randn({samples, n}, g, at::kDouble);
        at::Tensor h = at::matmul(x.t(), x);
        for (Format f : {Format::Q4, Format::Q8}) {
            const double rtn = outErr(w, quantizeRtn(w, f).dequantize().to(at::kDouble), h);
            const double gptq = outErr(w, quantizeGptq(w, h, f).dequantize().to(at::kDouble), h);
            QVERIFY2(gptq < 0.7 * rtn, qPrintable(QString("%1: gptq %2 rtn %3").arg(kernels::formatName(f)).arg(gptq).arg(rtn)));
        }
        // Without a Gram matrix GPTQ is rounding.
        QVERIFY(quantizeGptq(w, at::Tensor(), Format::Q4).data == quantizeRtn(w, Format::Q4).data);
        // A weight already on the grid comes back exactly from both.
        at::Tensor grid = quantizeRtn(w, Format::Q8).dequantize();
        QCOMPARE((quantizeGptq(grid, h, Format::Q8).dequantize() - grid).abs().max().item<double>(), 0.0);
    }

    void lowRankCorrectionReducesTheQuantizationError() {
        c10::InferenceMode guard;
        auto g = at::detail::createCPUGenerator(5);
        const std::int64_t m = 64, n = 128;
        at::Tensor w = at::randn({m, n}, g, at::kDouble);
        at::Tensor x = at::matmul(at::randn({400, 16}, g, at::kDouble), at::randn({16, n}, g, at::kDouble)) +
                       0.05 * at::randn({400, n}, g, at::kDouble);
        at::Tensor h = at::matmul(x.t(), x);
        const BlockMatrix base = quantizeGptq(w, h, Format::Q4);
        const double q4 = outErr(w, base.dequantize().to(at::kDouble), h);
        double previous = q4;
        for (int r : {8, 16, 32}) {
            LqerResult l = lqerFromBase(w, h, base, r, Format::Q8);
            const double e = outErr(w, l.approx().to(at::kDouble), h);
            QVERIFY2(e < previous, qPrintable(QString("rank %1: %2 after %3").arg(r).arg(e).arg(previous)));
            previous = e;
        }
        // At full rank with 8-bit factors, little of the 4-bit error is left.
        LqerResult full = lqerFromBase(w, h, base, 64, Format::Q8);
        QVERIFY(outErr(w, full.approx().to(at::kDouble), h) < 0.05 * q4);
    }

    void jointExactMatchesBruteForce() {
        std::mt19937_64 rng(3);
        for (int trial = 0; trial < 20; ++trial) {
            JointProblem p;
            std::int64_t most = 0;
            for (int g = 0; g < 5; ++g) {
                JointGroup grp;
                grp.name = "g" + std::to_string(g);
                grp.weight = 0.5 + double(rng() % 100) / 50.0;
                grp.denseParams = 100;
                std::int64_t maxB = 0;
                for (int c = 0; c < 4; ++c) {
                    JointOption o;
                    o.method = "m" + std::to_string(c);
                    o.bytes = 10 + static_cast<std::int64_t>(rng() % 190);
                    o.error = double(rng() % 1000) / 1000.0;
                    maxB = std::max(maxB, o.bytes);
                    grp.options.push_back(o);
                }
                most += maxB;
                p.groups.push_back(grp);
            }
            p.budgetBytes = most / 2 + 60;
            RunContext& ctx = RunContext::none();
            JointSolution e = solveJoint(p, SolverOptions().solver("exact"), ctx);
            JointSolution b = bruteForceJoint(p);
            QVERIFY(e.feasible);
            QVERIFY2(std::fabs(e.objective - b.objective) <= 1e-12, qPrintable(QString("%1 vs %2").arg(e.objective).arg(b.objective)));
            for (const char* s : {"greedy", "anneal", "sqa"}) {
                JointSolution h = solveJoint(p, SolverOptions().solver(s), ctx);
                QVERIFY(h.feasible && h.bytes <= p.budgetBytes);
                QVERIFY(h.objective >= b.objective - 1e-12);
            }
            JointSolution u = uniformJoint(p);
            QVERIFY(u.bytes <= p.budgetBytes || u.choice.size() == p.groups.size());
            if (u.feasible) QVERIFY(u.objective >= b.objective - 1e-12);
        }
    }

    void budgetMeetsTheBytesAndReloads_data() {
        QTest::addColumn<double>("bits");
        QTest::addColumn<bool>("calibrate");
        QTest::addColumn<QString>("allocation");
        QTest::newRow("6 bits") << 6.0 << false << "search";
        QTest::newRow("4.5 bits calibrated") << 4.5 << true << "search";
        QTest::newRow("5 bits calibrated") << 5.0 << true << "search";
        QTest::newRow("5 bits uniform") << 5.0 << false << "uniform";
    }
    void budgetMeetsTheBytesAndReloads() {
        QFETCH(double, bits);
        QFETCH(bool, calibrate);
        QFETCH(QString, allocation);
        c10::InferenceMode guard;
        QTemporaryDir tmp;
        const std::string out = tmp.filePath("b").toStdString();
        CompressOptions o;
        o.targetBits = bits;
        o.allocation = allocation.toStdString();
        if (calibrate) o.calibration = randomWindows(4, 32, 320, 2);
        CompressionReport r = compressModelDir(kTiny, out, o);
        const double budget = bits * double(r.paramsBefore) / 8.0;
        QCOMPARE(r.budgetBytes, static_cast<std::int64_t>(std::floor(budget)));
        const double bytes = double(fs::file_size(fs::path(out) / "model.safetensors"));
        QVERIFY2(bytes <= budget && bytes >= 0.97 * budget,
                 qPrintable(QString("%1 bytes for a budget of %2 (planned %3)").arg(bytes).arg(budget).arg(r.plannedBytes)));
        QVERIFY2(std::fabs(bytes - double(r.plannedBytes)) <= 0.01 * budget,
                 qPrintable(QString("planned %1, written %2").arg(r.plannedBytes).arg(bytes)));
        // Reloaded (packed for the kernels, and as compute tensors) it computes what was planned.
        PhiModel inMemory = loadPhiModel(Checkpoint::open(kTiny));
        CompressOptions run = o;
        run.storeDtype = "F16";
        compressModel(inMemory, run);
        at::Tensor ids = at::randint(320, {2, 20}, at::detail::createCPUGenerator(4), at::kLong);
        ForwardArgs a;
        a.inputIds = ids;
        const at::Tensor ref = inMemory.forward(a);
        for (const char* weights : {"stored", "compute"}) {
            PhiModel back = loadPhiModel(Checkpoint::open(out), LoadOptions().withWeights(weights));
            const double diff = (back.forward(a) - ref).abs().max().item<double>();
            // fp16 storage of biases and norms is the only difference.
            QVERIFY2(diff < 2e-2 * ref.abs().max().item<double>(), qPrintable(QString("%1: %2").arg(weights).arg(diff)));
        }
        QVERIFY(!r.layers.empty());
        for (const auto& l : r.layers) QVERIFY2(l.bytes > 0, l.name.c_str());
    }

    void budgetRefusesTheUnreachable() {
        QTemporaryDir tmp;
        CompressOptions o;
        o.targetBits = 0.2;
        const QString e = errorOf([&] { compressModelDir(kTiny, tmp.filePath("x").toStdString(), o); });
        QVERIFY2(e.contains("cannot be reached"), qPrintable(e));
        o.targetBits = 4;
        o.storeDtype = "F32";
        QVERIFY(errorOf([&] { compressModelDir(kTiny, tmp.filePath("y").toStdString(), o); }).contains("16-bit"));
    }

    // The default allocation's measured loss is at most the uniform allocation's, with and
    // without calibration (on windows the model itself generates; without calibration the
    // default is the uniform allocation).
    void searchedBudgetNotWorseThanUniform() {
        c10::InferenceMode guard;
        const auto calib = sampledWindows(4, 40, 21);
        const auto held = sampledWindows(4, 40, 22);
        for (bool calibrated : {true, false}) {
            for (double bits : {5.0, 6.0}) {
                CompressOptions o;
                o.targetBits = bits;
                o.storeDtype = "F16";
                if (calibrated) o.calibration = calib;
                PhiModel searched = loadPhiModel(Checkpoint::open(kTiny));
                const CompressionReport rs = compressModel(searched, o);
                QCOMPARE(rs.allocation, std::string(calibrated ? "search" : "uniform"));
                o.allocation = "uniform";
                PhiModel uniform = loadPhiModel(Checkpoint::open(kTiny));
                compressModel(uniform, o);
                const double ls = lossOf(searched, calibrated ? calib : held), lu = lossOf(uniform, calibrated ? calib : held);
                QVERIFY2(ls <= lu + 1e-9, qPrintable(QString("%1 bits, calibrated %2: searched %3, uniform %4").arg(bits).arg(calibrated).arg(ls).arg(lu)));
            }
        }
    }

    // The default rank-search objective (auto: uniform without calibration, loss with it) is not
    // worse than uniform ranks at the same parameter count.
    void defaultRankObjectiveNotWorseThanUniform() {
        c10::InferenceMode guard;
        const auto calib = sampledWindows(4, 40, 31);
        for (bool calibrated : {false, true}) {
            RankSearchOptions ro;
            ro.keepFraction = 0.5;
            if (calibrated) ro.calibration = calib;
            RunContext& ctx = RunContext::none();
            RankSearchResult res = searchRanks(kTiny, ro, ctx);
            QCOMPARE(res.weighting, std::string(calibrated ? "loss" : "uniform"));
            CompressOptions o;
            o.keepFraction = 0.5;
            o.ranks = res.ranks;
            PhiModel searched = loadPhiModel(Checkpoint::open(kTiny));
            compressModel(searched, o);
            CompressOptions u;
            u.keepFraction = 0.5;
            PhiModel uniform = loadPhiModel(Checkpoint::open(kTiny));
            compressModel(uniform, u);
            const double ls = lossOf(searched, calib), lu = lossOf(uniform, calib);
            QVERIFY2(ls <= lu + 1e-9, qPrintable(QString("calibrated %1: searched %2, uniform %3").arg(calibrated).arg(ls).arg(lu)));
        }
    }
};

QTEST_GUILESS_MAIN(TestBudget)
#include "test_budget.moc"
