// The Hugging Face hub client against a fake hub served by this test (fake_hub.h): the cache
// layout huggingface_hub writes, a clean pull, a pull killed half-way and resumed, a corrupted
// blob refused, a gated repository, 404, 429, offline mode, two snapshots sharing blobs, and
// the pulled folder giving the same logits as its source. Nothing leaves 127.0.0.1.
#include "fake_hub.h"

#include "common/error.h"
#include "common/run_context.h"
#include "hub/hub_cache.h"
#include "hub/hub_pull.h"
#include "io/safetensors.h"
#include "../common/test_support.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace {

std::string readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll().toStdString();
}

const char* kC1 = "1111111111111111111111111111111111111111";
const char* kC2 = "2222222222222222222222222222222222222222";

}  // namespace

class TestHub : public QObject {
    Q_OBJECT

    std::unique_ptr<fakehub::Hub> hub;
    std::string model, config, genConfig;
    QString data = QStringLiteral(QCW_TEST_DATA);

    qcw::hub::PullOptions opts(const QTemporaryDir& cache) const {
        qcw::hub::PullOptions o;
        o.endpoint = hub->url();
        o.cache = cache.path().toStdString();
        o.backoffSeconds = 0.01;
        return o;
    }

    QProcessEnvironment cliEnv(const QTemporaryDir& cache) const {
        auto env = QProcessEnvironment::systemEnvironment();
        env.insert("HF_ENDPOINT", QString::fromStdString(hub->url()));
        env.insert("HF_HUB_CACHE", cache.path());
        env.remove("HF_TOKEN");
        env.remove("HF_HUB_OFFLINE");
        env.insert("QCW_HUB_BACKOFF_S", "0.01");
        return env;
    }

private slots:
    void initTestCase() {
        ::unsetenv("HF_HUB_OFFLINE");
        ::unsetenv("TRANSFORMERS_OFFLINE");
        ::unsetenv("HF_TOKEN");
        model = readAll(data + "/tiny-phi/model.safetensors");
        config = readAll(data + "/tiny-phi/config.json");
        genConfig = readAll(data + "/tiny-phi/generation_config.json");
        QVERIFY(model.size() > 100000);
        QVERIFY(!config.empty());
        hub = std::make_unique<fakehub::Hub>();
        QVERIFY(hub->port > 0);
        fakehub::Repo r;
        r.refs["main"] = kC1;
        r.refs["v2"] = kC2;
        r.commits[kC1] = {{"config.json", config, false},
                          {"generation_config.json", genConfig, false},
                          {"model.safetensors", model, true},
                          {"pytorch_model.bin", std::string(4096, 'P'), true},
                          {"README.md", "# tiny\n", false}};
        // v2: another config, the same weights.
        r.commits[kC2] = {{"config.json", config + "\n", false}, {"model.safetensors", model, true}};
        hub->repos["acme/tiny-phi"] = r;
        fakehub::Repo g;
        g.refs["main"] = kC1;
        g.commits[kC1] = {{"config.json", config, false}, {"model.safetensors", model, true}};
        g.token = "hf_secret_token";
        hub->repos["acme/gated"] = g;
        fakehub::Repo c;
        c.refs["main"] = kC1;
        c.commits[kC1] = {{"config.json", config, false}, {"weights.safetensors", std::string(70000, 'w'), true}};
        hub->repos["acme/corrupt"] = c;
        fakehub::Repo p;
        p.refs["main"] = kC1;
        p.commits[kC1] = {{"config.json", config, false}, {"pytorch_model.bin", std::string(100, 'x'), true}};
        hub->repos["acme/pickles-only"] = p;
    }

    void repoIds() {
        auto r = qcw::hub::parseRepoRef("microsoft/phi-1_5");
        QVERIFY(r);
        QCOMPARE(QString::fromStdString(r->repo), QStringLiteral("microsoft/phi-1_5"));
        QCOMPARE(QString::fromStdString(r->revision), QStringLiteral("main"));
        r = qcw::hub::parseRepoRef("org/name@v1.0");
        QVERIFY(r);
        QCOMPARE(QString::fromStdString(r->revision), QStringLiteral("v1.0"));
        QVERIFY(!qcw::hub::parseRepoRef("../etc"));
        QVERIFY(!qcw::hub::parseRepoRef("a/b/c"));
        QVERIFY(!qcw::hub::parseRepoRef("org/..name"));
        QVERIFY(!qcw::hub::parseRepoRef("org/name@../x"));
        QVERIFY(!qcw::hub::parseRepoRef("plainfolder"));
        QCOMPARE(QString::fromStdString(qcw::hub::repoFolderName("microsoft/phi-1_5")),
                 QStringLiteral("models--microsoft--phi-1_5"));
        QVERIFY(qcw::hub::isPickle("sub/pytorch_model.BIN"));
        QVERIFY(qcw::hub::isPickle("x.ckpt"));
        QVERIFY(!qcw::hub::isPickle("model.safetensors"));
        QVERIFY(qcw::hub::globMatch("*.json", "sub/config.json"));
        QVERIFY(!qcw::hub::globMatch("*.json", "model.safetensors"));
    }

    void cacheDirFromEnvironment() {
        const QByteArray home = qgetenv("HOME");
        ::setenv("HF_HUB_CACHE", "/tmp/a-cache", 1);
        ::setenv("HF_HOME", "/tmp/hf-home", 1);
        QCOMPARE(QString::fromStdString(qcw::hub::cacheDir()), QStringLiteral("/tmp/a-cache"));
        ::unsetenv("HF_HUB_CACHE");
        ::unsetenv("HUGGINGFACE_HUB_CACHE");
        QCOMPARE(QString::fromStdString(qcw::hub::cacheDir()), QStringLiteral("/tmp/hf-home/hub"));
        ::unsetenv("HF_HOME");
        ::unsetenv("XDG_CACHE_HOME");
        ::setenv("HOME", "/home/someone", 1);
        QCOMPARE(QString::fromStdString(qcw::hub::cacheDir()), QStringLiteral("/home/someone/.cache/huggingface/hub"));
        ::setenv("XDG_CACHE_HOME", "/tmp/xdg", 1);
        QCOMPARE(QString::fromStdString(qcw::hub::cacheDir()), QStringLiteral("/tmp/xdg/huggingface/hub"));
        ::unsetenv("XDG_CACHE_HOME");
        ::setenv("HOME", home.constData(), 1);
    }

    void cleanPull() {
        QTemporaryDir cache;
        const long long before = hub->served("model.safetensors");
        auto r = qcw::hub::pull({"acme/tiny-phi", "main"}, opts(cache), qcw::RunContext::none());
        QCOMPARE(QString::fromStdString(r.commit), QString(kC1));
        const QString repoDir = cache.path() + "/models--acme--tiny-phi";
        QCOMPARE(QString::fromStdString(r.snapshot), repoDir + "/snapshots/" + kC1);
        // refs/main names the commit, without a newline, as huggingface_hub writes it.
        QCOMPARE(QString::fromStdString(readAll(repoDir + "/refs/main")), QString(kC1));
        // Weights, configs; no pickle, no README.
        QCOMPARE(int(r.files.size()), 3);
        QVERIFY(!QFileInfo::exists(QString::fromStdString(r.snapshot) + "/pytorch_model.bin"));
        QVERIFY(!QFileInfo::exists(QString::fromStdString(r.snapshot) + "/README.md"));
        QVERIFY(std::any_of(r.skipped.begin(), r.skipped.end(), [](const std::string& s) {
            return s.find("pytorch_model.bin") != std::string::npos && s.find("pickle") != std::string::npos;
        }));
        QCOMPARE(hub->served("pytorch_model.bin"), 0LL);
        QCOMPARE(hub->served("model.safetensors") - before, static_cast<long long>(model.size()));
        // snapshots/C/model.safetensors -> ../../blobs/SHA256 (relative), config.json -> git sha1.
        fakehub::File mf{"model.safetensors", model, true}, cf{"config.json", config, false};
        const fs::path link = r.snapshot + "/model.safetensors";
        QVERIFY(fs::is_symlink(link));
        QCOMPARE(QString::fromStdString(fs::read_symlink(link).string()), QString::fromStdString("../../blobs/" + mf.sha256()));
        QCOMPARE(QString::fromStdString(fs::read_symlink(r.snapshot + "/config.json").string()),
                 QString::fromStdString("../../blobs/" + cf.gitSha1()));
        QVERIFY(readAll(QString::fromStdString(link.string())) == model);
        QVERIFY(readAll(QString::fromStdString(r.snapshot + "/config.json")) == config);
        QVERIFY(!QFileInfo::exists(repoDir + "/blobs/" + QString::fromStdString(mf.sha256()) + ".incomplete"));
        QCOMPARE(r.bytesDownloaded, static_cast<std::int64_t>(model.size() + config.size() + genConfig.size()));

        // Resolved from the cache, by id and by id@commit, and listed as a Phi model.
        auto snap = qcw::hub::cachedSnapshot({"acme/tiny-phi", "main"}, cache.path().toStdString());
        QVERIFY(snap);
        QCOMPARE(QString::fromStdString(*snap), QString::fromStdString(r.snapshot));
        QVERIFY(qcw::hub::cachedSnapshot({"acme/tiny-phi", kC1}, cache.path().toStdString()));
        QVERIFY(!qcw::hub::cachedSnapshot({"acme/tiny-phi", "v2"}, cache.path().toStdString()));
        auto listed = qcw::hub::listCachedModels(cache.path().toStdString());
        QCOMPARE(int(listed.size()), 1);
        QCOMPARE(QString::fromStdString(listed[0].repo), QStringLiteral("acme/tiny-phi"));
        QCOMPARE(QString::fromStdString(listed[0].revision), QStringLiteral("main"));
        QVERIFY(listed[0].hasWeights);
        QVERIFY(listed[0].bytes >= static_cast<std::int64_t>(model.size()));

        // A second pull fetches nothing.
        const long long mid = hub->served("model.safetensors");
        auto again = qcw::hub::pull({"acme/tiny-phi", "main"}, opts(cache), qcw::RunContext::none());
        QCOMPARE(again.bytesDownloaded, std::int64_t(0));
        QCOMPARE(hub->served("model.safetensors"), mid);
    }

    void twoSnapshotsShareBlobs() {
        QTemporaryDir cache;
        auto a = qcw::hub::pull({"acme/tiny-phi", "main"}, opts(cache), qcw::RunContext::none());
        const long long mid = hub->served("model.safetensors");
        auto b = qcw::hub::pull({"acme/tiny-phi", "v2"}, opts(cache), qcw::RunContext::none());
        QCOMPARE(QString::fromStdString(b.commit), QString(kC2));
        QCOMPARE(hub->served("model.safetensors"), mid);  // the weights were not fetched again
        QCOMPARE(b.bytesDownloaded, static_cast<std::int64_t>(config.size() + 1));
        QCOMPARE(QString::fromStdString(fs::canonical(a.snapshot + "/model.safetensors").string()),
                 QString::fromStdString(fs::canonical(b.snapshot + "/model.safetensors").string()));
        QVERIFY(fs::canonical(a.snapshot + "/config.json") != fs::canonical(b.snapshot + "/config.json"));
        const QString repoDir = cache.path() + "/models--acme--tiny-phi";
        QCOMPARE(QString::fromStdString(readAll(repoDir + "/refs/v2")), QString(kC2));
        QCOMPARE(QDir(repoDir + "/snapshots").entryList(QDir::Dirs | QDir::NoDotAndDotDot).size(), 2);
        QCOMPARE(int(qcw::hub::listCachedModels(cache.path().toStdString()).size()), 2);
    }

    void killedHalfWayThenResumed() {
        QTemporaryDir cache;
        const long long half = static_cast<long long>(model.size() / 2);
        const long long before = hub->served("model.safetensors");
        hub->stallAt("model.safetensors", half);
        struct Release {
            fakehub::Hub* h;
            ~Release() { h->release(); }
        } releaseOnExit{hub.get()};
        QProcess p;
        p.setProcessEnvironment(cliEnv(cache));
        p.start(QStringLiteral(QCW_BIN_DIR "/qcompress"), {"pull", "acme/tiny-phi"});
        QVERIFY(p.waitForStarted());
        fakehub::File mf{"model.safetensors", model, true};
        const QString part = cache.path() + "/models--acme--tiny-phi/blobs/" + QString::fromStdString(mf.sha256()) + ".incomplete";
        QElapsedTimer t;
        t.start();
        while (QFileInfo(part).size() < half && t.elapsed() < 30000) QTest::qWait(20);
        QCOMPARE(QFileInfo(part).size(), half);
        p.kill();  // SIGKILL: no chance to clean up, like a crash
        QVERIFY(p.waitForFinished(10000));
        hub->release();
        QCOMPARE(hub->served("model.safetensors") - before, half);
        QVERIFY(!QFileInfo::exists(cache.path() + "/models--acme--tiny-phi/snapshots/" + kC1 + "/model.safetensors"));

        const auto rangesBefore = hub->rangesSeen().size();
        QProcess q;
        q.setProcessEnvironment(cliEnv(cache));
        q.start(QStringLiteral(QCW_BIN_DIR "/qcompress"), {"pull", "acme/tiny-phi", "--json"});
        QVERIFY(q.waitForFinished(60000));
        const QString err = QString::fromUtf8(q.readAllStandardError());
        QVERIFY2(q.exitCode() == 0, qPrintable(err));
        // Only the missing half went over the wire, asked for with a Range.
        QCOMPARE(hub->served("model.safetensors") - before, static_cast<long long>(model.size()));
        const auto ranges = hub->rangesSeen();
        QVERIFY(ranges.size() > rangesBefore);
        QCOMPARE(QString::fromStdString(ranges.back()), QStringLiteral("bytes=%1-").arg(half));
        const auto j = nlohmann::json::parse(q.readAllStandardOutput().toStdString());
        // The configs finished before the kill and the first half of the weights are reused.
        QCOMPARE(j["bytes_reused"].get<long long>(), half + static_cast<long long>(config.size() + genConfig.size()));
        QCOMPARE(j["bytes_downloaded"].get<long long>(), static_cast<long long>(model.size()) - half);
        QVERIFY(readAll(cache.path() + "/models--acme--tiny-phi/snapshots/" + kC1 + "/model.safetensors") == model);
        QVERIFY(!QFileInfo::exists(part));
        // Progress with bytes and an ETA went to stderr.
        QVERIFY2(err.contains("download") && err.contains("ETA"), qPrintable(err));
    }

    void corruptedBlobRefused() {
        QTemporaryDir cache;
        hub->corruptPath = "weights.safetensors";
        const QString msg = qcw::test::errorOf([&] { qcw::hub::pull({"acme/corrupt", "main"}, opts(cache), qcw::RunContext::none()); });
        hub->corruptPath.clear();
        QVERIFY2(msg.contains("sha256 mismatch") && msg.contains("deleted") && msg.contains("weights.safetensors"), qPrintable(msg));
        QVERIFY(!msg.contains('\n'));
        const QDir blobs(cache.path() + "/models--acme--corrupt/blobs");
        for (const QString& f : blobs.entryList(QDir::Files)) {
            // Only config.json's blob (40 hex, git sha1) may be there; the weights' is gone.
            QCOMPARE(f.size(), 40);
        }
        QVERIFY(!QFileInfo::exists(cache.path() + "/models--acme--corrupt/snapshots/" + kC1 + "/weights.safetensors"));
        // Served intact, the same pull then succeeds.
        auto r = qcw::hub::pull({"acme/corrupt", "main"}, opts(cache), qcw::RunContext::none());
        QCOMPARE(readAll(QString::fromStdString(r.snapshot + "/weights.safetensors")).size(), std::size_t(70000));
    }

    void gatedNeedsToken() {
        QTemporaryDir cache;
        const QString msg = qcw::test::errorOf([&] { qcw::hub::pull({"acme/gated", "main"}, opts(cache), qcw::RunContext::none()); });
        QVERIFY2(msg.contains("401") && msg.contains("HF_TOKEN") && msg.contains("acme/gated"), qPrintable(msg));
        auto o = opts(cache);
        o.token = "wrong";
        const QString wrong = qcw::test::errorOf([&] { qcw::hub::pull({"acme/gated", "main"}, o, qcw::RunContext::none()); });
        QVERIFY2(wrong.contains("401") && wrong.contains("refused"), qPrintable(wrong));
        // --token on the command line works, and so does HF_TOKEN.
        QProcess p;
        p.setProcessEnvironment(cliEnv(cache));
        p.start(QStringLiteral(QCW_BIN_DIR "/qcompress"), {"pull", "acme/gated", "--token", "hf_secret_token"});
        QVERIFY(p.waitForFinished(60000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        QTemporaryDir cache2;
        auto env = cliEnv(cache2);
        env.insert("HF_TOKEN", "hf_secret_token");
        QProcess q;
        q.setProcessEnvironment(env);
        q.start(QStringLiteral(QCW_BIN_DIR "/qcompress"), {"pull", "acme/gated"});
        QVERIFY(q.waitForFinished(60000));
        QVERIFY2(q.exitCode() == 0, q.readAllStandardError().constData());
        QVERIFY(QFileInfo::exists(cache2.path() + "/models--acme--gated/snapshots/" + kC1 + "/model.safetensors"));
    }

    void notFoundIsOneLine() {
        QTemporaryDir cache;
        QProcess p;
        p.setProcessEnvironment(cliEnv(cache));
        p.start(QStringLiteral(QCW_BIN_DIR "/qcompress"), {"pull", "acme/missing"});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 1);
        const QString err = QString::fromUtf8(p.readAllStandardError()).trimmed();
        QVERIFY2(!err.contains('\n') && err.contains("acme/missing") && err.contains("404"), qPrintable(err));
        const QString rev = qcw::test::errorOf([&] { qcw::hub::pull({"acme/tiny-phi", "nosuchbranch"}, opts(cache), qcw::RunContext::none()); });
        QVERIFY2(rev.contains("404") && rev.contains("Revision Not Found"), qPrintable(rev));
        const QString pick = qcw::test::errorOf([&] { qcw::hub::pull({"acme/pickles-only", "main"}, opts(cache), qcw::RunContext::none()); });
        QVERIFY2(pick.contains("pickled"), qPrintable(pick));
        QCOMPARE(hub->served("pytorch_model.bin"), 0LL);
    }

    void retriesAfter429() {
        QTemporaryDir cache;
        const int before = hub->apiRequests;
        hub->failApi429 = 2;
        std::vector<std::string> messages;
        qcw::RunContext ctx([&](const qcw::Progress& p) { messages.push_back(p.message); });
        auto r = qcw::hub::pull({"acme/tiny-phi", "main"}, opts(cache), ctx);
        QCOMPARE(hub->apiRequests - before, 3);
        QCOMPARE(QString::fromStdString(r.commit), QString(kC1));
        QVERIFY(std::any_of(messages.begin(), messages.end(), [](const std::string& m) { return m.find("HTTP 429") != std::string::npos; }));
        // Past the limit it gives up with one line.
        hub->failApi429 = 100;
        auto o = opts(cache);
        o.maxAttempts = 3;
        const QString msg = qcw::test::errorOf([&] { qcw::hub::pull({"acme/tiny-phi", "main"}, o, qcw::RunContext::none()); });
        hub->failApi429 = 0;
        QVERIFY2(msg.contains("429") && msg.contains("3 attempts"), qPrintable(msg));
    }

    void offlineMode() {
        QTemporaryDir cache;
        qcw::hub::pull({"acme/tiny-phi", "main"}, opts(cache), qcw::RunContext::none());
        ::setenv("HF_HUB_OFFLINE", "1", 1);
        const int api = hub->apiRequests, res = hub->resolveRequests;
        auto r = qcw::hub::pull({"acme/tiny-phi", "main"}, opts(cache), qcw::RunContext::none());
        QVERIFY(r.offline);
        QCOMPARE(QString::fromStdString(r.commit), QString(kC1));
        const QString msg = qcw::test::errorOf([&] { qcw::hub::pull({"acme/tiny-phi", "v2"}, opts(cache), qcw::RunContext::none()); });
        QVERIFY2(msg.contains("HF_HUB_OFFLINE") && msg.contains("acme/tiny-phi@v2"), qPrintable(msg));
        // The MODEL hook: cached ids resolve offline, others are a one-line error.
        ::setenv("HF_HUB_CACHE", cache.path().toLocal8Bit().constData(), 1);
        QCOMPARE(QString::fromStdString(qcw::hub::resolveModelArg("acme/tiny-phi", qcw::RunContext::none())),
                 QString::fromStdString(r.snapshot));
        const QString hook = qcw::test::errorOf([&] { qcw::hub::resolveModelArg("acme/gated", qcw::RunContext::none()); });
        QVERIFY2(hook.contains("HF_HUB_OFFLINE") && hook.contains("acme/gated"), qPrintable(hook));
        ::unsetenv("HF_HUB_OFFLINE");
        ::unsetenv("HF_HUB_CACHE");
        QCOMPARE(int(hub->apiRequests), api);
        QCOMPARE(int(hub->resolveRequests), res);
    }

    // `qcompress forward acme/tiny-phi` pulls through the MODEL hook and gives the logits of
    // the source folder, bit for bit.
    void pulledModelHasSourceLogits() {
        QTemporaryDir cache, out;
        auto run = [&](const QString& modelArg, const QString& file) {
            QProcess p;
            p.setProcessEnvironment(cliEnv(cache));
            p.start(QStringLiteral(QCW_BIN_DIR "/qcompress"),
                    {"forward", modelArg, "--ids", data + "/tiny-phi/reference.safetensors", "--out", file, "--threads", "1"});
            if (!p.waitForFinished(120000)) return QStringLiteral("timed out");
            return p.exitCode() == 0 ? QString() : QString::fromUtf8(p.readAllStandardError());
        };
        QString e = run("acme/tiny-phi", out.filePath("hub.safetensors"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        QVERIFY(QFileInfo::exists(cache.path() + "/models--acme--tiny-phi/snapshots/" + kC1 + "/model.safetensors"));
        e = run(data + "/tiny-phi", out.filePath("src.safetensors"));
        QVERIFY2(e.isEmpty(), qPrintable(e));
        auto a = qcw::SafetensorsFile::open(out.filePath("hub.safetensors").toStdString());
        auto b = qcw::SafetensorsFile::open(out.filePath("src.safetensors").toStdString());
        const auto* la = a->find("logits");
        const auto* lb = b->find("logits");
        QVERIFY(la && lb);
        QVERIFY(la->shape == lb->shape);
        QCOMPARE(la->shape.back(), std::int64_t(320));
        QVERIFY(std::memcmp(la->data, lb->data, static_cast<std::size_t>(la->numel()) * 4) == 0);
    }
};

QTEST_GUILESS_MAIN(TestHub)
#include "test_hub.moc"
