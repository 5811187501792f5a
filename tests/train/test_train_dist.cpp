// Data-parallel training over c10d/Gloo on localhost, driving the qcompress binary:
// 2 ranks (qcompress launch) take the same steps as 1 process with the same global batch
// (full fine-tuning, LoRA, distillation from a live teacher and from a cached top-k), with
// bitwise equal weights on both ranks after every step; a 2-rank checkpoint resumes in 1
// process as the uninterrupted run continues; a rank killed with SIGKILL ends the other with
// an error naming it, and so does a rank that hangs (SIGSTOP); Ctrl-C on the launcher stops every rank with a checkpoint.
#include "io/safetensors.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>

namespace fs = std::filesystem;

namespace {
const QString kTiny = QString(QCW_TEST_DATA) + "/tiny-phi";
const QString kBin = QString(QCW_BIN_DIR) + "/qcompress";

struct StepLine {
    double loss = 0;
    QString weights;
    qint64 pid = 0;
};

// step -> line of a --step-log file.
std::map<qint64, StepLine> readLog(const QString& path) {
    std::map<qint64, StepLine> out;
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return out;
    for (const QByteArray& line : f.readAll().split('\n')) {
        if (line.trimmed().isEmpty()) continue;
        const QJsonObject j = QJsonDocument::fromJson(line).object();
        out[j.value("step").toInteger()] = {j.value("loss").toDouble(), j.value("weights").toString(), j.value("pid").toInteger()};
    }
    return out;
}

// A TCP port free on the loopback interface (the kernel picks it).
int freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) ::close(fd);
    return port;
}
}  // namespace

class TestTrainDist : public QObject {
    Q_OBJECT
    QTemporaryDir tmp;
    QString data;

    QStringList trainArgs(const QString& out, const QString& log, const QStringList& extra) const {
        QStringList a{"train", "--student", kTiny, "--out", out, "--data", data, "--steps", "10", "--batch", "4",
                      "--lr", "2e-3", "--warmup", "2", "--seed", "3", "--save-every", "5", "--step-log", log, "--json"};
        return a + extra;
    }

    // Runs qcompress with `args`; returns its JSON output (empty on failure, with the reason logged).
    QJsonObject run(const QStringList& args, int timeoutMs = 120000) {
        QProcess p;
        p.start(kBin, args);
        if (!p.waitForFinished(timeoutMs)) {
            p.kill();
            p.waitForFinished();
            qWarning("timed out: %s", qPrintable(args.join(' ')));
            return {};
        }
        const QByteArray err = p.readAllStandardError();
        if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
            qWarning("exit %d: %s\n%s", p.exitCode(), qPrintable(args.join(' ')), err.constData());
            return {};
        }
        return QJsonDocument::fromJson(p.readAllStandardOutput()).object();
    }

private slots:
    void initTestCase() {
        if (!QFileInfo::exists(kBin)) QSKIP("qcompress is not built");
        QVERIFY(tmp.isValid());
        data = tmp.filePath("data");
        fs::create_directories(data.toStdString());
        std::mt19937_64 rng(17);
        std::vector<std::int64_t> flat(24 * 32);
        for (auto& x : flat) x = static_cast<std::int64_t>(rng() % 320);
        qcw::writeSafetensors((data + "/ids.safetensors").toStdString(), {{"input_ids", qcw::DType::I64, {24, 32}, flat.data(), {}}});
    }

    void twoRanksTakeTheStepsOfOneProcess_data() {
        QTest::addColumn<QStringList>("extra");
        QTest::newRow("full") << QStringList{};
        QTest::newRow("lora") << QStringList{"--lora-rank", "4"};
        QTest::newRow("distill-live") << QStringList{"--teacher", kTiny, "--alpha", "0.7"};
        QTest::newRow("distill-cached") << QStringList{"--teacher", kTiny, "--teacher-cache", "CACHE", "--teacher-top-k", "16"};
    }

    void twoRanksTakeTheStepsOfOneProcess() {
        QFETCH(QStringList, extra);
        const QString tag = QTest::currentDataTag();
        auto withCache = [&](const QString& which) {
            QStringList e = extra;
            for (auto& x : e)
                if (x == "CACHE") x = tmp.filePath(tag + "-" + which + ".topk.safetensors");
            return e;
        };
        const QString log1 = tmp.filePath(tag + "-one.log"), log2 = tmp.filePath(tag + "-two.log");
        const QJsonObject one = run(trainArgs(tmp.filePath(tag + "-one"), log1, withCache("one") + QStringList{"--threads", "1"}));
        QVERIFY(!one.isEmpty());
        const QJsonObject two = run(QStringList{"launch", "--nproc", "2", "--threads-per-proc", "1"} +
                                    trainArgs(tmp.filePath(tag + "-two"), log2, withCache("two")));
        QVERIFY(!two.isEmpty());
        QCOMPARE(two.value("processes").toInt(), 2);
        const auto a = readLog(log1), r0 = readLog(log2 + ".rank0"), r1 = readLog(log2 + ".rank1");
        QCOMPARE(a.size(), std::size_t(10));
        QCOMPARE(r0.size(), std::size_t(10));
        QCOMPARE(r1.size(), std::size_t(10));
        double worst = 0;
        for (qint64 s = 1; s <= 10; ++s) {
            const double d = std::fabs(a.at(s).loss - r0.at(s).loss);
            worst = std::max(worst, d);
            QVERIFY2(d < 1e-5, qPrintable(QString("step %1: one process %2, two %3").arg(s).arg(a.at(s).loss, 0, 'g', 9).arg(r0.at(s).loss, 0, 'g', 9)));
            QCOMPARE(r1.at(s).loss, r0.at(s).loss);        // the reduced loss, the same on both ranks
            QCOMPARE(r1.at(s).weights, r0.at(s).weights);  // bitwise equal weights after every step
            QVERIFY(r0.at(s).pid != r1.at(s).pid);
        }
        QVERIFY(a.at(1).weights != a.at(10).weights);      // the weights did move
        QVERIFY(std::fabs(one.value("eval_loss").toDouble() - two.value("eval_loss").toDouble()) < 1e-5);
        QVERIFY(QFileInfo::exists(tmp.filePath(tag + "-two/model/model.safetensors")));
        qInfo("%s: 10 steps, largest loss difference 1 vs 2 processes %.3g", qPrintable(tag), worst);
    }

    void twoRankCheckpointResumesInOneProcess() {
        // The "full" runs above wrote step-5 and step-10 under two ranks; resume from step 5 alone.
        const QString two = tmp.filePath("full-two"), resumed = tmp.filePath("resumed");
        if (!QFileInfo::exists(two + "/checkpoints/step-00000005")) QSKIP("needs the full run of twoRanksTakeTheStepsOfOneProcess");
        fs::create_directories((resumed + "/checkpoints").toStdString());
        fs::copy((two + "/checkpoints/step-00000005").toStdString(), (resumed + "/checkpoints/step-00000005").toStdString(),
                 fs::copy_options::recursive);
        const QString log = tmp.filePath("resumed.log");
        const QJsonObject r = run(trainArgs(resumed, log, {"--threads", "1", "--resume"}));
        QVERIFY(!r.isEmpty());
        QCOMPARE(r.value("steps_run").toInt(), 5);
        const auto whole = readLog(tmp.filePath("full-one.log")), got = readLog(log);
        QCOMPARE(got.size(), std::size_t(5));
        for (qint64 s = 6; s <= 10; ++s) {
            QVERIFY2(got.count(s), qPrintable(QString("step %1 missing").arg(s)));
            QVERIFY2(std::fabs(got.at(s).loss - whole.at(s).loss) < 1e-5,
                     qPrintable(QString("step %1: %2 vs %3").arg(s).arg(got.at(s).loss).arg(whole.at(s).loss)));
        }
    }

    void killedRankEndsTheOtherWithinAMinute() {
        // Two ranks started by hand (as torchrun would): kill one, the other must stop by itself.
        // Killed rank 1, killed rank 0, and rank 1 stopped (SIGSTOP: alive but silent, a hang).
        for (int round = 0; round < 3; ++round) {
            const int victim = round == 1 ? 0 : 1;
            const bool hang = round == 2;
            const int port = freePort();
            QVERIFY(port > 0);
            const QString out = tmp.filePath(QString("kill%1").arg(round)), log = tmp.filePath(QString("kill%1.log").arg(round));
            QProcess ranks[2];
            for (int r = 0; r < 2; ++r) {
                QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
                env.insert("RANK", QString::number(r));
                env.insert("LOCAL_RANK", QString::number(r));
                env.insert("WORLD_SIZE", "2");
                env.insert("MASTER_ADDR", "127.0.0.1");
                env.insert("MASTER_PORT", QString::number(port));
                env.insert("OMP_NUM_THREADS", "1");
                ranks[r].setProcessEnvironment(env);
                QStringList a = trainArgs(out, log, {});
                a[a.indexOf("--steps") + 1] = "100000";
                ranks[r].start(kBin, a);
                QVERIFY(ranks[r].waitForStarted());
            }
            QElapsedTimer t;
            t.start();
            while (readLog(log + ".rank0").size() < 3 && t.elapsed() < 60000 && ranks[0].state() == QProcess::Running)
                QThread::msleep(50);
            QVERIFY2(readLog(log + ".rank0").size() >= 3, ranks[0].readAllStandardError().constData());
            if (hang) {
                QVERIFY(::kill(static_cast<pid_t>(ranks[victim].processId()), SIGSTOP) == 0);
            } else {
                ranks[victim].kill();  // SIGKILL
                QVERIFY(ranks[victim].waitForFinished(10000));
            }
            const int other = 1 - victim;
            t.restart();
            const bool ended = ranks[other].waitForFinished(60000);
            const qint64 took = t.elapsed();
            if (!ended) {
                ranks[other].kill();
                ranks[other].waitForFinished();
            }
            if (hang) {
                ranks[victim].kill();
                ranks[victim].waitForFinished(10000);
            }
            const QString err = QString::fromUtf8(ranks[other].readAllStandardError());
            QVERIFY2(ended, "the surviving rank did not stop within 60 s");
            QVERIFY(ranks[other].exitCode() != 0);
            const QString last = err.trimmed().split('\n').last();
            QVERIFY2(last.contains(QString("rank %1").arg(victim)), qPrintable(last));
            qInfo("rank %d %s: rank %d stopped after %.1f s: %s", victim, hang ? "stopped (SIGSTOP)" : "killed", other,
                  double(took) / 1000.0, qPrintable(last));
        }
    }

    void launcherStopsEveryRank() {
        // A rank killed under `qcompress launch`: the launcher stops the rest and exits with its status.
        {
            const QString out = tmp.filePath("launch-kill"), log = tmp.filePath("launch-kill.log");
            QStringList a = QStringList{"launch", "--nproc", "2", "--threads-per-proc", "1"} + trainArgs(out, log, {});
            a[a.indexOf("--steps") + 1] = "100000";
            QProcess p;
            p.start(kBin, a);
            QVERIFY(p.waitForStarted());
            QElapsedTimer t;
            t.start();
            while (readLog(log + ".rank1").size() < 2 && t.elapsed() < 60000 && p.state() == QProcess::Running) QThread::msleep(50);
            const auto lines = readLog(log + ".rank1");
            QVERIFY(!lines.empty());
            QVERIFY(::kill(static_cast<pid_t>(lines.begin()->second.pid), SIGKILL) == 0);
            QVERIFY2(p.waitForFinished(60000), "the launcher did not stop within 60 s");
            QCOMPARE(p.exitCode(), 128 + SIGKILL);
            QVERIFY2(p.readAllStandardError().contains("rank 1 was killed by signal 9"), "no line naming rank 1");
        }
        // Ctrl-C on the launcher: every rank stops at the same step, rank 0 writes the checkpoint.
        {
            const QString out = tmp.filePath("launch-int"), log = tmp.filePath("launch-int.log");
            QStringList a = QStringList{"launch", "--nproc", "2", "--threads-per-proc", "1"} + trainArgs(out, log, {});
            a[a.indexOf("--steps") + 1] = "100000";
            QProcess p;
            p.start(kBin, a);
            QVERIFY(p.waitForStarted());
            QElapsedTimer t;
            t.start();
            while (readLog(log + ".rank0").size() < 3 && t.elapsed() < 60000 && p.state() == QProcess::Running) QThread::msleep(50);
            QVERIFY(::kill(static_cast<pid_t>(p.processId()), SIGINT) == 0);
            QVERIFY2(p.waitForFinished(60000), "the launcher did not stop within 60 s");
            QCOMPARE(p.exitCode(), 130);
            const auto r0 = readLog(log + ".rank0"), r1 = readLog(log + ".rank1");
            QCOMPARE(r0.rbegin()->first, r1.rbegin()->first);  // both stopped after the same step
            const QString ckpt = QString("%1/checkpoints/step-%2").arg(out).arg(r0.rbegin()->first, 8, 10, QChar('0'));
            QVERIFY2(QFileInfo::exists(ckpt + "/trainer.json"), qPrintable(ckpt));
        }
    }

    void badDistributedSettings() {
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("WORLD_SIZE", "2");
        env.insert("RANK", "5");
        p.setProcessEnvironment(env);
        p.start(kBin, trainArgs(tmp.filePath("bad"), tmp.filePath("bad.log"), {}));
        QVERIFY(p.waitForFinished(60000));
        QVERIFY(p.exitCode() != 0);
        QVERIFY2(p.readAllStandardError().contains("RANK=5"), "the error does not name RANK");
        QProcess n;
        n.start(kBin, trainArgs(tmp.filePath("bad2"), tmp.filePath("bad2.log"), {"--backend", "nccl"}));
        QVERIFY(n.waitForFinished(60000));
        QVERIFY(n.exitCode() != 0);
        const QByteArray err = n.readAllStandardError().trimmed();
        QVERIFY2(err.contains("--backend nccl") && !err.contains('\n'), err.constData());
    }
};

QTEST_GUILESS_MAIN(TestTrainDist)
#include "test_train_dist.moc"
