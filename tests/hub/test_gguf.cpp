// GGUF export: the container read back, the Q8_0 / Q4_0 blocks, and the exported files run by
// llama.cpp itself (the npm package node-llama-cpp, installed by scripts/npm-test-deps.sh into
// BUILD/npm): its logits within 5e-3 of `qcompress forward` at F32 and F16 on the tiny-phi
// fixture and the demo model, and the demo model's tokenizer giving the same ids in llama.cpp
// as in the project. A missing node-llama-cpp fails the llama.cpp cases with a message saying so.
#include "export/gguf.h"
#include "io/safetensors.h"

#include <nlohmann/json.hpp>

#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <random>

using json = nlohmann::json;

namespace {

const QString kBin = QStringLiteral(QCW_BIN_DIR "/qcompress");
const QString kNpm = QStringLiteral(QCW_NPM_DIR);
const QString kPeer = QStringLiteral(QCW_SOURCE_DIR "/tests/hub/llama_peer.mjs");

// Runs a program; returns its stderr when it fails, empty on success.
QString run(const QString& prog, const QStringList& args, QByteArray* out = nullptr, int timeoutMs = 240000) {
    QProcess p;
    auto env = QProcessEnvironment::systemEnvironment();
    env.insert("QCW_NPM_DIR", kNpm);
    p.setProcessEnvironment(env);
    p.start(prog, args);
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        return prog + " timed out";
    }
    if (out) *out = p.readAllStandardOutput();
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return prog + " " + args.join(' ') + " failed: " + QString::fromUtf8(p.readAllStandardError());
    return {};
}

json readJson(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return json();
    return json::parse(f.readAll().toStdString(), nullptr, false);
}

bool writeJson(const QString& path, const json& j) {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) return false;
    f.write(QByteArray::fromStdString(j.dump()));
    return true;
}

bool haveLlama() { return QFileInfo::exists(kNpm + "/node_modules/node-llama-cpp/package.json"); }
const char* kNoLlama =
    "node-llama-cpp (llama.cpp for node) is not installed in BUILD/npm; run scripts/npm-test-deps.sh BUILD_DIR "
    "(needs the npm registry). The GGUF export cannot be checked against llama.cpp without it.";

}  // namespace

class TestGguf : public QObject {
    Q_OBJECT
    QString data = QStringLiteral(QCW_TEST_DATA);
    QString demo = QStringLiteral(QCW_SOURCE_DIR "/resources/models/demo-phi");

    // max |llama.cpp - qcompress forward| over every position and vocabulary entry.
    double compareLogits(const QString& model, const QString& type, const QString& weights, int vocab, int length,
                         QString* failure, int* argmaxAgree = nullptr) {
        QTemporaryDir tmp;
        const QString gguf = tmp.filePath("m.gguf");
        *failure = run(kBin, {"export", model, "--gguf", gguf, "--type", type});
        if (!failure->isEmpty()) return -1;
        std::mt19937 rng(7);
        std::vector<std::int64_t> ids(static_cast<std::size_t>(length));
        for (auto& t : ids) t = static_cast<std::int64_t>(rng() % static_cast<unsigned>(vocab));
        const std::string idsFile = tmp.filePath("ids.safetensors").toStdString();
        qcw::writeSafetensors(idsFile, {{"input_ids", qcw::DType::I64, {1, length}, ids.data(), {}}});
        *failure = run(kBin, {"forward", model, "--ids", QString::fromStdString(idsFile), "--out", tmp.filePath("ours.safetensors"),
                              "--weights", weights, "--threads", "2"});
        if (!failure->isEmpty()) return -1;
        json idj = ids;
        writeJson(tmp.filePath("ids.json"), idj);
        *failure = run("node", {kPeer, "logits", gguf, tmp.filePath("ids.json"), tmp.filePath("llama.json")});
        if (!failure->isEmpty()) return -1;
        const json lj = readJson(tmp.filePath("llama.json"));
        auto ours = qcw::SafetensorsFile::open(tmp.filePath("ours.safetensors").toStdString());
        const auto* lo = ours->find("logits");
        if (!lo || !lj.is_object() || lj["rows"].size() != static_cast<std::size_t>(length) || lj["n_vocab"] != vocab) {
            *failure = "logits of unexpected shape";
            return -1;
        }
        const float* p = reinterpret_cast<const float*>(lo->data);
        double maxDiff = 0;
        int agree = 0;
        for (int t = 0; t < length; ++t) {
            const auto& row = lj["rows"][static_cast<std::size_t>(t)];
            int am = 0, bm = 0;
            for (int v = 0; v < vocab; ++v) {
                const double a = p[t * vocab + v], b = row[static_cast<std::size_t>(v)].get<double>();
                maxDiff = std::max(maxDiff, std::fabs(a - b));
                if (a > p[t * vocab + am]) am = v;
                if (b > row[static_cast<std::size_t>(bm)].get<double>()) bm = v;
            }
            agree += am == bm;
        }
        if (argmaxAgree) *argmaxAgree = agree;
        return maxDiff;
    }

private slots:
    void quantizedBlocks() {
        std::mt19937 rng(3);
        std::normal_distribution<float> nd(0, 0.05f);
        std::vector<float> x(32 * 64);
        for (auto& v : x) v = nd(rng);
        x[5] = 0.4f;  // a block whose largest value is positive
        x[40] = -0.3f;
        std::vector<std::uint8_t> q8(x.size() / 32 * 34), q4(x.size() / 32 * 18);
        qcw::quantizeQ8_0(x.data(), static_cast<std::int64_t>(x.size()), q8.data());
        qcw::quantizeQ4_0(x.data(), static_cast<std::int64_t>(x.size()), q4.data());
        std::vector<float> y8(x.size()), y4(x.size());
        qcw::dequantizeQ8_0(q8.data(), static_cast<std::int64_t>(x.size()), y8.data());
        qcw::dequantizeQ4_0(q4.data(), static_cast<std::int64_t>(x.size()), y4.data());
        for (std::size_t b = 0; b < x.size() / 32; ++b) {
            float amax = 0;
            for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
            for (int j = 0; j < 32; ++j) {
                const std::size_t i = b * 32 + j;
                // Half a step, plus the fp16 rounding of the scale times the largest |q| (127 * 2^-11
                // steps); Q4_0 clamps +8 to 7, so a value opposite the block's extreme can be a whole
                // step off.
                QVERIFY(std::fabs(y8[i] - x[i]) <= amax / 127 * 0.57f + 1e-6f);
                QVERIFY(std::fabs(y4[i] - x[i]) <= amax / 8 * 1.01f + 1e-5f);
            }
        }
        // Q4_0: the largest-magnitude value maps to nibble 0 (d = m / -8), element j in the low
        // nibble of byte j, element j + 16 in the high one.
        QCOMPARE(q4[2 + 5] & 0x0f, 0);
        QVERIFY(std::fabs(y4[5] - 0.4f) < 1e-3f);  // -8 * d, d = 0.4 / -8 rounded to fp16
    }

    void headerReadBack() {
        QTemporaryDir tmp;
        const QString gguf = tmp.filePath("tiny.gguf");
        QByteArray out;
        QString e = run(kBin, {"export", data + "/tiny-phi", "--gguf", gguf, "--type", "q8_0", "--modelfile", "--json"}, &out);
        QVERIFY2(e.isEmpty(), qPrintable(e));
        const json j = json::parse(out.toStdString());
        QCOMPARE(j["tensors"].get<int>(), 1 + 3 * 14 + 4);
        QCOMPARE(j["types"]["Q8_0"].get<int>(), 3 * 6 + 2);
        const auto info = qcw::readGgufInfo(gguf.toStdString());
        QCOMPARE(info.version, 3u);
        QCOMPARE(QString::fromStdString(info.meta.at("general.architecture")), QStringLiteral("phi2"));
        QCOMPARE(QString::fromStdString(info.meta.at("phi2.block_count")), QStringLiteral("3"));
        QCOMPARE(QString::fromStdString(info.meta.at("phi2.embedding_length")), QStringLiteral("64"));
        QCOMPARE(QString::fromStdString(info.meta.at("phi2.rope.dimension_count")), QStringLiteral("8"));
        QCOMPARE(QString::fromStdString(info.meta.at("tokenizer.ggml.tokens")), QStringLiteral("[320]"));
        QCOMPARE(int(info.tensors.size()), j["tensors"].get<int>());
        QCOMPARE(QString::fromStdString(info.tensors[0].name), QStringLiteral("token_embd.weight"));
        QCOMPARE(info.tensors[0].dims, (std::vector<std::int64_t>{64, 320}));  // ggml order
        QCOMPARE(info.tensors[0].type, 8u);
        QCOMPARE(QFileInfo(gguf).size(), j["bytes"].get<qint64>());
        QVERIFY(QFileInfo::exists(tmp.filePath("Modelfile")));
        QFile mf(tmp.filePath("Modelfile"));
        QVERIFY(mf.open(QIODevice::ReadOnly));
        QVERIFY(mf.readAll().contains("FROM ./tiny.gguf"));
        // Bad input: one line naming the value.
        e = run(kBin, {"export", data + "/tiny-phi", "--gguf", tmp.filePath("x.gguf"), "--type", "q5_k"});
        QVERIFY(e.contains("q5_k"));
        e = run(kBin, {"export", tmp.filePath("nowhere"), "--gguf", tmp.filePath("x.gguf")});
        QVERIFY2(e.contains("nowhere"), qPrintable(e));
        QVERIFY(!QFileInfo::exists(tmp.filePath("x.gguf")));
    }

    void llamaCppLogitsFixture_data() {
        QTest::addColumn<QString>("type");
        QTest::addColumn<QString>("weights");
        QTest::newRow("f32") << "f32" << "f32";
        QTest::newRow("f16") << "f16" << "f16";
    }
    void llamaCppLogitsFixture() {
        QVERIFY2(haveLlama(), kNoLlama);
        QFETCH(QString, type);
        QFETCH(QString, weights);
        QString failure;
        int agree = 0;
        const double d = compareLogits(data + "/tiny-phi", type, weights, 320, 24, &failure, &agree);
        QVERIFY2(failure.isEmpty(), qPrintable(failure));
        qInfo("tiny-phi %s: max |llama.cpp - qcompress| = %.3g, argmax agree %d/24", qPrintable(type), d, agree);
        QVERIFY2(d < 5e-3, qPrintable(QString::number(d)));
    }

    void llamaCppLogitsDemo_data() { llamaCppLogitsFixture_data(); }
    void llamaCppLogitsDemo() {
        QVERIFY2(haveLlama(), kNoLlama);
        QFETCH(QString, type);
        QFETCH(QString, weights);
        QString failure;
        int agree = 0;
        const double d = compareLogits(demo, type, weights, 4096, 32, &failure, &agree);
        QVERIFY2(failure.isEmpty(), qPrintable(failure));
        qInfo("demo-phi %s: max |llama.cpp - qcompress| = %.3g, argmax agree %d/32", qPrintable(type), d, agree);
        QVERIFY2(d < 5e-3, qPrintable(QString::number(d)));
    }

    // A factorized model exports by rebuilding its dense weights: llama.cpp on that file gives
    // the factorized model's own logits, and the export says what the rebuild costs.
    void llamaCppLogitsFactorized() {
        QVERIFY2(haveLlama(), kNoLlama);
        QTemporaryDir tmp;
        const QString svd = tmp.filePath("svd");
        QString e = run(kBin, {"compress", data + "/tiny-phi", "--target-params", "0.5", "--method", "svd", "--out", svd});
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QByteArray out;
        e = run(kBin, {"export", svd, "--gguf", tmp.filePath("svd.gguf"), "--type", "f32", "--json"}, &out);
        QVERIFY2(e.isEmpty(), qPrintable(e));
        const json j = json::parse(out.toStdString());
        QVERIFY(j["rebuilt_dense"].size() >= 18);  // every linear map of the 3 blocks at least
        QVERIFY(j["bytes"].get<double>() > j["source_bytes"].get<double>());
        QString failure;
        int agree = 0;
        const double d = compareLogits(svd, "f32", "f32", 320, 24, &failure, &agree);
        QVERIFY2(failure.isEmpty(), qPrintable(failure));
        qInfo("tiny-phi svd 50%%, f32: max |llama.cpp - qcompress| = %.3g, argmax agree %d/24", d, agree);
        QVERIFY2(d < 5e-3, qPrintable(QString::number(d)));
    }

    // Quantized files load in llama.cpp and stay close to the dense model.
    void llamaCppQuantized() {
        QVERIFY2(haveLlama(), kNoLlama);
        for (const char* type : {"q8_0", "q4_0"}) {
            QString failure;
            int agree = 0;
            const double d = compareLogits(demo, type, "f32", 4096, 32, &failure, &agree);
            QVERIFY2(failure.isEmpty(), qPrintable(failure));
            qInfo("demo-phi %s vs qcompress f32: max diff %.3g, argmax agree %d/32", type, d, agree);
            QVERIFY(std::isfinite(d));
            QVERIFY2(agree >= (std::string(type) == "q8_0" ? 28 : 20), qPrintable(QString::number(agree)));
        }
    }

    void llamaCppTokenizer() {
        QVERIFY2(haveLlama(), kNoLlama);
        QTemporaryDir tmp;
        const QString gguf = tmp.filePath("demo.gguf");
        QString e = run(kBin, {"export", demo, "--gguf", gguf, "--type", "f16"});
        QVERIFY2(e.isEmpty(), qPrintable(e));
        const std::vector<std::string> texts = {
            "The quick brown fox jumps over the lazy dog.",
            "def add(a, b):\n    return a + b  # sum\n",
            "Server 10.0.0.12 restarted at 03:15; 1,234 requests dropped (it's fine, isn't it?)",
            "  leading spaces,\ttabs and\n\nnew lines  ",
            "Ünïcödé — naïve café, 東京, emoji \xF0\x9F\x98\x80 done",
        };
        writeJson(tmp.filePath("texts.json"), texts);
        e = run("node", {kPeer, "tokenize", gguf, tmp.filePath("texts.json"), tmp.filePath("ids.json")});
        QVERIFY2(e.isEmpty(), qPrintable(e));
        const json llama = readJson(tmp.filePath("ids.json"));
        QCOMPARE(llama["ids"].size(), texts.size());
        std::size_t total = 0;
        for (std::size_t i = 0; i < texts.size(); ++i) {
            QByteArray out;
            e = run(kBin, {"tokenize", demo, "--text", QString::fromStdString(texts[i]), "--json"}, &out);
            QVERIFY2(e.isEmpty(), qPrintable(e));
            const json ours = json::parse(out.toStdString());
            QVERIFY2(ours["ids"] == llama["ids"][i],
                     qPrintable(QString::fromStdString("text " + std::to_string(i) + ": ours " + ours["ids"].dump() +
                                                       " llama.cpp " + llama["ids"][i].dump())));
            total += ours["ids"].size();
        }
        QVERIFY(total > 50);
    }
};

QTEST_GUILESS_MAIN(TestGguf)
#include "test_gguf.moc"
