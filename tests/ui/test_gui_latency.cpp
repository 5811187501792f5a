// The GUI thread's event latency while background work runs, offscreen: a 10 ms precise
// timer on the GUI thread records how late each tick fires (actual minus expected). Measured
// while the compression pane compresses tests/data/tiny-phi with annealed ranks (repeated
// until the jobs have run at least 1.5 s) and while the model pane computes the spectrum of the
// demo model's largest matrix (repeatedly). Prints the maximum and the mean (qInfo) so the
// figure can be quoted; the latency is a figure here, not a pass/fail on the wall clock:
// benchmarks/gui_latency.sh runs this program and checks the maximum against its target.
#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/pane_compression.h"
#include "ui/pane_model.h"

#include <QComboBox>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QLineEdit>
#include <QProgressBar>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include <algorithm>
#include <memory>

#include "ui_test_support.h"

using qcw::test::child;
using qcw::test::LatencyProbe;
using qcw::test::quietOptions;
using qcw::test::shownWindow;
using qcw::test::tinyDir;
using qcw::ui::CompressionPane;
using qcw::ui::MainWindow;
using qcw::ui::ModelPane;


class TestGuiLatency : public QObject {
    Q_OBJECT

    std::unique_ptr<MainWindow> open(const QString& dir, const QString& pane) {
        auto w = shownWindow(1280, 820);
        w->showPane(pane);
        w->openModel(dir);
        [&] { QTRY_VERIFY_WITH_TIMEOUT(w->session()->hasModel() && !w->session()->isLoading(), 20000); }();
        return w;
    }

private slots:
    void initTestCase() { qcw::test::isolateSettings(QStringLiteral("test_gui_latency")); }

    void whileCompressing() {
        auto w = open(tinyDir(), QStringLiteral("compression"));
        auto* pane = qobject_cast<CompressionPane*>(w->pane(QStringLiteral("compression")));
        QVERIFY(pane);
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        child<QLineEdit>(*w, "output-dir")->setText(tmp.filePath(QStringLiteral("tiny-anneal")));
        auto* method = child<QComboBox>(*w, "method-combo");
        auto* solver = child<QComboBox>(*w, "solver-combo");
        method->setCurrentIndex(method->findData(QStringLiteral("svd")));
        solver->setCurrentIndex(solver->findData(QStringLiteral("anneal")));
        QCOMPARE(solver->currentData().toString(), QStringLiteral("anneal"));
        auto* progress = child<QProgressBar>(*w, "job-progress");
        QVERIFY(progress);

        QSignalSpy finished(pane, &CompressionPane::jobFinished);
        QElapsedTimer busy;
        busy.start();
        LatencyProbe probe;
        int runs = 0;
        while (runs < 10 && (runs == 0 || busy.elapsed() < 1500)) {
            pane->startCompression(false);  // replaces the previous run's folder without asking
            QVERIFY(pane->isBusy());
            ++runs;
            QTRY_COMPARE_WITH_TIMEOUT(finished.count(), runs, 120000);
            QVERIFY2(finished.last().at(0).toBool(), qPrintable(finished.last().at(1).toString()));
            // The job reached its end.
            QVERIFY(progress->maximum() > 0);
            QCOMPARE(progress->value(), progress->maximum());
        }
        probe.stop();
        const qint64 ms = busy.elapsed();
        qInfo("GUI latency while compressing tiny-phi (svd, anneal; %d runs, %lld ms, %lld ticks): max %.1f ms, "
              "mean %.2f ms",
              runs, static_cast<long long>(ms), probe.ticks(), probe.maxMs(), probe.meanMs());
        QVERIFY(probe.ticks() > 0);  // the GUI thread served its timer while the jobs ran
    }

    void whileComputingSpectrum() {
        const QString demo = QStringLiteral(QCW_SOURCE_DIR "/resources/models/demo-phi");
        if (!QFileInfo::exists(demo + QStringLiteral("/config.json"))) QSKIP("no demo model");
        auto w = open(QFileInfo(demo).canonicalFilePath(), QStringLiteral("model"));
        auto* pane = qobject_cast<ModelPane*>(w->pane(QStringLiteral("model")));
        QVERIFY(pane);
        // The largest matrix of the model (4096 x 256 on the demo model).
        QString largest;
        std::int64_t most = 0;
        for (const auto& l : w->session()->model()->layers)
            if (l.shape.size() == 2 && l.params > most) {
                most = l.params;
                largest = QString::fromStdString(l.name);
            }
        QVERIFY(!largest.isEmpty());
        QSignalSpy ready(pane, &ModelPane::spectrumReady);
        QElapsedTimer busy;
        busy.start();
        LatencyProbe probe;
        int runs = 0;
        while (runs < 20 && (runs < 3 || busy.elapsed() < 1000)) {
            QVERIFY(pane->selectMatrix(largest));  // the same matrix again: computed again
            ++runs;
            QTRY_COMPARE_WITH_TIMEOUT(ready.count(), runs, 60000);
            pane->setKeepRank(pane->keepRank() + 1);
        }
        probe.stop();
        QCOMPARE(pane->singularValues().size(), std::size_t(std::min(256, 4096)));
        qInfo("GUI latency while computing the spectrum of %s (%d runs, %lld ms, %lld ticks): max %.1f ms, "
              "mean %.2f ms",
              qPrintable(largest), runs, static_cast<long long>(busy.elapsed()), probe.ticks(), probe.maxMs(),
              probe.meanMs());
        QVERIFY(probe.ticks() > 0);
    }
};

QTEST_MAIN(TestGuiLatency)
#include "test_gui_latency.moc"
