// The compression job (decompose/compress_job.h), the one use case `qcompress compress` and the
// workbench's compression pane run: its calibration rule (random windows drawn with seed + 17,
// the CLI's defaults), the same compression.json and ranks as the CLI for tiny-phi with random
// calibration and a searched allocation, overrides winning over searched ranks, a ranks file,
// search only, cancellation and one-line errors.
#include "common/error.h"
#include "decompose/compress_job.h"

#include <QDir>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "../common/test_support.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using qcw::test::errorOf;

namespace {

const std::string kTiny = std::string(QCW_TEST_DATA) + "/tiny-phi";

nlohmann::json readJson(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return nlohmann::json::parse(s.str());
}

// compression.json without what differs between two runs (the wall-clock time).
nlohmann::json comparable(nlohmann::json j) {
    j.erase("seconds");
    return j;
}

std::map<std::string, std::vector<int>> ranksOf(const nlohmann::json& report) {
    std::map<std::string, std::vector<int>> out;
    for (const auto& l : report["layers"]) out[l["name"].get<std::string>()] = l["ranks"].get<std::vector<int>>();
    return out;
}

}  // namespace

class TestCompressJob : public QObject {
    Q_OBJECT
private slots:
    // The CLI's rule: N windows of `length` ids, std::mt19937_64(seed + 17) modulo the vocabulary.
    void randomCalibrationIsTheCliRule() {
        QCOMPARE(qcw::CalibrationSpec::kDefaultWindows, 32);
        QCOMPARE(qcw::CalibrationSpec::kDefaultLength, 128);
        qcw::CalibrationSpec spec;
        spec.random = 3;
        spec.length = 16;
        const auto windows = qcw::loadCalibration(spec, kTiny, 5);
        QCOMPARE(windows.size(), std::size_t(3));
        std::mt19937_64 rng(5 + 17);
        for (const auto& w : windows) {
            QCOMPARE(w.size(), std::size_t(16));
            for (std::int64_t t : w) QCOMPARE(t, static_cast<std::int64_t>(rng() % 320));
        }
        QVERIFY(qcw::loadCalibration(qcw::CalibrationSpec{}, kTiny, 0).empty());  // none asked for
    }

    void calibrationErrorsNameTheValue() {
        qcw::CalibrationSpec two;
        two.random = 2;
        two.ids = "/nonexistent/ids.safetensors";
        QVERIFY(errorOf([&] { qcw::loadCalibration(two, kTiny, 0); }).contains("give one of"));
        qcw::CalibrationSpec ids;
        ids.ids = "/nonexistent/ids.safetensors";
        QVERIFY(errorOf([&] { qcw::loadCalibration(ids, kTiny, 0); }).contains("/nonexistent/ids.safetensors"));
        QTemporaryDir empty;
        qcw::CalibrationSpec data;
        data.dataDir = empty.path().toStdString();
        const QString e = errorOf([&] { qcw::loadCalibration(data, kTiny, 0); });
        QVERIFY2(e.contains("calibration data"), qPrintable(e));
    }

    void weightingResolvesAsTheCli() {
        QCOMPARE(qcw::resolveWeighting("auto", true, true), std::string("loss"));
        QCOMPARE(qcw::resolveWeighting("auto", false, true), std::string("spectral"));
        QCOMPARE(qcw::resolveWeighting("auto", false, false), std::string("uniform"));
        QCOMPARE(qcw::resolveWeighting("size", true, true), std::string("size"));
    }

    // `qcompress compress` and the job, given the same settings, write the same compression.json
    // (every field but the time) and the same ranks.
    void cliAndJobGiveTheSameCompression() {
        QTemporaryDir tmp;
        const std::string cliOut = tmp.filePath("cli").toStdString(), jobOut = tmp.filePath("job").toStdString();
        QProcess p;
        p.start(QString(QCW_BIN_DIR) + "/qcompress",
                {"compress", QString::fromStdString(kTiny), "--target-params", "0.4", "--method", "asvd", "--solver",
                 "greedy", "--weighting", "size", "--calib-random", "4", "--calib-length", "32", "--seed", "3", "--out",
                 QString::fromStdString(cliOut)});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());

        qcw::CompressJobOptions o;
        o.modelDir = kTiny;
        o.outDir = jobOut;
        o.compress.keepFraction = 0.4;
        o.compress.method = "asvd";
        o.compress.seed = 3;
        o.compress.storeDtype = "source";  // the CLI's default
        o.solver = "greedy";
        o.weighting = "size";  // the loss weighting's forward passes would make this test slow
        o.calibration.random = 4;
        o.calibration.length = 32;
        const auto r = qcw::runCompressJob(o, qcw::RunContext::none());
        QVERIFY(r.search && r.report);
        QCOMPARE(r.weighting, std::string("size"));
        QCOMPARE(r.calibrationWindows, std::int64_t(4));

        const auto cli = readJson(cliOut + "/compression.json"), job = readJson(jobOut + "/compression.json");
        QCOMPARE(comparable(job).dump(), comparable(cli).dump());
        QCOMPARE(cli["solver"].get<std::string>(), std::string("greedy"));
        QVERIFY(cli["calibrated"].get<bool>());
        QCOMPARE(cli["calibration_tokens"].get<std::int64_t>(), std::int64_t(4 * 32));
        const auto ranks = ranksOf(job);
        QVERIFY(ranks == ranksOf(cli));
        for (const auto& [group, rank] : r.search->ranks) QVERIFY(ranks.at(group) == std::vector<int>{rank});
    }

    // Overrides win over the searched ranks; a ranks file gives the ranks and names the solver.
    void overridesAndRanksFile() {
        QTemporaryDir tmp;
        qcw::CompressJobOptions o;
        o.modelDir = kTiny;
        o.outDir = tmp.filePath("over").toStdString();
        o.compress.keepFraction = 0.5;
        o.solver = "exact";
        o.overrides["model.layers.1.mlp.fc1"] = 5;
        const auto r = qcw::runCompressJob(o, qcw::RunContext::none());
        QCOMPARE(r.weighting, std::string("spectral"));  // a solver without calibration
        QVERIFY(r.search->ranks.at("model.layers.1.mlp.fc1") != 5);
        const auto ranks = ranksOf(readJson(o.outDir + "/compression.json"));
        QVERIFY(ranks.at("model.layers.1.mlp.fc1") == std::vector<int>{5});
        QVERIFY(ranks.at("model.layers.0.mlp.fc1") == std::vector<int>{r.search->ranks.at("model.layers.0.mlp.fc1")});

        const std::string file = tmp.filePath("ranks.json").toStdString();
        std::ofstream(file) << R"({"solver": "anneal", "weighting": "loss", "allocation": [)"
                            << R"({"group": "model.layers.0.self_attn.q_proj", "rank": 7}]})";
        qcw::CompressJobOptions f;
        f.modelDir = kTiny;
        f.outDir = tmp.filePath("file").toStdString();
        f.ranksFile = file;
        qcw::runCompressJob(f, qcw::RunContext::none());
        const auto fromFile = readJson(f.outDir + "/compression.json");
        QCOMPARE(fromFile["solver"].get<std::string>(), std::string("anneal+loss"));
        QVERIFY(ranksOf(fromFile).at("model.layers.0.self_attn.q_proj") == std::vector<int>{7});
    }

    void searchOnlyWritesNothing() {
        QTemporaryDir tmp;
        qcw::CompressJobOptions o;
        o.modelDir = kTiny;
        o.searchOnly = true;
        o.solver = "greedy";
        long long allocations = 0;
        o.onAllocation = [&](const std::map<std::string, int>& ranks, long long) {
            QVERIFY(!ranks.empty());
            ++allocations;
        };
        const auto r = qcw::runCompressJob(o, qcw::RunContext::none());
        QVERIFY(r.search && !r.report);
        QVERIFY(allocations > 0);
        QVERIFY(QDir(tmp.path()).isEmpty());
    }

    void cancelledBeforeItStarts() {
        QTemporaryDir tmp;
        qcw::CompressJobOptions o;
        o.modelDir = kTiny;
        o.outDir = tmp.filePath("out").toStdString();
        qcw::RunContext ctx;
        ctx.cancel();
        bool cancelled = false;
        try {
            qcw::runCompressJob(o, ctx);
        } catch (const qcw::Cancelled&) {
            cancelled = true;
        }
        QVERIFY(cancelled);
        QVERIFY(!std::filesystem::exists(o.outDir));
    }

    void badRequestsAreOneLineErrors() {
        qcw::CompressJobOptions o;
        o.modelDir = kTiny;
        o.searchOnly = true;
        QVERIFY(errorOf([&] { qcw::runCompressJob(o, qcw::RunContext::none()); }).contains("needs a solver"));
        o.searchOnly = false;
        QVERIFY(errorOf([&] { qcw::runCompressJob(o, qcw::RunContext::none()); }).contains("output folder"));
        o.outDir = "/tmp/never-written";
        o.solver = "exact";
        o.compress.method = "tucker";
        QVERIFY(errorOf([&] { qcw::runCompressJob(o, qcw::RunContext::none()); }).contains("per-matrix methods"));
        o.compress.method = "svd";
        o.solver.clear();
        o.weighting = "loss";
        QVERIFY(errorOf([&] { qcw::runCompressJob(o, qcw::RunContext::none()); }).contains("give a solver"));
        o.weighting = "auto";
        o.overrides["model.layers.0.mlp.fc1"] = 0;
        QVERIFY(errorOf([&] { qcw::runCompressJob(o, qcw::RunContext::none()); }).contains("at least 1"));
        QVERIFY(!std::filesystem::exists("/tmp/never-written"));
    }
};

QTEST_GUILESS_MAIN(TestCompressJob)
#include "test_compress_job.moc"
