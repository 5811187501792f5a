// SIGINT and SIGTERM during the CLI's long jobs (data build, compress): the job stops with
// exit code 130 and one line naming the output folder, which does not exist afterwards (no
// partial output, no temporary folder left beside it), and the inputs are byte for byte
// what they were. The signal is sent once the job reports progress on stderr.
#include <QtTest>

#include <QProcess>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::map<std::string, std::string> snapshot(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) out[e.path().string()] = slurp(e.path().string());
    return out;
}

QString qcompress() { return QStringLiteral(QCW_BIN_DIR "/qcompress"); }

struct Outcome {
    bool signalled = false;  // the job was still running when the signal was sent
    int exitCode = -1;
    QString lastLine;
};

// Starts qcompress with `args`, waits for `marker` on stderr, sends `sig`, waits for exit.
Outcome interrupt(const QStringList& args, const QByteArray& marker, int sig) {
    QProcess p;
    p.setProcessChannelMode(QProcess::SeparateChannels);
    p.start(qcompress(), args);
    Outcome o;
    if (!p.waitForStarted(10000)) return o;
    QByteArray err;
    QElapsedTimer t;
    t.start();
    while (!err.contains(marker) && p.state() != QProcess::NotRunning && t.elapsed() < 120000) {
        p.waitForReadyRead(50);
        err += p.readAllStandardError();
    }
    if (p.state() == QProcess::Running) {
        o.signalled = ::kill(pid_t(p.processId()), sig) == 0;
    }
    p.waitForFinished(120000);
    err += p.readAllStandardError();
    o.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    const QList<QByteArray> lines = err.trimmed().split('\n');
    o.lastLine = lines.isEmpty() ? QString() : QString::fromUtf8(lines.last()).trimmed();
    return o;
}

QStringList hiddenTemporaries(const std::string& dir) {
    QStringList out;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string n = e.path().filename().string();
        if (n.find(".tmp-") != std::string::npos || n.find(".old-") != std::string::npos) out << QString::fromStdString(n);
    }
    return out;
}

}  // namespace

class TestFaultsCli : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::string root() const { return tmp_.path().toStdString(); }

private slots:
    void initTestCase() { QVERIFY(tmp_.isValid()); }

    void dataBuild_data() {
        QTest::addColumn<int>("sig");
        QTest::newRow("SIGINT") << int(SIGINT);
        QTest::newRow("SIGTERM") << int(SIGTERM);
    }
    void dataBuild() {
        QFETCH(int, sig);
        const std::string in = root() + "/corpus-" + std::to_string(sig);
        fs::create_directories(in);
        // Enough text that reading it takes a while on a loaded 2-core machine.
        for (int f = 0; f < 400; ++f) {
            std::ofstream o(in + "/doc" + std::to_string(f) + ".md");
            o << "# Runbook " << f << "\n\n";
            for (int i = 0; i < 800; ++i)
                o << "Step " << i << " of runbook " << f << ": drain node " << (i * 7919 + f) % 1000 << " then restart it.\n";
        }
        auto before = snapshot(in);
        const std::string out = root() + "/out-" + std::to_string(sig) + "/dataset";
        Outcome o = interrupt({"data", "build", "--in", QString::fromStdString(in), "--out", QString::fromStdString(out)},
                              "read", sig);
        if (!o.signalled) QSKIP("data build finished before the signal could be sent");
        QCOMPARE(o.exitCode, 130);
        QVERIFY2(o.lastLine.contains("cancelled") && o.lastLine.contains(QString::fromStdString(out)), qPrintable(o.lastLine));
        QVERIFY(!fs::exists(out));
        if (fs::exists(fs::path(out).parent_path())) QCOMPARE(hiddenTemporaries(fs::path(out).parent_path().string()), QStringList());
        QCOMPARE(before, snapshot(in));
    }

    void compress_data() {
        QTest::addColumn<int>("sig");
        QTest::newRow("SIGINT") << int(SIGINT);
        QTest::newRow("SIGTERM") << int(SIGTERM);
    }
    void compress() {
        QFETCH(int, sig);
        const std::string model = root() + "/model-" + std::to_string(sig);
        fs::copy(QCW_SOURCE_DIR "/resources/models/demo-phi", model, fs::copy_options::recursive);
        auto before = snapshot(model);
        const std::string outParent = root() + "/compressed-" + std::to_string(sig);
        fs::create_directories(outParent);
        const std::string out = outParent + "/model";
        Outcome o = interrupt({"compress", QString::fromStdString(model), "--target-params", "0.5", "--method", "tucker",
                               "--out", QString::fromStdString(out)},
                              "compress", sig);
        if (!o.signalled) QSKIP("compress finished before the signal could be sent");
        QCOMPARE(o.exitCode, 130);
        QVERIFY2(o.lastLine.contains("cancelled") && o.lastLine.contains(QString::fromStdString(out)), qPrintable(o.lastLine));
        QVERIFY(!fs::exists(out));
        QCOMPARE(hiddenTemporaries(outParent), QStringList());
        QCOMPARE(before, snapshot(model));
    }
};

QTEST_GUILESS_MAIN(TestFaultsCli)
#include "test_faults_cli.moc"
