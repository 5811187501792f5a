// The compression pane, offscreen, on tests/data/tiny-phi: disabled without a model, the
// kept-fraction slider and its target, compressing into a folder (progress, per-layer table,
// compression.json, GUI latency), a live rank search plot, cancellation within a second (a
// slow search function stands in for a long solver run), errors in the pane and the status
// bar, the replace confirmation, the rank heatmap following a search live, the before/after
// spectrum of a compressed layer, and `qcw --screenshot --pane compression`.
#include "io/inventory.h"
#include "ui/format.h"
#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/pane_compression.h"
#include "ui/rank_heatmap.h"

#include "decompose/compress_job.h"
#include "decompose/rank_search.h"

#include "common/error.h"

#include <QCheckBox>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSlider>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QThreadPool>
#include <QTimer>
#include <QtTest>

#include <qcustomplot.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <thread>

using qcw::ui::CompressionPane;
using qcw::ui::MainWindow;

#include "ui_test_support.h"

using qcw::test::child;
using qcw::test::LatencyProbe;
using qcw::test::quietOptions;
using qcw::test::shownWindow;

using qcw::test::tinyDir;

namespace {


CompressionPane* paneOf(const MainWindow& w) {
    return qobject_cast<CompressionPane*>(w.pane(QStringLiteral("compression")));
}

bool idle(const MainWindow& w) {
    auto* pane = paneOf(w);
    return pane && !pane->isBusy() && child<QPushButton>(w, "compress-button")->isEnabled() &&
           !child<QPushButton>(w, "cancel-button")->isEnabled();
}

void selectData(QComboBox* combo, const char* id) {
    const int i = combo->findData(QString::fromLatin1(id));
    QVERIFY2(i >= 0, id);
    combo->setCurrentIndex(i);
}


}  // namespace

class TestCompressionPane : public QObject {
    Q_OBJECT

    std::unique_ptr<MainWindow> openTiny() {
        auto w = shownWindow();
        w->openModel(tinyDir());
        [&] { QTRY_VERIFY_WITH_TIMEOUT(w->session()->hasModel() && !w->session()->isLoading(), 20000); }();
        w->showPane(QStringLiteral("compression"));
        return w;
    }

private slots:
    void initTestCase() {
        qcw::test::isolateSettings(QStringLiteral("test_compression_pane"));
        QVERIFY2(QFileInfo::exists(tinyDir() + QStringLiteral("/config.json")), qPrintable(tinyDir()));
    }
    void init() { QSettings().clear(); }
    void cleanupTestCase() { QSettings().clear(); }

    void disabledWithoutModel() {
        MainWindow w(quietOptions());
        w.show();
        QVERIFY(w.showPane(QStringLiteral("compression")));
        QVERIFY(paneOf(w));
        QCOMPARE(paneOf(w)->objectName(), QStringLiteral("pane-compression"));
        auto* hint = child<QLabel>(w, "compression-hint");
        QVERIFY(hint);
        QTRY_VERIFY(hint->isVisible());
        QVERIFY(hint->text().contains(QStringLiteral("No model is open")));
        for (const char* name : {"keep-slider", "method-combo", "solver-combo", "output-dir", "search-button",
                                 "compress-button", "cancel-button"}) {
            auto* widget = child<QWidget>(w, name);
            QVERIFY2(widget, name);
            QVERIFY2(!widget->isEnabled(), name);
        }
    }

    void sliderShowsTarget() {
        auto w = openTiny();
        auto* slider = child<QSlider>(*w, "keep-slider");
        auto* target = child<QLabel>(*w, "keep-target");
        QVERIFY(slider && target);
        QTRY_VERIFY(slider->isVisible() && slider->isEnabled());
        QVERIFY(!child<QLabel>(*w, "compression-hint")->isVisible());
        QCOMPARE(slider->minimum(), 5);
        QCOMPARE(slider->maximum(), 100);
        QCOMPARE(slider->value(), 30);
        const std::int64_t params = w->session()->model()->params;
        auto targetFor = [&](int pct) {
            return qcw::ui::formatCount(static_cast<std::int64_t>(std::llround(double(params) * pct / 100.0)));
        };
        QVERIFY2(target->text().contains(targetFor(30)), qPrintable(target->text()));
        QVERIFY(target->text().contains(qcw::ui::formatCount(params)));
        auto* out = child<QLineEdit>(*w, "output-dir");
        QCOMPARE(QDir::fromNativeSeparators(out->text()), tinyDir() + QStringLiteral("-compressed-30"));

        slider->setFocus();
        QTest::keyClick(slider, Qt::Key_PageUp);  // +5
        QCOMPARE(slider->value(), 35);
        QVERIFY2(target->text().contains(targetFor(35)), qPrintable(target->text()));
        QCOMPARE(QDir::fromNativeSeparators(out->text()), tinyDir() + QStringLiteral("-compressed-35"));
        slider->setValue(50);
        QVERIFY(target->text().contains(targetFor(50)));
        QVERIFY(target->text().contains(QStringLiteral("50 %")));

        // A folder the user typed stays when the slider moves.
        QTest::keyClicks(out, QStringLiteral("x"));
        const QString typed = out->text();
        slider->setValue(40);
        QCOMPARE(out->text(), typed);
    }

    void compressesIntoFolder() {
        auto w = openTiny();
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const QString outDir = tmp.filePath(QStringLiteral("tiny-svd"));
        child<QLineEdit>(*w, "output-dir")->setText(outDir);
        selectData(child<QComboBox>(*w, "method-combo"), "svd");
        selectData(child<QComboBox>(*w, "solver-combo"), "");
        auto* progress = child<QProgressBar>(*w, "job-progress");
        auto* table = child<QTableWidget>(*w, "layer-results");
        QVERIFY(progress && table);

        QSignalSpy finished(paneOf(*w), &CompressionPane::jobFinished);
        // The worker's own reports bring the bar to its end (while the job is still running,
        // before the pane marks it done).
        bool reachedEndWhileBusy = false;
        QObject::connect(progress, &QProgressBar::valueChanged, progress, [&](int v) {
            if (paneOf(*w)->isBusy() && progress->maximum() > 1 && v == progress->maximum())
                reachedEndWhileBusy = true;
        });
        LatencyProbe probe;
        QTest::mouseClick(child<QPushButton>(*w, "compress-button"), Qt::LeftButton);
        QVERIFY(paneOf(*w)->isBusy());
        QVERIFY(child<QPushButton>(*w, "cancel-button")->isEnabled());
        QVERIFY(!child<QPushButton>(*w, "compress-button")->isEnabled());
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
        QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(finished.at(0).at(1).toString()));
        qInfo("GUI latency while compressing: max %.1f ms, mean %.2f ms (a figure; benchmarks/gui_latency.sh)",
              probe.maxMs(), probe.meanMs());
        QVERIFY(idle(*w));

        // Progress reached the end; the table lists 18 decoder matrices + lm_head.
        QVERIFY(progress->maximum() > 0);
        QCOMPARE(progress->value(), progress->maximum());
        QVERIFY(reachedEndWhileBusy);
        QCOMPARE(table->rowCount(), 19);
        QStringList names;
        for (int r = 0; r < table->rowCount(); ++r) {
            names << table->item(r, 0)->text();
            QCOMPARE(table->item(r, 1)->text(), QStringLiteral("svd"));
            QVERIFY(!table->item(r, 2)->text().isEmpty());
            QVERIFY(!table->item(r, 5)->text().isEmpty());
        }
        QVERIFY(names.contains(QStringLiteral("lm_head")));
        QVERIFY(names.contains(QStringLiteral("model.layers.2.mlp.fc2")));
        // The heatmap: 3 blocks + a row for lm_head, one column per kind of map, each cell the
        // layer's kept fraction, labelled with its rank as in the table.
        auto* heat = w->findChild<qcw::ui::RankHeatmap*>(QStringLiteral("rank-heatmap"));
        QVERIFY(heat);
        QCOMPARE(static_cast<int>(heat->cells().size()), 19);
        QCOMPARE(heat->rows(), 4);
        QCOMPARE(heat->columns(), (QStringList{"q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2", "lm_head"}));
        for (const auto& c : heat->cells()) {
            QVERIFY2(c.value > 0 && c.value <= 1.0, qPrintable(c.name));
            const auto place = qcw::ui::placeOf(c.name);
            const int row = place.layer >= 0 ? place.layer : heat->rows() - 1;
            QCOMPARE(heat->valueAt(row, static_cast<int>(heat->columns().indexOf(place.kind))), c.value);
            const int tableRow = static_cast<int>(names.indexOf(c.name));
            QVERIFY(tableRow >= 0);
            QCOMPARE(c.text, table->item(tableRow, 2)->text());
        }
        QVERIFY(std::isnan(heat->valueAt(0, 6)));  // no lm_head inside block 0
        QVERIFY(QFileInfo::exists(outDir + QStringLiteral("/compression.json")));
        QVERIFY(QFileInfo::exists(outDir + QStringLiteral("/config.json")));
        const QString summary = child<QLabel>(*w, "compression-summary")->text();
        QVERIFY2(summary.contains(qcw::ui::formatCount(w->session()->model()->params)), qPrintable(summary));
        QVERIFY(summary.contains(QStringLiteral("ratio")));
        QVERIFY(!child<QLabel>(*w, "compression-error")->isVisible());
        QVERIFY(child<QPushButton>(*w, "open-result")->isEnabled());

        // Before / after: selecting a row compares that layer's singular values in the original
        // and in the snapshot. Truncated SVD keeps the leading values and drops the rest.
        {
            const int row = static_cast<int>(names.indexOf(QStringLiteral("model.layers.2.mlp.fc2")));
            const int rank = table->item(row, 2)->text().toInt();
            QVERIFY(rank > 0 && rank < 64);
            QSignalSpy ready(paneOf(*w), &CompressionPane::comparisonReady);
            table->setCurrentCell(row, 0);
            QTRY_COMPARE_WITH_TIMEOUT(ready.count(), 1, 60000);
            QCOMPARE(ready.at(0).at(0).toString(), QStringLiteral("model.layers.2.mlp.fc2"));
            QVERIFY(ready.at(0).at(1).toBool());
            QCOMPARE(paneOf(*w)->comparedLayer(), QStringLiteral("model.layers.2.mlp.fc2"));
            auto* compare = child<QCustomPlot>(*w, "spectrum-compare");
            QVERIFY(compare->isVisible());
            QCOMPARE(compare->graph(0)->dataCount(), 64);  // min(64, 256)
            QCOMPARE(compare->graph(1)->dataCount(), rank);
            auto before = compare->graph(0)->data()->constBegin();
            for (auto after = compare->graph(1)->data()->constBegin(); after != compare->graph(1)->data()->constEnd();
                 ++after, ++before) {
                QCOMPARE(after->key, before->key);
                QVERIFY2(std::fabs(after->value - before->value) <= 1e-3 * before->value,
                         qPrintable(QStringLiteral("s_%1: %2 vs %3").arg(after->key).arg(after->value).arg(before->value)));
            }
            const QString text = child<QLabel>(*w, "spectrum-compare-summary")->text();
            QVERIFY2(text.contains(QStringLiteral("numerical rank %1 of 64").arg(rank)), qPrintable(text));
            QVERIFY2(text.contains(QStringLiteral("stored as svd")), qPrintable(text));
            // A layer the snapshot does not have is an error in the tab, not a crash.
            QSignalSpy failed(paneOf(*w), &CompressionPane::comparisonReady);
            paneOf(*w)->compareSpectra(QStringLiteral("model.layers.7.mlp.fc2"));
            QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 60000);
            QVERIFY(!failed.at(0).at(1).toBool());
            QVERIFY2(child<QLabel>(*w, "spectrum-compare-summary")->text().contains(QStringLiteral("no tensor")),
                     qPrintable(child<QLabel>(*w, "spectrum-compare-summary")->text()));
        }

        // Compressing again into the now non-empty folder asks first; Cancel starts nothing.
        QTest::mouseClick(child<QPushButton>(*w, "compress-button"), Qt::LeftButton);
        QMessageBox* box = nullptr;
        QTRY_VERIFY((box = w->findChild<QMessageBox*>(QStringLiteral("confirm-replace"))) && box->isVisible());
        QVERIFY(!paneOf(*w)->isBusy());
        box->button(QMessageBox::Cancel)->click();
        QTRY_VERIFY(!w->findChild<QMessageBox*>(QStringLiteral("confirm-replace")));
        QVERIFY(!paneOf(*w)->isBusy());
        QCOMPARE(finished.count(), 1);

        // Yes replaces the folder's contents.
        QFile stale(outDir + QStringLiteral("/stale.txt"));
        QVERIFY(stale.open(QIODevice::WriteOnly));
        stale.close();
        QTest::mouseClick(child<QPushButton>(*w, "compress-button"), Qt::LeftButton);
        QTRY_VERIFY((box = w->findChild<QMessageBox*>(QStringLiteral("confirm-replace"))) && box->isVisible());
        box->button(QMessageBox::Yes)->click();
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 120000);
        QVERIFY2(finished.at(1).at(0).toBool(), qPrintable(finished.at(1).at(1).toString()));
        QVERIFY(QFileInfo::exists(outDir + QStringLiteral("/compression.json")));
        QVERIFY(!QFileInfo::exists(outDir + QStringLiteral("/stale.txt")));
    }

    void rankOverridesApply() {
        auto w = openTiny();
        auto* pane = paneOf(*w);
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const QString outDir = tmp.filePath(QStringLiteral("tiny-override"));
        child<QLineEdit>(*w, "output-dir")->setText(outDir);
        selectData(child<QComboBox>(*w, "method-combo"), "svd");
        selectData(child<QComboBox>(*w, "solver-combo"), "");
        const QString fc1 = QStringLiteral("model.layers.0.mlp.fc1");
        QVERIFY(!pane->setRankOverride(QStringLiteral("model.layers.0.mlp.nope"), 3));  // unknown layer
        QVERIFY(!pane->setRankOverride(fc1, 0));
        QVERIFY(!pane->setRankOverride(fc1, 100000));  // above min(m, n)
        QVERIFY(pane->rankOverrides().empty());
        QVERIFY(pane->setRankOverride(fc1, 3));
        QVERIFY(pane->setRankOverride(fc1, 2));  // the same layer again: updated, not added
        QCOMPARE(child<QTableWidget>(*w, "rank-overrides")->rowCount(), 1);
        QCOMPARE(pane->rankOverrides().at(fc1.toStdString()), 2);
        QVERIFY(child<QTableWidget>(*w, "rank-overrides")->isEnabled());

        QSignalSpy finished(pane, &CompressionPane::jobFinished);
        pane->startCompression(false);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
        QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(finished.at(0).at(1).toString()));
        auto* table = child<QTableWidget>(*w, "layer-results");
        bool seen = false;
        QString otherRank;
        for (int r = 0; r < table->rowCount(); ++r) {
            if (table->item(r, 0)->text() == fc1) {
                QCOMPARE(table->item(r, 2)->text(), QStringLiteral("2"));
                seen = true;
            } else if (table->item(r, 0)->text() == QStringLiteral("model.layers.1.mlp.fc1")) {
                otherRank = table->item(r, 2)->text();
            }
        }
        QVERIFY(seen);
        QVERIFY2(otherRank != QStringLiteral("2") && !otherRank.isEmpty(), qPrintable(otherRank));  // uniform elsewhere
        QFile report(outDir + QStringLiteral("/compression.json"));
        QVERIFY(report.open(QIODevice::ReadOnly));
        bool inReport = false;
        for (const auto& l : QJsonDocument::fromJson(report.readAll()).object().value("layers").toArray())
            if (l.toObject().value("name").toString() == fc1) {
                QCOMPARE(l.toObject().value("ranks").toArray().at(0).toInt(), 2);
                inReport = true;
            }
        QVERIFY(inReport);

        // Tensor methods have no per-matrix ranks: the overrides are disabled.
        selectData(child<QComboBox>(*w, "method-combo"), "tucker");
        QVERIFY(!child<QTableWidget>(*w, "rank-overrides")->isEnabled());
        pane->clearRankOverrides();
        QVERIFY(pane->rankOverrides().empty());
    }

    void settingsPersist() {
        {
            MainWindow w;  // persists its state
            w.show();
            QVERIFY(w.showPane(QStringLiteral("compression")));
            child<QSlider>(w, "keep-slider")->setValue(45);
            selectData(child<QComboBox>(w, "method-combo"), "asvd");
            selectData(child<QComboBox>(w, "solver-combo"), "sqa");
            child<QCheckBox>(w, "calibrate-random")->setChecked(true);
            w.close();
        }
        MainWindow again;
        QCOMPARE(again.currentPane(), QStringLiteral("compression"));
        QCOMPARE(child<QSlider>(again, "keep-slider")->value(), 45);
        QCOMPARE(child<QComboBox>(again, "method-combo")->currentData().toString(), QStringLiteral("asvd"));
        QCOMPARE(child<QComboBox>(again, "solver-combo")->currentData().toString(), QStringLiteral("sqa"));
        QVERIFY(child<QCheckBox>(again, "calibrate-random")->isChecked());
    }

    void rankSearchPlotsPoints() {
        auto w = openTiny();
        selectData(child<QComboBox>(*w, "method-combo"), "svd");
        selectData(child<QComboBox>(*w, "solver-combo"), "anneal");
        auto* search = child<QPushButton>(*w, "search-button");
        QVERIFY(search->isEnabled());
        auto* plot = child<QCustomPlot>(*w, "rank-plot");
        QVERIFY(plot);
        QCOMPARE(plot->graph(0)->dataCount(), 0);
        QSignalSpy finished(paneOf(*w), &CompressionPane::jobFinished);
        // The heatmap follows the solver's current ranks while it searches: each of its reports
        // is slowed down here so that several reach the GUI.
        paneOf(*w)->setSearchFunction([](const std::string& dir, const qcw::RankSearchOptions& o, qcw::RunContext& ctx) {
            qcw::RankSearchOptions slowed = o;
            slowed.onAllocation = [inner = o.onAllocation](const std::map<std::string, int>& ranks, long long it) {
                if (inner) inner(ranks, it);
                std::this_thread::sleep_for(std::chrono::milliseconds(15));
            };
            return qcw::searchRanks(dir, slowed, ctx);
        });
        auto* heat = w->findChild<qcw::ui::RankHeatmap*>(QStringLiteral("rank-heatmap"));
        QVERIFY(heat);
        QList<QStringList> live;  // distinct labelled allocations seen while busy
        QTimer poll;
        QObject::connect(&poll, &QTimer::timeout, &poll, [&] {
            if (!paneOf(*w)->isBusy() || heat->cells().empty() || !heat->valueLabel().contains(QStringLiteral("current")))
                return;
            QStringList cells;
            for (const auto& c : heat->cells()) cells << c.name + QLatin1Char('=') + c.text;
            if (live.isEmpty() || live.last() != cells) live << cells;
        });
        poll.start(5);
        QTest::mouseClick(search, Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
        poll.stop();
        QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(finished.at(0).at(1).toString()));
        QVERIFY(idle(*w));
        QVERIFY2(live.size() >= 2, qPrintable(QString::number(live.size())));
        for (const auto& cells : live) QCOMPARE(cells.size(), 19);
        QCOMPARE(heat->valueLabel(), QStringLiteral("searched rank"));
        QVERIFY2(plot->graph(0)->dataCount() >= 10, qPrintable(QString::number(plot->graph(0)->dataCount())));
        QVERIFY(plot->graph(1)->dataCount() >= 10);
        // The best objective never rises.
        double last = std::numeric_limits<double>::infinity();
        for (auto it = plot->graph(1)->data()->constBegin(); it != plot->graph(1)->data()->constEnd(); ++it) {
            QVERIFY(it->value <= last + 1e-12);
            last = it->value;
        }
        QVERIFY(child<QLabel>(*w, "compression-summary")->text().contains(QStringLiteral("anneal")));
        QCOMPARE(child<QTableWidget>(*w, "layer-results")->rowCount(), 0);  // nothing compressed
        // The searched ranks per layer, one cell per searched group, labelled with the rank.
        QVERIFY(heat->cells().size() >= 18);
        for (const auto& c : heat->cells()) {
            QVERIFY2(c.value >= 1 && c.value == std::floor(c.value), qPrintable(c.name));
            QCOMPARE(c.text, QString::number(static_cast<int>(c.value)));
        }
        QCOMPARE(qcw::ui::placeOf(QStringLiteral("model.layers.12.self_attn.q_proj")).layer, 12);
        QCOMPARE(qcw::ui::placeOf(QStringLiteral("model.layers.12.self_attn.q_proj")).kind, QStringLiteral("q_proj"));
        QCOMPARE(qcw::ui::placeOf(QStringLiteral("lm_head")).layer, -1);

        // Uniform: nothing to search.
        selectData(child<QComboBox>(*w, "solver-combo"), "");
        QVERIFY(!search->isEnabled());
        // Tensor methods take no searched ranks.
        selectData(child<QComboBox>(*w, "solver-combo"), "greedy");
        selectData(child<QComboBox>(*w, "method-combo"), "tucker");
        QVERIFY(!search->isEnabled());
        QVERIFY(!child<QComboBox>(*w, "solver-combo")->isEnabled());
    }

    // The measured-loss objective: refused without calibration, calibration data that cannot be
    // read is a one-line error, and with calibration the search reports predicted loss.
    void lossWeightedSearch() {
        auto w = openTiny();
        selectData(child<QComboBox>(*w, "method-combo"), "svd");
        selectData(child<QComboBox>(*w, "solver-combo"), "exact");
        auto* objective = child<QComboBox>(*w, "objective-combo");
        QVERIFY(objective->isEnabled());
        selectData(objective, "loss");
        QSignalSpy finished(paneOf(*w), &CompressionPane::jobFinished);
        paneOf(*w)->startSearch();
        QVERIFY(!paneOf(*w)->isBusy());
        QVERIFY2(paneOf(*w)->lastError().contains(QStringLiteral("needs calibration")), qPrintable(paneOf(*w)->lastError()));

        QTemporaryDir empty;
        child<QLineEdit>(*w, "calibration-data")->setText(empty.path());
        paneOf(*w)->startSearch();
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 30000);
        QVERIFY(!finished.at(0).at(0).toBool());
        // The fixture has no tokenizer to read text with: a one-line error says so.
        QVERIFY2(finished.at(0).at(1).toString().contains(QStringLiteral("has no tokenizer (tokenizer.json) for calibration data")),
                 qPrintable(finished.at(0).at(1).toString()));

        child<QLineEdit>(*w, "calibration-data")->clear();
        child<QCheckBox>(*w, "calibrate-random")->setChecked(true);
        paneOf(*w)->startSearch();
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 120000);
        QVERIFY2(finished.at(1).at(0).toBool(), qPrintable(finished.at(1).at(1).toString()));
        const QString summary = child<QLabel>(*w, "compression-summary")->text();
        QVERIFY2(summary.contains(QStringLiteral("measured loss")) && summary.contains(QStringLiteral("nats/token")),
                 qPrintable(summary));
        QVERIFY(child<QCustomPlot>(*w, "rank-plot")->yAxis->label().contains(QStringLiteral("loss")));
        QCOMPARE(w->findChild<qcw::ui::RankHeatmap*>(QStringLiteral("rank-heatmap"))->cells().size(), std::size_t(19));

        selectData(child<QComboBox>(*w, "solver-combo"), "");
        QVERIFY(!objective->isEnabled());  // uniform ranks: nothing is searched
    }

    // A calibration dataset (dataset.jsonl of a built dataset) calibrates the compression with
    // the model's tokenizer: 16 windows of 128 tokens. The snapshot keeps the model's dtype.
    void calibrationDataCalibratesCompression() {
        const QString demo = QStringLiteral(QCW_SOURCE_DIR "/resources/models/demo-phi");
        if (!QFileInfo::exists(demo + QStringLiteral("/config.json"))) QSKIP("no demo model");
        QTemporaryDir tmp;
        QFile data(tmp.filePath(QStringLiteral("dataset.jsonl")));
        QVERIFY(data.open(QIODevice::WriteOnly));
        for (int i = 0; i < 200; ++i)
            data.write(QStringLiteral("{\"text\": \"Runbook step %1: check the FortiGate HA status, then the Azure load "
                                      "balancer probe on port 8008 before failing over.\"}\n").arg(i).toUtf8());
        data.close();
        auto w = shownWindow();
        w->openModel(QFileInfo(demo).canonicalFilePath());
        QTRY_VERIFY_WITH_TIMEOUT(w->session()->hasModel() && !w->session()->isLoading(), 20000);
        w->showPane(QStringLiteral("compression"));
        selectData(child<QComboBox>(*w, "method-combo"), "asvd");
        selectData(child<QComboBox>(*w, "solver-combo"), "");
        child<QLineEdit>(*w, "calibration-data")->setText(tmp.path());
        child<QLineEdit>(*w, "output-dir")->setText(tmp.filePath(QStringLiteral("out")));
        QSignalSpy finished(paneOf(*w), &CompressionPane::jobFinished);
        paneOf(*w)->startCompression(false);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
        QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(finished.at(0).at(1).toString()));
        const QString summary = child<QLabel>(*w, "compression-summary")->text();
        QVERIFY2(summary.contains(QStringLiteral("calibrated on %1 tokens").arg(qcw::ui::formatCount(16 * 128))),
                 qPrintable(summary));
        // "Store in the model's dtype" is on by default: the F16 model's factors are F16.
        QVERIFY(child<QCheckBox>(*w, "store-source-dtype")->isChecked());
        QCOMPARE(qcw::inspectModel(tmp.filePath(QStringLiteral("out")).toStdString()).dtype, std::string("F16"));
    }

    void searchedRanksWithCalibration() {
        auto w = openTiny();
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        child<QLineEdit>(*w, "output-dir")->setText(tmp.filePath(QStringLiteral("tiny-asvd")));
        selectData(child<QComboBox>(*w, "method-combo"), "asvd");
        selectData(child<QComboBox>(*w, "solver-combo"), "greedy");
        child<QCheckBox>(*w, "calibrate-random")->setChecked(true);
        QSignalSpy finished(paneOf(*w), &CompressionPane::jobFinished);
        QTest::mouseClick(child<QPushButton>(*w, "compress-button"), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
        QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(finished.at(0).at(1).toString()));
        auto* table = child<QTableWidget>(*w, "layer-results");
        QCOMPARE(table->rowCount(), 19);
        for (int r = 0; r < table->rowCount(); ++r) {
            QCOMPARE(table->item(r, 1)->text(), QStringLiteral("asvd"));
            QVERIFY(table->item(r, 6)->text() != QStringLiteral("\u2014"));  // an output error
        }
        QVERIFY(child<QCustomPlot>(*w, "rank-plot")->graph(0)->dataCount() > 0);
        QFile json(tmp.filePath(QStringLiteral("tiny-asvd/compression.json")));
        QVERIFY(json.open(QIODevice::ReadOnly));
        QVERIFY(json.readAll().contains("greedy"));
    }

    void cancelReturnsToIdleWithinOneSecond() {
        auto w = openTiny();
        auto* pane = paneOf(*w);
        // A search that runs until cancelled and reports as fast as it can (a flood the pane
        // must throttle), like a solver with very many sweeps.
        auto stopped = std::make_shared<std::atomic<bool>>(false);
        auto reports = std::make_shared<std::atomic<long long>>(0);
        pane->setSearchFunction([stopped, reports](const std::string&, const qcw::RankSearchOptions& o,
                                                   qcw::RunContext& ctx) {
            long long i = 0;
            while (!ctx.isCancelled()) {
                ++i;
                ctx.report("rank:" + o.solver, i, 0, {{"energy", 1.0 + 1.0 / double(i)}, {"best", 1.0}});
                reports->store(i);
            }
            stopped->store(true);
            qcw::RankSearchResult r;  // like the solvers: the best so far, not an exception
            r.solver = o.solver;
            return r;
        });
        selectData(child<QComboBox>(*w, "solver-combo"), "anneal");
        QSignalSpy finished(pane, &CompressionPane::jobFinished);
        LatencyProbe probe;
        QTest::mouseClick(child<QPushButton>(*w, "search-button"), Qt::LeftButton);
        QVERIFY(pane->isBusy());
        auto* plot = child<QCustomPlot>(*w, "rank-plot");
        QTRY_VERIFY(plot->graph(0)->dataCount() > 1000 && reports->load() > 100000);
        // Under the flood the GUI thread still serves its timers (the latency itself is a
        // figure, measured by test_gui_latency and checked by benchmarks/gui_latency.sh).
        const long long ticks = probe.ticks();
        QTRY_VERIFY(probe.ticks() >= ticks + 5);
        QVERIFY(pane->isBusy());
        qInfo("GUI latency under a progress flood: max %.1f ms, mean %.2f ms", probe.maxMs(), probe.meanMs());

        QTest::mouseClick(child<QPushButton>(*w, "cancel-button"), Qt::LeftButton);
        QVERIFY(idle(*w));                                 // at once, without waiting for the worker
        QTRY_VERIFY_WITH_TIMEOUT(stopped->load(), 20000);  // the worker itself stopped
        QCOMPARE(finished.count(), 1);
        QVERIFY(!finished.at(0).at(0).toBool());
        QVERIFY(child<QLabel>(*w, "job-status")->text().contains(QStringLiteral("Cancelled")));
        QVERIFY(pane->lastError().isEmpty());
        // The cancelled job's late result is dropped: once the worker has ended and its
        // result has passed through the event loop, nothing has changed.
        QVERIFY(QThreadPool::globalInstance()->waitForDone(20000));
        QCoreApplication::sendPostedEvents();
        QCoreApplication::processEvents();
        QCOMPARE(finished.count(), 1);
        QVERIFY(!child<QLabel>(*w, "compression-error")->isVisible());
    }

    void errorsShowInPaneAndStatusBar() {
        auto w = openTiny();
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const QString outDir = tmp.filePath(QStringLiteral("never"));
        child<QLineEdit>(*w, "output-dir")->setText(outDir);
        // Activation-aware SVD without calibration: core refuses with a one-line error.
        selectData(child<QComboBox>(*w, "method-combo"), "asvd");
        selectData(child<QComboBox>(*w, "solver-combo"), "");
        child<QCheckBox>(*w, "calibrate-random")->setChecked(false);
        QSignalSpy finished(paneOf(*w), &CompressionPane::jobFinished);
        QTest::mouseClick(child<QPushButton>(*w, "compress-button"), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
        QVERIFY(!finished.at(0).at(0).toBool());
        auto* error = child<QLabel>(*w, "compression-error");
        QVERIFY(error->isVisible());
        QVERIFY2(error->text().contains(QStringLiteral("calibration")), qPrintable(error->text()));
        QVERIFY(w->statusBar()->currentMessage().contains(QStringLiteral("calibration")));
        QVERIFY(idle(*w));
        QVERIFY(!QFileInfo::exists(outDir));

        // A failing search function: its qcw::Error text, no crash.
        paneOf(*w)->setSearchFunction([](const std::string&, const qcw::RankSearchOptions&, qcw::RunContext&)
                                          -> qcw::RankSearchResult { qcw::fail("solver", "exploded on purpose"); });
        selectData(child<QComboBox>(*w, "method-combo"), "svd");
        selectData(child<QComboBox>(*w, "solver-combo"), "exact");
        QTest::mouseClick(child<QPushButton>(*w, "search-button"), Qt::LeftButton);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 60000);
        QVERIFY(error->text().contains(QStringLiteral("exploded on purpose")));
        QVERIFY(w->statusBar()->currentMessage().contains(QStringLiteral("exploded on purpose")));
        QVERIFY(idle(*w));
    }

    void screenshotOfThePane() {
        const QString bin = QStringLiteral(QCW_BIN_DIR "/qcw");
        if (!QFileInfo(bin).isExecutable()) QSKIP("qcw is not built in QCW_BIN_DIR");
        QTemporaryDir out;
        QVERIFY(out.isValid());
        const QString png = out.filePath(QStringLiteral("compression.png"));
        QProcess p;
        QElapsedTimer clock;
        clock.start();
        p.start(bin, {QStringLiteral("--screenshot"), png, QStringLiteral("--pane"), QStringLiteral("compression"),
                      tinyDir()});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, p.readAllStandardError().constData());
        const QImage image(png);
        QVERIFY(!image.isNull());
        QVERIFY(image.width() >= 1000 && image.height() >= 600);
        qInfo("qcw --screenshot --pane compression took %lld ms", static_cast<long long>(clock.elapsed()));
    }

    // The pane runs the compression job (decompose/compress_job.h) with the CLI's rules:
    // "Calibrate on random tokens" is what `qcompress compress --calib-random 8 --calib-length 32`
    // draws (mt19937_64(seed 0 + 17)), a calibration dataset what `--calib-data DIR
    // --calib-windows 16` reads (the CLI's default length, 128), and the compression receives
    // exactly the job's windows.
    void paneUsesTheJobDefaults() {
        auto w = openTiny();
        auto* pane = paneOf(*w);
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        selectData(child<QComboBox>(*w, "method-combo"), "asvd");
        selectData(child<QComboBox>(*w, "solver-combo"), "");
        child<QCheckBox>(*w, "calibrate-random")->setChecked(true);
        child<QLineEdit>(*w, "output-dir")->setText(tmp.filePath(QStringLiteral("out")));
        const qcw::CompressJobOptions o = pane->jobOptions(true);
        QCOMPARE(o.calibration.random, 8);
        QCOMPARE(o.calibration.length, 32);
        QVERIFY(o.calibration.ids.empty() && o.calibration.dataDir.empty());
        QCOMPARE(o.compress.seed, std::uint64_t(0));
        QCOMPARE(o.compress.method, std::string("asvd"));
        QVERIFY(o.solver.empty());
        QCOMPARE(o.weighting, std::string("auto"));

        // The compression receives exactly the CLI's windows.
        auto seen = std::make_shared<std::vector<std::vector<std::int64_t>>>();
        pane->setCompressFunction([seen](const std::string& dir, const std::string& out, const qcw::CompressOptions& co,
                                         qcw::RunContext& ctx, bool replace) {
            *seen = co.calibration;
            return qcw::compressModelDir(dir, out, co, ctx, replace);
        });
        QSignalSpy finished(pane, &CompressionPane::jobFinished);
        pane->startCompression(false);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 120000);
        QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(finished.at(0).at(1).toString()));
        const auto vocab = static_cast<std::uint64_t>(w->session()->model()->vocabSize);
        QVERIFY(vocab > 0);
        std::mt19937_64 rng(0 + 17);
        QCOMPARE(seen->size(), std::size_t(8));
        for (const auto& window : *seen) {
            QCOMPARE(window.size(), std::size_t(32));
            for (std::int64_t t : window) QCOMPARE(t, static_cast<std::int64_t>(rng() % vocab));
        }
        QVERIFY(*seen == qcw::loadCalibration(o.calibration, tinyDir().toStdString(), 0));
        const QString summary = child<QLabel>(*w, "compression-summary")->text();
        QVERIFY2(summary.contains(QStringLiteral("calibrated on %1 tokens").arg(qcw::ui::formatCount(8 * 32))),
                 qPrintable(summary));

        // A calibration dataset: the CLI's --calib-windows and --calib-length defaults.
        child<QLineEdit>(*w, "calibration-data")->setText(tmp.path());
        const qcw::CompressJobOptions d = pane->jobOptions(true);
        QCOMPARE(QDir::fromNativeSeparators(QString::fromStdString(d.calibration.dataDir)), QDir::cleanPath(tmp.path()));
        QCOMPARE(d.calibration.random, 0);
        QCOMPARE(d.calibration.windows, 16);
        QCOMPARE(d.calibration.length, qcw::CalibrationSpec::kDefaultLength);
        QCOMPARE(d.calibration.length, 128);
    }
};

QTEST_MAIN(TestCompressionPane)
#include "test_compression_pane.moc"

