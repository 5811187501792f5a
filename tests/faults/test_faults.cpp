// Faults of the machine as tests, at the library level (torch-free, so they also run under
// ASan+UBSan in build-asan): a full disk, a read-only or vanished output folder, an input
// that cannot be read, a file that changes while it is read. Each must give a one-line
// error naming the path, leave nothing where the final output would be, and never touch the
// inputs. SIGINT/SIGTERM during the CLI's long jobs are in test_faults_cli.
//
// The full disk is a 256 KiB tmpfs mounted by the test when it can mount (root with
// CAP_SYS_ADMIN, as on the development VM and CI); otherwise RLIMIT_FSIZE stands in (writes
// past the limit fail with EFBIG, SIGXFSZ ignored). Permissions: the tests run as root, which
// ignores file modes, so the operation runs in a forked child that has dropped to `nobody`.
#include "common/error.h"
#include "common/files.h"
#include "data/data.h"
#include "io/safetensors.h"
#include "test_support.h"

#include <QtTest>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using qcw::test::errorOf;

namespace {

void spit(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Every regular file under `dir` with its bytes, to show the inputs were never touched.
std::map<std::string, std::string> snapshot(const std::string& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) out[e.path().string()] = slurp(e.path().string());
    return out;
}

// Names in `dir` (temporary files and folders left behind would show here).
QStringList entries(const std::string& dir) {
    QStringList out;
    for (const auto& e : fs::directory_iterator(dir)) out << QString::fromStdString(e.path().filename().string());
    out.sort();
    return out;
}

bool oneLine(const QString& s) { return !s.isEmpty() && !s.contains('\n') && !s.contains('\r'); }

// Runs `f` in a child process as nobody (uid/gid 65534) and returns its qcw::Error message
// ("" when it threw nothing). When the test is not root, runs it here.
QString errorAsNobody(const std::function<void()>& f) {
    if (::geteuid() != 0) return errorOf(f);
    int pipefd[2];
    if (::pipe(pipefd) != 0) return "pipe failed";
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(pipefd[0]);
        std::string msg;
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
            msg = "could not drop to nobody";
        } else {
            msg = errorOf(f).toStdString();
        }
        ssize_t w = ::write(pipefd[1], msg.data(), msg.size());
        (void)w;
        ::_exit(0);
    }
    ::close(pipefd[1]);
    std::string msg;
    char buf[4096];
    ssize_t k;
    while ((k = ::read(pipefd[0], buf, sizeof buf)) > 0) msg.append(buf, std::size_t(k));
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status)) return "child died";
    return QString::fromStdString(msg);
}

// A small corpus to build datasets from.
void writeCorpus(const std::string& dir) {
    fs::create_directories(dir);
    spit(dir + "/notes.md", "# Branch VPN\n\nThe branch tunnel uses IKEv2 to the hub.\n\n## Probe\n\nPort 8008 answers the load balancer.\n");
    std::string big;
    for (int i = 0; i < 3000; ++i) big += "Line " + std::to_string(i) + " of the runbook: restart the collector and check the queue depth.\n";
    spit(dir + "/runbook.txt", big);
    spit(dir + "/fgt.conf", "config system global\n    set hostname \"fw-a\"\nend\nconfig system admin\n    edit \"admin\"\n"
                            "        set password ENC SH2abcdefghijklmnopqrstuvwxyz0123456789\n    next\nend\n");
}

}  // namespace

class TestFaults : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::string root() const { return tmp_.path().toStdString(); }

    // A folder whose file system is full after `bytes`: a tmpfs of that size, or (when
    // mounting is not allowed) RLIMIT_FSIZE set to it. Returns the folder; `how` says which.
    std::string fullDisk(std::size_t bytes, QString& how) {
        std::string dir = root() + "/small-disk";
        fs::create_directories(dir);
        std::string opts = "size=" + std::to_string(bytes) + ",mode=0777";
        if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0) {
            mounted_ = dir;
            how = "tmpfs";
            return dir;
        }
        struct rlimit rl {};
        ::getrlimit(RLIMIT_FSIZE, &oldLimit_);
        rl.rlim_cur = bytes;
        rl.rlim_max = oldLimit_.rlim_max;
        ::setrlimit(RLIMIT_FSIZE, &rl);
        std::signal(SIGXFSZ, SIG_IGN);
        limited_ = true;
        how = "RLIMIT_FSIZE";
        return dir;
    }
    void releaseDisk() {
        if (!mounted_.empty()) ::umount2(mounted_.c_str(), MNT_DETACH);
        mounted_.clear();
        if (limited_) ::setrlimit(RLIMIT_FSIZE, &oldLimit_);
        limited_ = false;
    }
    std::string mounted_;
    bool limited_ = false;
    struct rlimit oldLimit_ {};

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        // nobody (the permission tests' child) may walk into the test's folder.
        fs::permissions(root(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
    }
    void cleanup() { releaseDisk(); }

    // data build: the dataset is larger than the disk. One-line error naming the output, no
    // dataset folder, no temporary folder left, the inputs unchanged.
    void fullDiskDataset() {
        const std::string in = root() + "/corpus-full";
        writeCorpus(in);
        auto before = snapshot(in);
        auto res = qcw::buildDataset({in}, qcw::DataOptions().setDedup(false));
        QVERIFY(res.records.size() > 10);
        QString how;
        const std::string disk = fullDisk(64 * 1024, how);
        const std::string out = disk + "/dataset";
        QString err = errorOf([&] { qcw::writeDataset(res, out); });
        const bool outExists = fs::exists(out);
        const QStringList left = entries(disk);
        releaseDisk();
        qInfo("full disk by %s: %s", qPrintable(how), qPrintable(err));
        QVERIFY2(oneLine(err), qPrintable(err));
        QVERIFY2(err.contains(QString::fromStdString(out)), qPrintable(err));
        QVERIFY2(err.contains("No space left on device") || err.contains("File too large"), qPrintable(err));
        QVERIFY(!outExists);
        QVERIFY2(left.isEmpty(), qPrintable(left.join(", ")));
        QCOMPARE(before, snapshot(in));
    }

    // A safetensors file (what compress and train write) on a full disk: the error names the
    // file, the file is not there and no temporary file is left; an older file of the same
    // name stays whole.
    void fullDiskSafetensors() {
        QString how;
        const std::string disk = fullDisk(256 * 1024, how);
        const std::string path = disk + "/model.safetensors";
        std::vector<float> small(16, 1.0f), big(200 * 1024, 2.0f);
        qcw::writeSafetensors(path, {{"w", qcw::DType::F32, {16}, small.data(), {}}});
        const std::string old = slurp(path);
        QString err = errorOf([&] {
            qcw::writeSafetensors(path, {{"w", qcw::DType::F32, {200, 1024}, big.data(), {}}});
        });
        QVERIFY2(oneLine(err), qPrintable(err));
        QVERIFY2(err.contains(QString::fromStdString(path)), qPrintable(err));
        QCOMPARE(slurp(path), old);
        QCOMPARE(entries(disk), QStringList{"model.safetensors"});
        releaseDisk();
    }

    // The output folder's parent is read-only: the error names it, nothing is created.
    void readOnlyOutputFolder() {
        const std::string in = root() + "/corpus-ro";
        writeCorpus(in);
        auto res = qcw::buildDataset({in}, qcw::DataOptions());
        const std::string ro = root() + "/read-only";
        fs::create_directories(ro);
        fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
        QString err = errorAsNobody([&] { qcw::writeDataset(res, ro + "/dataset"); });
        QVERIFY2(oneLine(err), qPrintable(err));
        QVERIFY2(err.contains(QString::fromStdString(ro)), qPrintable(err));
        QVERIFY2(err.contains("Permission denied"), qPrintable(err));
        QVERIFY(entries(ro).isEmpty());
        err = errorAsNobody([&] { qcw::writeTextFileAtomically(ro + "/manifest.json", "{}"); });
        QVERIFY2(oneLine(err) && err.contains(QString::fromStdString(ro)), qPrintable(err));
        QVERIFY(entries(ro).isEmpty());
    }

    // The output folder vanished (deleted under the job): an atomic write into it fails
    // naming the file and leaves nothing behind.
    void vanishedOutputFolder() {
        const std::string gone = root() + "/gone";
        fs::create_directories(gone);
        fs::remove_all(gone);
        QString err = errorOf([&] { qcw::writeTextFileAtomically(gone + "/manifest.json", "{}"); });
        QVERIFY2(oneLine(err) && err.contains(QString::fromStdString(gone + "/manifest.json")), qPrintable(err));
        QVERIFY(!fs::exists(gone));
        std::vector<float> w(4, 0.f);
        err = errorOf([&] { qcw::writeSafetensors(gone + "/model.safetensors", {{"w", qcw::DType::F32, {4}, w.data(), {}}}); });
        QVERIFY2(oneLine(err) && err.contains(QString::fromStdString(gone)), qPrintable(err));
        QVERIFY(!fs::exists(gone));
    }

    // An input that cannot be read (mode 000, read by nobody): the file is skipped with its
    // path and "Permission denied", the rest of the corpus is used; reading a model file
    // the same way is a one-line error naming it.
    void permissionDeniedInput() {
        const std::string in = root() + "/corpus-perm";
        writeCorpus(in);
        spit(in + "/secret.txt", "only root may read this");
        fs::permissions(in + "/secret.txt", fs::perms::none);
        auto before = snapshot(in);
        QString err = errorAsNobody([&] {
            auto res = qcw::buildDataset({in}, qcw::DataOptions());
            bool found = false;
            for (const auto& s : res.skipped)
                if (s.path.find("secret.txt") != std::string::npos && s.reason.find("Permission denied") != std::string::npos)
                    found = true;
            if (!found) throw qcw::Error("secret.txt not reported as skipped for permission");
            if (res.records.empty()) throw qcw::Error("the readable files were not used");
            qcw::readTextFile(in + "/secret.txt");
        });
        QVERIFY2(oneLine(err), qPrintable(err));
        QVERIFY2(err.contains(QString::fromStdString(in + "/secret.txt")) && err.contains("Permission denied"),
                 qPrintable(err));
        QCOMPARE(before, snapshot(in));
        std::vector<float> w(4, 0.f);
        qcw::writeSafetensors(in + "/locked.safetensors", {{"w", qcw::DType::F32, {4}, w.data(), {}}});
        fs::permissions(in + "/locked.safetensors", fs::perms::none);
        err = errorAsNobody([&] { qcw::SafetensorsFile::open(in + "/locked.safetensors"); });
        QVERIFY2(oneLine(err) && err.contains(QString::fromStdString(in + "/locked.safetensors")), qPrintable(err));
    }

    // A file that is cut short and rewritten while documents are read: every read is either
    // the whole file or skipped with "changed while it was read"; never a half document.
    void fileShrinksWhileRead() {
        const std::string path = root() + "/rotating.log";
        std::string full;
        for (int i = 0; i < 200000; ++i) full += "2026-12-07 request " + std::to_string(i) + " served in 12 ms\n";
        spit(path, full);
        std::atomic<bool> stop{false};
        std::thread rotator([&] {
            while (!stop) {
                ::truncate(path.c_str(), 4096);
                std::this_thread::sleep_for(std::chrono::microseconds(200));
                std::ofstream(path, std::ios::binary | std::ios::app) << full.substr(4096);
            }
        });
        int whole = 0, changed = 0, other = 0;
        for (int i = 0; i < 30; ++i) {
            auto doc = qcw::readDocument(path, qcw::DataOptions().setInstructionPairs(false));
            // At any moment the file holds a prefix of `full`: a document read whole is that
            // prefix, byte for byte.
            if (!doc.skipped() && doc.text == full.substr(0, std::size_t(doc.bytes))) ++whole;
            else if (doc.skipped() && doc.reason.find("changed while it was read") != std::string::npos) ++changed;
            else {
                ++other;
                qWarning("unexpected: %s '%s' bytes=%llu", doc.status.c_str(), doc.reason.c_str(),
                         (unsigned long long)doc.bytes);
            }
        }
        stop = true;
        rotator.join();
        qInfo("reads: %d whole, %d refused as changed while read", whole, changed);
        QCOMPARE(other, 0);
        QCOMPARE(whole + changed, 30);
    }
};

QTEST_GUILESS_MAIN(TestFaults)
#include "test_faults.moc"
