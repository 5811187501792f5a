// The evaluation pane and the report behind it, offscreen: the Pareto fronts and the brief's
// verdicts on hand-made reports where they are known by construction and on the demo model's
// real report (tests/data/pareto); the pane's targets, charts and table; "Export PNGs" writes
// two images of the fixed size and targets.md and leaves pareto.json byte for byte as it was;
// bad input is one line in the pane; the default folder; `qcw --report-plots` and
// `qcw --screenshot --pane evaluation` end to end.
#include "ui/main_window.h"
#include "ui/pane_evaluation.h"
#include "ui/pareto_report.h"
#include "ui/report_plots.h"

#include <QCryptographicHash>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QLabel>
#include <QProcess>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <qcustomplot.h>

#include "ui_test_support.h"

using qcw::test::child;
using qcw::test::quietOptions;
using qcw::ui::EvaluationPane;
using qcw::ui::MainWindow;
using qcw::ui::ParetoReport;
using qcw::ui::Target;

namespace {

QString fixture(const char* name) { return QStringLiteral(QCW_TEST_DATA "/pareto/") + QLatin1String(name); }
const char* kDemo = "demo-cpu-2026-11-26";

ParetoReport load(const QString& dir) {
    ParetoReport r;
    QString error;
    if (!qcw::ui::loadParetoReport(dir, r, error)) qWarning("%s", qPrintable(error));
    return r;
}

QByteArray fileHash(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return QCryptographicHash::hash(f.readAll(), QCryptographicHash::Sha256);
}

// A copy of a fixture report in `tmp` (the pane and --report-plots write beside it).
QString copyFixture(const QTemporaryDir& tmp, const char* name) {
    const QString dir = tmp.filePath(QLatin1String(name));
    QDir().mkpath(dir);
    QFile::copy(fixture(name) + QStringLiteral("/pareto.json"), dir + QStringLiteral("/pareto.json"));
    return dir;
}

std::vector<int> v(std::initializer_list<int> l) { return l; }

}  // namespace

class TestEvaluationPane : public QObject {
    Q_OBJECT

    EvaluationPane* pane(MainWindow& w) { return qobject_cast<EvaluationPane*>(w.pane(QStringLiteral("evaluation"))); }

    bool openAndWait(EvaluationPane* p, const QString& dir) {
        QSignalSpy spy(p, &EvaluationPane::reportLoaded);
        p->openReport(dir);
        return spy.wait(10000) && spy.count() == 1;
    }

private slots:
    void initTestCase() { qcw::test::isolateSettings(QStringLiteral("test_evaluation_pane")); }
    void init() { QSettings().clear(); }
    void cleanupTestCase() { QSettings().clear(); }

    void frontAndVerdictsByConstruction() {
        // dense (1, 1, 1x), A (0.25, 0.90, 2.5x, product), B (0.50, 0.80, 3x, product), C (0.20, 0.60, svd).
        const ParetoReport r = load(fixture("small"));
        QCOMPARE(int(r.points.size()), 4);
        QCOMPARE(r.model, QStringLiteral("hand-made"));
        QCOMPARE(qcw::ui::paretoFrontSize(r), v({3, 1, 0}));   // B is dominated by A
        QCOMPARE(qcw::ui::paretoFrontSpeed(r), v({0, 1, 2}));  // C has no speed; B is fastest
        const auto e = qcw::ui::evaluateTargets(r);
        QCOMPARE(int(e.verdicts.size()), 3);
        QCOMPARE(e.verdicts[0].target, Target::ParamsKept);
        QCOMPARE(e.verdicts[0].best, 1);
        QVERIFY(e.verdicts[0].met);
        QCOMPARE(e.verdicts[1].best, 1);
        QVERIFY(e.verdicts[1].met);
        QCOMPARE(e.verdicts[2].best, 2);
        QCOMPARE(e.verdicts[2].value, 3.0);
        QVERIFY(e.verdicts[2].met);
        QCOMPARE(e.allMet, v({1}));

        // split: A decodes at 1.5x only; every target is met by some model, none meets all three.
        const ParetoReport s = load(fixture("split"));
        const auto f = qcw::ui::evaluateTargets(s);
        QVERIFY(f.verdicts[0].met && f.verdicts[1].met && f.verdicts[2].met);
        QCOMPARE(f.verdicts[2].best, 2);
        QVERIFY(f.allMet.empty());
        QVERIFY(qcw::ui::targetsMarkdown(s, f).contains(QStringLiteral("no product model meets them together")));

        // Stricter targets than any product point: not met.
        ParetoReport strict = r;
        strict.targets.paramsKeptMax = 0.1;
        const auto g = qcw::ui::evaluateTargets(strict);
        QVERIFY(!g.verdicts[0].met);
        QCOMPARE(g.verdicts[0].best, 1);
        QVERIFY(g.allMet.empty());
    }

    void demoReport() {
        const ParetoReport r = load(fixture(kDemo));
        QCOMPARE(int(r.points.size()), 26);
        // Found by hand from the file: tt 0.3 is the smallest, the healed ASVD the best at 30%,
        // tucker 0.9 keeps more than dense (1.0002), int8 (1.0005) the most.
        QCOMPARE(qcw::ui::paretoFrontSize(r), v({25, 17, 5, 12, 11, 10, 14, 1}));
        QCOMPARE(qcw::ui::paretoFrontSpeed(r), v({1, 0, 3}));  // int8, dense, ASVD 30%
        const auto e = qcw::ui::evaluateTargets(r);
        QCOMPARE(r.points[std::size_t(e.verdicts[0].best)].name, QStringLiteral("ASVD 30%"));
        QCOMPARE(r.points[std::size_t(e.verdicts[1].best)].name, QStringLiteral("asvd 0.30 healed"));
        QCOMPARE(r.points[std::size_t(e.verdicts[2].best)].name, QStringLiteral("ASVD 30%"));
        QVERIFY(e.verdicts[0].met && e.verdicts[1].met && e.verdicts[2].met);
        QCOMPARE(e.allMet, v({3}));  // the healed model's speed was not measured
    }

    void paneShowsReport() {
        MainWindow w(quietOptions());
        EvaluationPane* p = pane(w);
        QVERIFY(p);
        QVERIFY(openAndWait(p, fixture(kDemo)));
        QVERIFY(p->hasReport());
        QVERIFY(p->lastError().isEmpty());
        auto* table = child<QTableWidget>(*p, "eval-table");
        QCOMPARE(table->rowCount(), 26);
        QCOMPARE(table->columnCount(), 11);
        QCOMPARE(table->item(0, 0)->text(), QStringLiteral("dense"));
        QCOMPARE(table->item(0, 2)->text(), QStringLiteral("8,415,744"));
        QCOMPARE(table->item(2, 7)->text(), QStringLiteral("2.89x"));           // SVD 30% decode speed-up
        QCOMPARE(table->item(0, 10)->text(), QStringLiteral("16.8"));          // on disk MB
        QCOMPARE(table->item(5, 0)->text(), QStringLiteral("asvd 0.30 healed"));
        QVERIFY(table->item(5, 6)->text().isEmpty());                          // speed not measured
        QVERIFY(table->item(25, 8)->text().isEmpty());
        for (const char* name : {"eval-target-params", "eval-target-quality", "eval-target-decode", "eval-target-all"}) {
            auto* l = child<QLabel>(*p, name);
            QVERIFY2(l && l->property("met").toBool(), name);
        }
        QVERIFY(child<QLabel>(*p, "eval-target-all")->text().contains(QStringLiteral("ASVD 30%")));
        QVERIFY(child<QLabel>(*p, "eval-machine")->text().contains(QStringLiteral("AMD EPYC")));
        QVERIFY(child<QLabel>(*p, "eval-quality")->text().contains(QStringLiteral("perplexity")));
        auto* params = child<QCustomPlot>(*p, "eval-plot-params");
        auto* decode = child<QCustomPlot>(*p, "eval-plot-decode");
        QVERIFY(params && decode);
        // One graph per group (7) and the front; the front's points are the computed ones.
        QCOMPARE(params->graphCount(), 8);
        QCOMPARE(params->graph(7)->dataCount(), 8);
        QCOMPARE(decode->graph(decode->graphCount() - 1)->dataCount(), 3);

        // The split report: the "all three" verdict turns red.
        QVERIFY(openAndWait(p, fixture("split")));
        QVERIFY(!child<QLabel>(*p, "eval-target-all")->property("met").toBool());
        QVERIFY(child<QLabel>(*p, "eval-target-decode")->property("met").toBool());
        QCOMPARE(child<QTableWidget>(*p, "eval-table")->rowCount(), 4);
    }

    void exportWritesImagesAndLeavesReport() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const QString dir = copyFixture(tmp, kDemo);
        const QByteArray before = fileHash(dir + QStringLiteral("/pareto.json"));
        QVERIFY(!before.isEmpty());
        MainWindow w(quietOptions());
        EvaluationPane* p = pane(w);
        QVERIFY(openAndWait(p, dir));
        QSignalSpy spy(p, &EvaluationPane::exportFinished);
        child<QPushButton>(*p, "eval-export")->click();
        QVERIFY(spy.wait(30000));
        QVERIFY2(spy.at(0).at(0).toBool(), qPrintable(spy.at(0).at(1).toString()));
        for (const char* name : {"quality_vs_params.png", "quality_vs_decode.png"}) {
            const QString path = dir + QLatin1Char('/') + QLatin1String(name);
            QVERIFY2(QFileInfo(path).size() > 0, name);
            const QImage image(path);
            QCOMPARE(image.size(), QSize(qcw::ui::kReportPlotWidth, qcw::ui::kReportPlotHeight));
        }
        QFile md(dir + QStringLiteral("/targets.md"));
        QVERIFY(md.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(md.readAll());
        QVERIFY(text.contains(QStringLiteral("| decode speed-up \u2265 2.0x | ASVD 30% | 2.91x | met |")));
        QVERIFY(text.contains(QStringLiteral("All three at once: met by ASVD 30%")));
        QCOMPARE(fileHash(dir + QStringLiteral("/pareto.json")), before);
        // No temporary files left beside them.
        QCOMPARE(QDir(dir).entryList(QDir::Files).size(), 4);
    }

    void badInputIsOneLineInThePane() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        MainWindow w(quietOptions());
        EvaluationPane* p = pane(w);
        auto* error = child<QLabel>(*p, "eval-error");
        auto check = [&](const QString& dir, const QString& expect) {
            QSignalSpy spy(p, &EvaluationPane::reportLoaded);
            p->openReport(dir);
            QVERIFY(spy.wait(10000));
            QVERIFY(!spy.at(0).at(0).toBool());
            QVERIFY(!p->hasReport());
            QVERIFY2(p->lastError().contains(expect), qPrintable(p->lastError()));
            QVERIFY(!p->lastError().contains(QLatin1Char('\n')));
            QCOMPARE(error->text(), p->lastError());
            QVERIFY(!error->isHidden());
            QCOMPARE(child<QTableWidget>(*p, "eval-table")->rowCount(), 0);
            QVERIFY(!child<QPushButton>(*p, "eval-export")->isEnabled());
        };
        check(tmp.filePath(QStringLiteral("nowhere")), QStringLiteral("no such folder"));
        check(tmp.path(), QStringLiteral("pareto.json: missing"));

        QFile broken(tmp.filePath(QStringLiteral("pareto.json")));
        QVERIFY(broken.open(QIODevice::WriteOnly));
        broken.write("{\"model\": \"x\", \"points\": [");
        broken.close();
        check(tmp.path(), QStringLiteral("pareto.json: not valid JSON"));

        QFile src(fixture("small") + QStringLiteral("/pareto.json"));
        QVERIFY(src.open(QIODevice::ReadOnly));
        QByteArray json = src.readAll();
        json.replace("\"quality_kept\": 0.9,", "");  // point A loses its quality
        QVERIFY(broken.open(QIODevice::WriteOnly | QIODevice::Truncate));
        broken.write(json);
        broken.close();
        check(tmp.path(), QStringLiteral("pareto.json: points[1]: missing field \"quality_kept\""));

        // A good report afterwards clears the error.
        QVERIFY(openAndWait(p, fixture("small")));
        QVERIFY(p->lastError().isEmpty());
        QVERIFY(error->isHidden());
    }

    void defaultFolder() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const QString older = copyFixture(tmp, "small");
        const QString newer = copyFixture(tmp, "split");
        QDir().mkpath(tmp.filePath(QStringLiteral("no-report")));
        QFile f(older + QStringLiteral("/pareto.json"));
        QVERIFY(f.open(QIODevice::ReadWrite));
        QVERIFY(f.setFileTime(QDateTime::currentDateTime().addDays(-1), QFileDevice::FileModificationTime));
        f.close();
        QCOMPARE(qcw::ui::newestReportDir(tmp.path()), QFileInfo(newer).absoluteFilePath());

        MainWindow w(quietOptions());
        EvaluationPane* p = pane(w);
        p->setResultsDir(tmp.path());
        QCOMPARE(p->defaultReportDir(), QFileInfo(newer).absoluteFilePath());
        QSettings().setValue(QStringLiteral("panes/evaluation/reportDir"), older);  // a remembered choice wins
        QCOMPARE(p->defaultReportDir(), older);

        // Showing the pane reads the default.
        QSignalSpy spy(p, &EvaluationPane::reportLoaded);
        w.resize(1100, 760);
        w.show();
        QVERIFY(w.showPane(QStringLiteral("evaluation")));
        QVERIFY(spy.wait(10000));
        QCOMPARE(p->reportDir(), older);
        QCOMPARE(p->report().points.size(), std::size_t(4));
    }

    void commandLineEndToEnd() {
        const QString bin = QStringLiteral(QCW_BIN_DIR "/qcw");
        if (!QFileInfo(bin).isExecutable()) QSKIP("qcw is not built in QCW_BIN_DIR");
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const QString dir = copyFixture(tmp, kDemo);
        const QByteArray before = fileHash(dir + QStringLiteral("/pareto.json"));
        QProcess p;
        p.start(bin, {QStringLiteral("--report-plots"), dir});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        QCOMPARE(QImage(dir + QStringLiteral("/quality_vs_params.png")).size(),
                 QSize(qcw::ui::kReportPlotWidth, qcw::ui::kReportPlotHeight));
        QCOMPARE(QImage(dir + QStringLiteral("/quality_vs_decode.png")).size(),
                 QSize(qcw::ui::kReportPlotWidth, qcw::ui::kReportPlotHeight));
        QVERIFY(QFileInfo(dir + QStringLiteral("/targets.md")).size() > 0);
        QCOMPARE(fileHash(dir + QStringLiteral("/pareto.json")), before);

        // Bad input: one line, non-zero exit, nothing written.
        const QString empty = tmp.filePath(QStringLiteral("empty"));
        QDir().mkpath(empty);
        p.start(bin, {QStringLiteral("--report-plots"), empty});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 1);
        // qcw's own lines start with "qcw: " (Qt may add warnings of its own).
        QStringList mine;
        for (const QString& line : QString::fromLocal8Bit(p.readAllStandardError()).split(QLatin1Char('\n')))
            if (line.startsWith(QStringLiteral("qcw: "))) mine << line;
        QCOMPARE(mine.size(), 1);
        QVERIFY2(mine.first().contains(QStringLiteral("pareto.json: missing")), qPrintable(mine.first()));
        QVERIFY(QDir(empty).isEmpty());

        // The pane in a screenshot.
        const QString png = tmp.filePath(QStringLiteral("evaluation.png"));
        p.start(bin, {QStringLiteral("--screenshot"), png, QStringLiteral("--pane"), QStringLiteral("evaluation"),
                      QStringLiteral("--report"), fixture(kDemo), qcw::test::tinyDir()});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        QVERIFY(!QImage(png).isNull());
    }
};

QTEST_MAIN(TestEvaluationPane)
#include "test_evaluation_pane.moc"
