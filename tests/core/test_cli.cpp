// The qcompress command-line contract (shared docs CLI.md): JSON on stdout, one-line errors
// naming the file or value, non-zero exit codes.
#include "io/safetensors.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <cstring>
#include <fstream>

namespace {

struct Run {
    int code = -1;
    QString out, err;
};

Run qcompress(const QStringList& args, int timeoutMs = 120000) {
    QProcess p;
    p.start(QString(QCW_BIN_DIR) + "/qcompress", args);
    Run r;
    if (!p.waitForFinished(timeoutMs)) {
        p.kill();
        r.err = "timed out";
        return r;
    }
    r.code = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;
    r.out = QString::fromUtf8(p.readAllStandardOutput());
    r.err = QString::fromUtf8(p.readAllStandardError());
    return r;
}

const QString kTiny = QString(QCW_TEST_DATA) + "/tiny-phi";

std::vector<float> floats(const qcw::TensorView& v) {
    std::vector<float> out(static_cast<std::size_t>(v.numel()));
    std::memcpy(out.data(), v.data, v.nbytes);
    return out;
}

}  // namespace

class TestCli : public QObject {
    Q_OBJECT
private slots:
    void inspectJson() {
        Run r = qcompress({"inspect", kTiny, "--json"});
        QCOMPARE(r.code, 0);
        QJsonParseError perr;
        QJsonDocument doc = QJsonDocument::fromJson(r.out.toUtf8(), &perr);
        QVERIFY2(perr.error == QJsonParseError::NoError, qPrintable("stdout is not one JSON object: " + r.out));
        QJsonObject o = doc.object();
        QCOMPARE(o["architecture"].toString(), QString("PhiForCausalLM"));
        QCOMPARE(o["params"].toInteger(), 190976);
        QCOMPARE(o["dtype"].toString(), QString("F32"));
        QJsonArray layers = o["layers"].toArray();
        QCOMPARE(layers.size(), 47);
        for (const char* key : {"name", "shape", "params", "dtype", "kind", "compressible"})
            QVERIFY2(layers[0].toObject().contains(key), key);
        QCOMPARE(layers.last().toObject()["name"].toString(), QString("lm_head.weight"));
    }

    void inspectSpectra() {
        Run r = qcompress({"inspect", kTiny, "--json", "--spectra"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QJsonArray sp = QJsonDocument::fromJson(r.out.toUtf8()).object()["spectra"].toArray();
        QCOMPARE(sp.size(), 20);  // 3 x 6 decoder matrices + embedding + lm_head
        for (const auto& v : sp) {
            QJsonObject m = v.toObject();
            const QJsonArray s = m["singular_values"].toArray();
            QVERIFY(s.size() == 64);  // min(m, n) for every matrix of the fixture
            for (int i = 1; i < s.size(); ++i) QVERIFY(s[i].toDouble() <= s[i - 1].toDouble());
            QVERIFY(m["entropy"].toDouble() > 0 && m["entropy"].toDouble() <= std::log(64.0) + 1e-9);
            QVERIFY(std::fabs(std::exp(m["entropy"].toDouble()) - m["effective_rank"].toDouble()) < 1e-6);
        }
    }

    void rankSearchAndSearchedCompression() {
        double uniform = 0;
        for (const char* solver : {"exact", "greedy", "anneal", "sqa"}) {
            Run r = qcompress({"ranks", kTiny, "--target-params", "0.5", "--solver", solver, "--json"});
            QVERIFY2(r.code == 0, qPrintable(r.err));
            QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
            for (const char* key : {"solver", "objective", "params_after", "allocation", "seconds"}) QVERIFY2(o.contains(key), key);
            QCOMPARE(o["solver"].toString(), QString(solver));
            QVERIFY(o["params_after"].toInteger() <= qint64(0.5 * 190976));
            QCOMPARE(o["allocation"].toArray().size(), 19);  // 18 decoder matrices + lm_head
            // The searched allocation never predicts more error than uniform ranks at the same budget.
            uniform = o["uniform_objective"].toDouble();
            QVERIFY(o["objective"].toDouble() <= uniform + 1e-12);
        }
        QTemporaryDir tmp;
        Run c = qcompress({"compress", kTiny, "--target-params", "0.5", "--solver", "exact", "--out", tmp.filePath("c"), "--json"});
        QVERIFY2(c.code == 0, qPrintable(c.err));
        QJsonObject rep = QJsonDocument::fromJson(c.out.toUtf8()).object();
        QCOMPARE(rep["solver"].toString(), QString("exact"));
        QVERIFY(rep["params_after"].toInteger() <= qint64(0.5 * 190976));
        // Spectra of the compressed snapshot: each factorized layer's rebuilt matrix has the rank
        // it was given, and the dense embedding is listed as before.
        Run sp = qcompress({"inspect", tmp.filePath("c"), "--json", "--spectra"});
        QVERIFY2(sp.code == 0, qPrintable(sp.err));
        QMap<QString, int> ranks;
        for (const auto& l : rep["layers"].toArray())
            ranks[l.toObject()["name"].toString() + ".weight"] = l.toObject()["ranks"].toArray()[0].toInt();
        QCOMPARE(ranks.size(), 19);
        int factorized = 0;
        for (const auto& v : QJsonDocument::fromJson(sp.out.toUtf8()).object()["spectra"].toArray()) {
            const QJsonObject m = v.toObject();
            const QString name = m["name"].toString();
            if (name == "model.embed_tokens.weight") {
                QCOMPARE(m["storage"].toString(), QString("dense"));
                continue;
            }
            QVERIFY2(ranks.contains(name), qPrintable(name));
            QCOMPARE(m["storage"].toString(), QString("svd"));
            QCOMPARE(m["numerical_rank"].toInt(), ranks[name]);
            ++factorized;
        }
        QCOMPARE(factorized, 19);
        // Loss weighting: measured per matrix on calibration windows; refused without them.
        Run lw = qcompress({"ranks", kTiny, "--target-params", "0.5", "--weighting", "loss", "--calib-random", "4",
                            "--calib-length", "32", "--json"});
        QVERIFY2(lw.code == 0, qPrintable(lw.err));
        const QJsonObject lwo = QJsonDocument::fromJson(lw.out.toUtf8()).object();
        QCOMPARE(lwo["weighting"].toString(), QString("loss"));
        QCOMPARE(lwo["sensitivity"].toArray().size(), 19);
        QVERIFY(lwo["objective"].toDouble() <= lwo["uniform_objective"].toDouble() + 1e-12);
        // Searched once, used by compress --ranks: the layers get exactly those ranks.
        {
            QFile f(tmp.filePath("ranks.json"));
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(lw.out.toUtf8());
            f.close();
            Run cr = qcompress({"compress", kTiny, "--target-params", "0.5", "--ranks", tmp.filePath("ranks.json"), "--out",
                                tmp.filePath("cr"), "--json"});
            QVERIFY2(cr.code == 0, qPrintable(cr.err));
            const QJsonObject crep = QJsonDocument::fromJson(cr.out.toUtf8()).object();
            QCOMPARE(crep["solver"].toString(), QString("exact+loss"));
            QMap<QString, int> want;
            for (const auto& a : lwo["allocation"].toArray()) want[a.toObject()["group"].toString()] = a.toObject()["rank"].toInt();
            QCOMPARE(want.size(), 19);
            for (const auto& l : crep["layers"].toArray())
                QCOMPARE(l.toObject()["ranks"].toArray()[0].toInt(), want.value(l.toObject()["name"].toString()));
            QFile bad(tmp.filePath("bad.json"));
            QVERIFY(bad.open(QIODevice::WriteOnly));
            bad.write("{\"solver\": \"exact\"}");
            bad.close();
            Run br = qcompress({"compress", kTiny, "--target-params", "0.5", "--ranks", tmp.filePath("bad.json"), "--out",
                                tmp.filePath("br")});
            QVERIFY(br.code > 0);
            QVERIFY2(br.err.trimmed().split('\n').last().contains("has no 'allocation' array"), qPrintable(br.err));
        }
        Run lwDev = qcompress({"ranks", kTiny, "--target-params", "0.5", "--weighting", "loss", "--calib-random", "2",
                               "--calib-length", "32", "--device", "tpu"});
        QVERIFY(lwDev.code > 0);
        QVERIFY2(lwDev.err.trimmed().split('\n').last().contains("--device tpu: unknown device"), qPrintable(lwDev.err));
        Run lwBad = qcompress({"ranks", kTiny, "--target-params", "0.5", "--weighting", "loss"});
        QVERIFY(lwBad.code > 0);
        QVERIFY2(lwBad.err.trimmed().split('\n').last().contains("--weighting loss: needs calibration"), qPrintable(lwBad.err));
        Run q = qcompress({"ranks", kTiny, "--target-params", "0.5", "--solver", "qaoa"});
        QVERIFY(q.code > 0);
        // Progress lines may come first; the error is the last line, alone.
        const QString last = q.err.trimmed().split('\n').last();
        QVERIFY2(last.startsWith("qcompress: qaoa:") && last.contains("qubits"), qPrintable(q.err));
    }

    void forwardMatchesReference() {
        QTemporaryDir tmp;
        const QString out = tmp.filePath("logits.safetensors");
        Run r = qcompress({"forward", kTiny, "--ids", kTiny + "/reference.safetensors", "--out", out});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        auto got = qcw::SafetensorsFile::open(out.toStdString());
        auto ref = qcw::SafetensorsFile::open((kTiny + "/reference.safetensors").toStdString());
        const qcw::TensorView* g = got->find("logits");
        QVERIFY(g);
        QCOMPARE(g->dtype, qcw::DType::F32);
        QCOMPARE(g->shape, (std::vector<std::int64_t>{2, 24, 320}));
        auto a = floats(*g), b = floats(*ref->find("logits"));
        double worst = 0;
        for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
        QVERIFY2(worst <= 1e-4, qPrintable(QString::number(worst)));
    }

    void generateGreedyMatchesReference() {
        Run r = qcompress({"generate", kTiny, "--ids", "73,5,38,193,231,87,247,157,82,47", "--max-new-tokens", "12",
                           "--greedy", "--json"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QJsonArray ids = QJsonDocument::fromJson(r.out.toUtf8()).object()["ids"].toArray();
        QCOMPARE(ids.size(), 22);
        for (int i = 10; i < 22; ++i) QCOMPARE(ids[i].toInt(), 238);
    }

    void errorsAreOneLineAndNameTheCulprit_data() {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("expected");
        QTest::newRow("missing model dir") << QStringList{"inspect", "/nonexistent/model"} << "/nonexistent/model: model directory not found";
        QTest::newRow("bad ids") << QStringList{"generate", kTiny, "--ids", "1,x,3"} << "--ids: 'x' is not an integer";
        QTest::newRow("text without tokenizer") << QStringList{"generate", kTiny, "--prompt", "hello"} << "need a tokenizer";
        QTest::newRow("ids file without input_ids")
            << QStringList{"forward", kTiny, "--ids", kTiny + "/model.safetensors", "--out", "/tmp/x.safetensors"}
            << "has no tensor named 'input_ids'";
        QTest::newRow("token out of vocabulary") << QStringList{"generate", kTiny, "--ids", "5,9999"} << "token id 9999";
        QTest::newRow("unknown device") << QStringList{"generate", kTiny, "--ids", "5", "--device", "tpu"} << "--device tpu";
    }
    void errorsAreOneLineAndNameTheCulprit() {
        QFETCH(QStringList, args);
        QFETCH(QString, expected);
        Run r = qcompress(args);
        QVERIFY(r.code != 0);
        QVERIFY(r.code > 0);  // an error exit, not a crash
        const QString line = r.err.trimmed();
        QVERIFY2(line.contains(expected), qPrintable(line));
        QVERIFY2(!line.contains('\n'), qPrintable("more than one line: " + line));
    }

    void pickleIsRefused() {
        QTemporaryDir tmp;
        QFile::copy(kTiny + "/config.json", tmp.filePath("config.json"));
        std::ofstream(tmp.filePath("pytorch_model.bin").toStdString()) << "\x80\x02cos\nsystem\n(S'touch " << tmp.filePath("pwned").toStdString() << "'\ntR.";
        Run r = qcompress({"inspect", tmp.path()});
        QVERIFY(r.code > 0);
        QVERIFY2(r.err.contains("pytorch_model.bin") && r.err.contains("refused"), qPrintable(r.err));
        QVERIFY(!QFile::exists(tmp.filePath("pwned")));
    }

    void trainedTokenizerGivesTextPrompts() {
        // A byte-level BPE trained here to the tiny model's 320-id vocabulary, put beside a copy
        // of the model: --prompt then works and the continuation comes back as text.
        QTemporaryDir tmp;
        QDir().mkpath(tmp.filePath("corpus"));
        QDir().mkpath(tmp.filePath("model"));
        for (const char* f : {"config.json", "model.safetensors"}) QFile::copy(kTiny + "/" + f, tmp.filePath(QString("model/") + f));
        QFile::copy(QString(QCW_SOURCE_DIR) + "/resources/corpus/runbooks/failover-test.md", tmp.filePath("corpus/a.md"));
        Run t = qcompress({"tokenize", "train", "--corpus", tmp.filePath("corpus"), "--vocab-size", "300", "--out",
                           tmp.filePath("model/tokenizer.json")});
        QVERIFY2(t.code == 0, qPrintable(t.err));
        Run g = qcompress({"generate", tmp.filePath("model"), "--prompt", "failover test", "--max-new-tokens", "6",
                           "--greedy", "--json"});
        QVERIFY2(g.code == 0, qPrintable(g.err));
        QJsonObject o = QJsonDocument::fromJson(g.out.toUtf8()).object();
        QVERIFY(o.contains("text"));
        QVERIFY(o["prompt_tokens"].toInt() > 0 && o["prompt_tokens"].toInt() < 13);
        QCOMPARE(o["new_tokens"].toInt(), 6);
        Run ids = qcompress({"tokenize", tmp.filePath("model"), "--text-file", tmp.filePath("corpus/a.md"), "--json"});
        QVERIFY2(ids.code == 0, qPrintable(ids.err));
        QVERIFY(QJsonDocument::fromJson(ids.out.toUtf8()).object()["ids"].toArray().size() > 100);
        // Without a tokenizer, text is refused with a clear message (see the table above).
    }

    void pretrainingPipelineInMiniature() {
        // scripts/demo/make-demo-model.sh in miniature: scrubbed dataset -> tokenizer -> fresh
        // model -> train with a 16-bit export -> held-out perplexity against the unigram
        // baseline -> calibrated compression -> memorisation probe.
        QTemporaryDir tmp;
        const QString corpus = tmp.filePath("corpus");
        QDir().mkpath(corpus + "/notes");
        for (const char* f : {"runbooks/failover-test.md", "runbooks/add-new-spoke.md", "onboarding/glossary.md"})
            QFile::copy(QString(QCW_SOURCE_DIR) + "/resources/corpus/" + f, corpus + "/" + QFileInfo(f).fileName());
        const std::string secret = "Quartz-Lantern-4417!";
        std::ofstream(QString(corpus + "/notes/admin.md").toStdString())
            << "# Admin notes\n\nThe break-glass account for the hub firewall uses password: " << secret
            << "\nRotate it every quarter and log the change.\n";
        Run d = qcompress({"data", "build", "--in", corpus, "--out", tmp.filePath("data"), "--eval-fraction", "0.34", "--json"});
        QVERIFY2(d.code == 0, qPrintable(d.err));
        QFile ds(tmp.filePath("data/dataset.jsonl"));
        QVERIFY(ds.open(QIODevice::ReadOnly));
        QVERIFY(!ds.readAll().contains(QByteArray::fromStdString(secret)));  // scrubbed before anything trains on it

        Run t = qcompress({"tokenize", "train", "--corpus", tmp.filePath("data"), "--vocab-size", "300", "--special",
                           "<|endoftext|>", "--out", tmp.filePath("tokenizer.json"), "--json"});
        QVERIFY2(t.code == 0, qPrintable(t.err));
        QJsonObject tj = QJsonDocument::fromJson(t.out.toUtf8()).object();
        QVERIFY(tj["files"].toInt() >= 1);  // records of dataset.jsonl, not files of the folder

        // A fresh model in the tiny shape with that tokenizer; end-of-text is id 0.
        QJsonObject cfg = QJsonDocument::fromJson([&] { QFile f(kTiny + "/config.json"); f.open(QIODevice::ReadOnly); return f.readAll(); }()).object();
        cfg["eos_token_id"] = 0;
        cfg["bos_token_id"] = 0;
        { QFile f(tmp.filePath("config.json")); QVERIFY(f.open(QIODevice::WriteOnly)); f.write(QJsonDocument(cfg).toJson()); }
        Run s = qcompress({"synth", "--config", tmp.filePath("config.json"), "--spectrum", "init", "--dtype", "F32",
                           "--tokenizer", tmp.filePath("tokenizer.json"), "--out", tmp.filePath("init"), "--json"});
        QVERIFY2(s.code == 0, qPrintable(s.err));
        QVERIFY(QFile::exists(tmp.filePath("init/tokenizer.json")));
        {
            auto f = qcw::SafetensorsFile::open(tmp.filePath("init/model.safetensors").toStdString());
            for (float x : floats(*f->find("model.layers.0.input_layernorm.weight"))) QCOMPARE(x, 1.0f);
            for (float x : floats(*f->find("model.layers.1.mlp.fc1.bias"))) QCOMPARE(x, 0.0f);
            double ss = 0;
            auto w = floats(*f->find("model.layers.0.mlp.fc1.weight")), o = floats(*f->find("model.layers.0.mlp.fc2.weight"));
            for (float x : w) ss += double(x) * x;
            QVERIFY(std::fabs(std::sqrt(ss / double(w.size())) - 0.02) < 0.002);  // N(0, 0.02)
            ss = 0;
            for (float x : o) ss += double(x) * x;
            QVERIFY(std::fabs(std::sqrt(ss / double(o.size())) - 0.02 / std::sqrt(6.0)) < 0.001);  // scaled by 1/sqrt(2 L)
        }

        Run tr = qcompress({"train", "--student", tmp.filePath("init"), "--out", tmp.filePath("run"), "--data", tmp.filePath("data"),
                            "--steps", "30", "--batch", "4", "--seq-len", "32", "--lr", "3e-3", "--eval-every", "10",
                            "--eval-windows", "2", "--export-dtype", "F16", "--json"});
        QVERIFY2(tr.code == 0, qPrintable(tr.err));
        QJsonObject tro = QJsonDocument::fromJson(tr.out.toUtf8()).object();
        QCOMPARE(tro["eval_windows"].toInt(), 2);
        Run in = qcompress({"inspect", tmp.filePath("run/model"), "--json"});
        QCOMPARE(QJsonDocument::fromJson(in.out.toUtf8()).object()["dtype"].toString(), QString("F16"));

        Run e = qcompress({"eval", tmp.filePath("run/model"), "--data", tmp.filePath("data"), "--unigram", tmp.filePath("data"),
                           "--max-tokens", "300", "--window", "64", "--json"});
        QVERIFY2(e.code == 0, qPrintable(e.err));
        QJsonObject eo = QJsonDocument::fromJson(e.out.toUtf8()).object();
        QVERIFY(eo["tokens"].toInt() > 0 && eo["tokens"].toInt() < 300);
        QVERIFY(eo["unigram_perplexity"].toDouble() > 1.0 && eo["perplexity"].toDouble() > 1.0);
        QVERIFY2(eo["perplexity"].toDouble() < 320.0, qPrintable(e.out));  // it learned something

        Run c = qcompress({"compress", tmp.filePath("run/model"), "--target-params", "0.6", "--method", "asvd", "--calib-data",
                           tmp.filePath("data"), "--calib-windows", "4", "--calib-length", "32", "--out", tmp.filePath("c"), "--json"});
        QVERIFY2(c.code == 0, qPrintable(c.err));
        QJsonObject co = QJsonDocument::fromJson(c.out.toUtf8()).object();
        QVERIFY(co["calibrated"].toBool());
        QCOMPARE(co["calibration_tokens"].toInt(), 4 * 32);

        std::ofstream(tmp.filePath("secrets.jsonl").toStdString())
            << "{\"file\":\"notes/admin.md\",\"kind\":\"password\",\"secret\":\"" << secret << "\"}\n";
        Run p = qcompress({"probe", tmp.filePath("run/model"), "--secrets", tmp.filePath("secrets.jsonl"), "--corpus", corpus, "--json"});
        QVERIFY2(p.code == 0, qPrintable(p.err));
        QJsonObject po = QJsonDocument::fromJson(p.out.toUtf8()).object();
        QCOMPARE(po["probed"].toInt(), 1);
        QCOMPARE(po["leaked"].toInt(), 0);
        QVERIFY(po["longest_prefix_chars"].toInt() < int(secret.size()));

        // Misuse gets one line naming the value.
        Run bad = qcompress({"compress", tmp.filePath("run/model"), "--target-params", "0.5", "--calib-data", tmp.filePath("data"),
                             "--calib-random", "2", "--out", tmp.filePath("c2")});
        QVERIFY(bad.code > 0 && bad.err.contains("one of --calib"));
        cfg["vocab_size"] = 200;
        { QFile f(tmp.filePath("small.json")); QVERIFY(f.open(QIODevice::WriteOnly)); f.write(QJsonDocument(cfg).toJson()); }
        bad = qcompress({"synth", "--config", tmp.filePath("small.json"), "--tokenizer", tmp.filePath("tokenizer.json"), "--out", tmp.filePath("s2")});
        QVERIFY2(bad.code > 0 && bad.err.contains("more than the config's vocab_size 200"), qPrintable(bad.err));
        bad = qcompress({"train", "--student", tmp.filePath("init"), "--out", tmp.filePath("run2"), "--data", tmp.filePath("data"),
                         "--export-dtype", "F8"});
        QVERIFY2(bad.code > 0 && bad.err.contains("--export-dtype F8"), qPrintable(bad.err));
        QVERIFY(!QDir(tmp.filePath("run2/checkpoints")).exists() || QDir(tmp.filePath("run2/checkpoints")).isEmpty());
    }

    void benchReportsLatencyPercentiles() {
        Run r = qcompress({"bench", kTiny, "--prefill-tokens", "16", "--decode-tokens", "12", "--batch", "2", "--json"});
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(o["batch"].toInt(), 2);
        QCOMPARE(o["decode_tokens"].toInt(), 2 * 12);
        QVERIFY(o["time_to_first_token_ms"].toDouble() > 0);
        QJsonObject steps = o["decode_step_ms"].toObject();
        QVERIFY(steps["p50"].toDouble() > 0);
        QVERIFY(steps["p50"].toDouble() <= steps["p90"].toDouble() && steps["p90"].toDouble() <= steps["p99"].toDouble());
        QVERIFY(std::fabs(o["weights_mb"].toDouble() - 190976 * 4 / 1e6) < 1e-6);  // fp32 weights of the fixture
    }

    void synthThenInspectAndDemo() {
        QTemporaryDir tmp;
        const QString dir = tmp.filePath("synthetic");
        Run s = qcompress({"synth", "--shape", "tiny", "--dtype", "BF16", "--shard-mb", "0.1", "--out", dir, "--json"});
        QVERIFY2(s.code == 0, qPrintable(s.err));
        Run r = qcompress({"inspect", dir, "--json"});
        QCOMPARE(r.code, 0);
        QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(o["params"].toInteger(), 190976);
        QCOMPARE(o["dtype"].toString(), QString("BF16"));
        // A second synth into the same directory refuses to overwrite it.
        Run again = qcompress({"synth", "--shape", "tiny", "--out", dir});
        QVERIFY(again.code > 0);
        QVERIFY2(again.err.contains("not empty"), qPrintable(again.err));
        Run d = qcompress({"demo", dir, "--max-new-tokens", "4"});
        QVERIFY2(d.code == 0, qPrintable(d.err));
        QVERIFY(d.out.contains("lm_head.weight"));
        QVERIFY(d.out.contains("greedy"));
    }
};

QTEST_APPLESS_MAIN(TestCli)
#include "test_cli.moc"
