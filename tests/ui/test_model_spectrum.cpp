// The spectrum in the model pane, offscreen, on tests/data/tiny-phi: selecting a matrix
// computes its singular values on a worker (min(m, n) of them, descending), the keep-rank
// summary against the error formula computed here from the same values, the parameter count
// r(m+n), the rank line dragged with the mouse and set from the spin box, vectors and unknown
// names, a newer selection superseding a slower older one, errors as one line, and
// `qcw --screenshot` of the model pane showing a spectrum.
#include "ui/format.h"
#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/pane_model.h"

#include "common/error.h"
#include "decompose/compress_api.h"

#include <QApplication>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QImage>
#include <QLabel>
#include <QMouseEvent>
#include <QProcess>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QThread>
#include <QThreadPool>
#include <QtTest>

#include <qcustomplot.h>

#include <atomic>
#include <cmath>
#include <memory>

#include "ui_test_support.h"

using qcw::test::child;
using qcw::test::quietOptions;
using qcw::test::shownWindow;
using qcw::test::tinyDir;
using qcw::ui::MainWindow;
using qcw::ui::ModelPane;

namespace {

const QString kFc1 = QStringLiteral("model.layers.1.mlp.fc1.weight");  // 256 x 64

ModelPane* paneOf(const MainWindow& w) { return qobject_cast<ModelPane*>(w.pane(QStringLiteral("model"))); }

// sqrt(sum_{i>r} s_i^2 / sum s_i^2), written out independently of the pane.
double relativeError(const std::vector<double>& s, int r) {
    double total = 0, tail = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        total += s[i] * s[i];
        if (static_cast<int>(i) >= r) tail += s[i] * s[i];
    }
    return std::sqrt(tail / total);
}

void sendMouse(QWidget* w, QEvent::Type type, QPointF pos, Qt::MouseButtons buttons) {
    const Qt::MouseButton button = type == QEvent::MouseMove ? Qt::NoButton : Qt::LeftButton;
    QMouseEvent e(type, pos, w->mapToGlobal(pos), button, buttons, Qt::NoModifier);
    QApplication::sendEvent(w, &e);
}

}  // namespace

class TestModelSpectrum : public QObject {
    Q_OBJECT

    std::unique_ptr<MainWindow> openTiny() {
        auto w = shownWindow(1280, 820);
        w->showPane(QStringLiteral("model"));
        w->openModel(tinyDir());
        [&] { QTRY_VERIFY_WITH_TIMEOUT(w->session()->hasModel() && !w->session()->isLoading(), 20000); }();
        return w;
    }

private slots:
    void initTestCase() {
        qcw::test::isolateSettings(QStringLiteral("test_model_spectrum"));
        QVERIFY2(QFileInfo::exists(tinyDir() + QStringLiteral("/config.json")), qPrintable(tinyDir()));
    }

    void spectrumOfSelectedMatrix() {
        auto w = openTiny();
        ModelPane* pane = paneOf(*w);
        QVERIFY(pane);
        QVERIFY(pane->spectrumMatrix().isEmpty());
        QCOMPARE(pane->defaultMatrix(), QStringLiteral("model.layers.0.mlp.fc1.weight"));
        QSignalSpy ready(pane, &ModelPane::spectrumReady);
        QVERIFY(pane->selectMatrix(kFc1));
        QCOMPARE(pane->spectrumMatrix(), kFc1);
        QVERIFY(pane->isComputingSpectrum());  // on a worker: not done inside the call
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, 20000);
        QCOMPARE(ready.at(0).at(0).toString(), kFc1);
        QVERIFY(!pane->isComputingSpectrum());
        QVERIFY(pane->spectrumError().isEmpty());

        const std::vector<double> s = pane->singularValues();
        QCOMPARE(s.size(), std::size_t(64));  // min(256, 64)
        for (std::size_t i = 1; i < s.size(); ++i) QVERIFY(s[i - 1] >= s[i]);
        QVERIFY(s.back() > 0);
        QCOMPARE(pane->spectralStats().rows, std::int64_t(256));
        QCOMPARE(pane->spectralStats().cols, std::int64_t(64));
        QVERIFY(pane->spectralStats().effectiveRank > 1);

        // The default line: 30 % of full rank.
        QCOMPARE(pane->keepRank(), static_cast<int>(std::lround(0.3 * 64)));
        for (int r : {0, 1, 7, 19, 32, 63, 64}) {
            pane->setKeepRank(r);
            const qcw::ui::KeepRankSummary k = pane->keepRankSummary();
            QCOMPARE(k.rank, r);
            QCOMPARE(k.fullRank, 64);
            QCOMPARE(k.params, static_cast<long long>(r) * (256 + 64));
            QCOMPARE(k.denseParams, 256LL * 64);
            QVERIFY(std::abs(k.keptFraction - double(r) * 320.0 / (256.0 * 64.0)) < 1e-12);
            QVERIFY2(std::abs(k.relativeError - relativeError(s, r)) < 1e-9,
                     qPrintable(QStringLiteral("r=%1: %2 vs %3").arg(r).arg(k.relativeError).arg(relativeError(s, r))));
        }
        pane->setKeepRank(64);
        QCOMPARE(pane->keepRankSummary().relativeError, 0.0);
        pane->setKeepRank(0);
        QVERIFY(std::abs(pane->keepRankSummary().relativeError - 1.0) < 1e-12);
        pane->setKeepRank(1000);  // clamped
        QCOMPARE(pane->keepRank(), 64);

        // The spin box and the summary follow the line, and the line follows the spin box.
        auto* spin = child<QSpinBox>(*w, "keep-rank");
        auto* summary = child<QLabel>(*w, "keep-rank-summary");
        QVERIFY(spin && summary);
        QCOMPARE(spin->maximum(), 64);
        pane->setKeepRank(10);
        QCOMPARE(spin->value(), 10);
        QVERIFY2(summary->text().contains(QStringLiteral("Rank 10 of 64")), qPrintable(summary->text()));
        QVERIFY(summary->text().contains(qcw::ui::formatCount(3200)));  // 10 * (256 + 64)
        QSignalSpy rankChanged(pane, &ModelPane::keepRankChanged);
        spin->setValue(20);
        QCOMPARE(pane->keepRank(), 20);
        QCOMPARE(rankChanged.count(), 1);
        QVERIFY(summary->text().contains(QStringLiteral("Rank 20 of 64")));
        QVERIFY(summary->text().contains(qcw::ui::formatCount(6400)));  // 20 * 320

        // Dragging the line with the mouse.
        auto* plot = child<QCustomPlot>(*w, "spectrum-plot");
        QVERIFY(plot);
        plot->replot();  // lay the axes out now (the pane replots queued)
        const double y = plot->axisRect()->center().y();
        const double from = plot->xAxis->coordToPixel(20), to = plot->xAxis->coordToPixel(40);
        sendMouse(plot, QEvent::MouseButtonPress, QPointF(from, y), Qt::LeftButton);
        QCOMPARE(pane->keepRank(), 20);
        sendMouse(plot, QEvent::MouseMove, QPointF((from + to) / 2, y), Qt::LeftButton);
        QCOMPARE(pane->keepRank(), 30);
        sendMouse(plot, QEvent::MouseMove, QPointF(to, y), Qt::LeftButton);
        sendMouse(plot, QEvent::MouseButtonRelease, QPointF(to, y), Qt::NoButton);
        QCOMPARE(pane->keepRank(), 40);
        QCOMPARE(spin->value(), 40);
        QVERIFY(summary->text().contains(QStringLiteral("Rank 40 of 64")));
        QVERIFY(std::abs(pane->keepRankSummary().relativeError - relativeError(s, 40)) < 1e-9);
        // A move without the button held moves nothing.
        sendMouse(plot, QEvent::MouseMove, QPointF(from, y), Qt::NoButton);
        QCOMPARE(pane->keepRank(), 40);

        // The stats box and the Marchenko-Pastur line are drawn.
        const auto stats = pane->spectralStats();
        QVERIFY(stats.mpBulkEdge > 0);
        QCOMPARE(plot->graph(0)->dataCount() + plot->graph(1)->dataCount(), 64 + 1);  // +1: the joint
    }

    // A compressed snapshot: selecting a factor shows the matrix its layer's factors rebuild,
    // up to its numerical rank (the rank compression.json gives the layer).
    void factorsShowTheRebuiltMatrix() {
        QTemporaryDir tmp;
        const QString out = tmp.filePath(QStringLiteral("c"));
        qcw::CompressOptions o;
        o.keepFraction = 0.5;
        const qcw::CompressionReport r = qcw::compressModelDir(tinyDir().toStdString(), out.toStdString(), o);
        int rank = 0;
        for (const auto& l : r.layers)
            if (l.name == "model.layers.1.mlp.fc2") rank = l.ranks.at(0);
        QVERIFY(rank > 0 && rank < 64);
        auto w = shownWindow(1280, 820);
        w->showPane(QStringLiteral("model"));
        w->openModel(out);
        QTRY_VERIFY_WITH_TIMEOUT(w->session()->hasModel() && !w->session()->isLoading(), 20000);
        ModelPane* pane = paneOf(*w);
        QSignalSpy ready(pane, &ModelPane::spectrumReady);
        QVERIFY(pane->selectMatrix(QStringLiteral("model.layers.1.mlp.fc2.lowrank_right")));
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, 20000);
        QCOMPARE(ready.at(0).at(0).toString(), QStringLiteral("model.layers.1.mlp.fc2.weight"));
        QCOMPARE(pane->singularValues().size(), std::size_t(rank));
        QCOMPARE(pane->spectralStats().rows, std::int64_t(64));
        QCOMPARE(pane->spectralStats().cols, std::int64_t(256));
        const QString status = child<QLabel>(*w, "spectrum-status")->text();
        QVERIFY2(status.contains(QStringLiteral("rebuilt from its svd factors")) &&
                     status.contains(QStringLiteral("numerical rank %1").arg(rank)),
                 qPrintable(status));
        // The keep-rank line runs over the rebuilt matrix's rank.
        pane->setKeepRank(1000);
        QCOMPARE(pane->keepRank(), rank);
    }

    void vectorsAndUnknownNames() {
        auto w = openTiny();
        ModelPane* pane = paneOf(*w);
        QSignalSpy ready(pane, &ModelPane::spectrumReady);
        QVERIFY(pane->selectMatrix(QStringLiteral("model.layers.0.input_layernorm.weight")));
        auto* status = child<QLabel>(*w, "spectrum-status");
        QVERIFY2(status->text().contains(QStringLiteral("not a matrix")), qPrintable(status->text()));
        QVERIFY(pane->singularValues().empty());
        QVERIFY(!pane->isComputingSpectrum());

        QVERIFY(!pane->selectMatrix(QStringLiteral("model.layers.7.mlp.fc1.weight")));
        auto* error = child<QLabel>(*w, "spectrum-error");
        QVERIFY(error->isVisible());
        QVERIFY2(error->text().contains(QStringLiteral("no tensor")), qPrintable(error->text()));
        QVERIFY(!error->text().contains(QLatin1Char('\n')));
        QCOMPARE(ready.count(), 0);

        // Embeddings are matrices too (not compressible, still a spectrum).
        QVERIFY(pane->selectMatrix(QStringLiteral("model.embed_tokens.weight")));
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, 20000);
        QCOMPARE(pane->singularValues().size(), std::size_t(64));
        QVERIFY(!error->isVisible());
    }

    void newerSelectionSupersedesOlder() {
        auto w = openTiny();
        ModelPane* pane = paneOf(*w);
        // The first matrix is slow (until cancelled; at most 60 s, so a bug cannot hang the
        // test); the others are immediate.
        auto slowStarted = std::make_shared<std::atomic<bool>>(false);
        auto slowEnded = std::make_shared<std::atomic<bool>>(false);
        pane->setSpectrumFunction(
            [slowStarted, slowEnded](const std::string& dir, const std::string& tensor, qcw::RunContext& ctx) {
                if (tensor == "model.layers.0.mlp.fc1.weight") {
                    slowStarted->store(true);
                    QElapsedTimer clock;
                    clock.start();
                    while (!ctx.isCancelled() && clock.elapsed() < 60000) QThread::msleep(5);
                    slowEnded->store(true);
                }
                return qcw::computeMatrixSpectrum(dir, tensor, ctx);
            });
        QSignalSpy ready(pane, &ModelPane::spectrumReady);
        QSignalSpy failed(pane, &ModelPane::spectrumFailed);
        QVERIFY(pane->selectMatrix(QStringLiteral("model.layers.0.mlp.fc1.weight")));
        QTRY_VERIFY_WITH_TIMEOUT(slowStarted->load(), 20000);  // the slow job runs on its worker
        QVERIFY(pane->isComputingSpectrum());
        QVERIFY(pane->selectMatrix(QStringLiteral("model.layers.0.mlp.fc2.weight")));  // 64 x 256
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, 20000);
        QCOMPARE(ready.at(0).at(0).toString(), QStringLiteral("model.layers.0.mlp.fc2.weight"));
        QCOMPARE(pane->spectrumMatrix(), QStringLiteral("model.layers.0.mlp.fc2.weight"));
        QCOMPARE(pane->spectralStats().rows, std::int64_t(64));
        // The superseded job ends (it saw its cancellation) and its late result passes through
        // the event loop: it changes nothing.
        QTRY_VERIFY_WITH_TIMEOUT(slowEnded->load(), 20000);
        QVERIFY(QThreadPool::globalInstance()->waitForDone(20000));
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
        QCOMPARE(ready.count(), 1);
        QCOMPARE(failed.count(), 0);
        QCOMPARE(pane->spectrumMatrix(), QStringLiteral("model.layers.0.mlp.fc2.weight"));

        // Selecting the shown matrix again computes it again.
        QVERIFY(pane->selectMatrix(QStringLiteral("model.layers.0.mlp.fc2.weight")));
        QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 2, 20000);
    }

    void errorsShowAsOneLine() {
        auto w = openTiny();
        ModelPane* pane = paneOf(*w);
        pane->setSpectrumFunction([](const std::string&, const std::string&, qcw::RunContext&) -> qcw::MatrixSpectrum {
            qcw::fail("spectrum", "exploded on purpose\nwith a second line");
        });
        QSignalSpy failed(pane, &ModelPane::spectrumFailed);
        QVERIFY(pane->selectMatrix(kFc1));
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 20000);
        auto* error = child<QLabel>(*w, "spectrum-error");
        QVERIFY(error->isVisible());
        QVERIFY2(error->text().contains(QStringLiteral("exploded on purpose")), qPrintable(error->text()));
        QVERIFY(!error->text().contains(QLatin1Char('\n')));
        QCOMPARE(pane->spectrumError(), error->text());
        QVERIFY(pane->singularValues().empty());
        QCOMPARE(pane->keepRank(), 0);
    }

    void screenshotShowsSpectrum() {
        const QString bin = QStringLiteral(QCW_BIN_DIR "/qcw");
        if (!QFileInfo(bin).isExecutable()) QSKIP("qcw is not built in QCW_BIN_DIR");
        QTemporaryDir out;
        QVERIFY(out.isValid());
        const QString png = out.filePath(QStringLiteral("model.png"));
        QProcess p;
        p.start(bin, {QStringLiteral("--screenshot"), png, QStringLiteral("--model-select"), kFc1, tinyDir()});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, p.readAllStandardError().constData());
        QVERIFY(!QImage(png).isNull());
        // An unknown matrix: one line on stderr, exit code 1.
        p.start(bin, {QStringLiteral("--screenshot"), png, QStringLiteral("--model-select"),
                      QStringLiteral("no.such.weight"), tinyDir()});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 1);
        const QByteArray err = p.readAllStandardError();
        QVERIFY2(err.contains("qcw: no tensor 'no.such.weight' in this model\n"), err.constData());
    }
};

QTEST_MAIN(TestModelSpectrum)
#include "test_model_spectrum.moc"
