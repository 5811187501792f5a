// The fine-tuning pane, offscreen, on the tiny fixture (tests/data/tiny-phi) and a dataset of
// random token windows written here (ids.safetensors): a few steps reach the end with the
// curves filled point for point with what the core's own run reports, the trained model is
// exported; Stop ends a long run within a second with a checkpoint and Resume continues from
// it; bad input is one line in the pane; the settings are remembered; the dataset the
// documents pane built last is the default; `qcw --screenshot --pane fine-tuning` trains and
// renders.
#include "io/safetensors.h"
#include "model/cuda_support.h"
#include "train/train_api.h"
#include "data/train_data.h"
#include "ui/finetune_cluster.h"
#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/pane_finetune.h"

#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include <qcustomplot.h>

#include <cmath>
#include <map>
#include <memory>
#include <random>

#include "ui_test_support.h"

using qcw::test::child;
using qcw::test::LatencyProbe;
using qcw::test::quietOptions;
using qcw::test::shownWindow;
using qcw::test::tinyDir;
using qcw::ui::FineTunePane;
using qcw::ui::FineTuneSettings;
using qcw::ui::MainWindow;

namespace {

// 40 rows of 17 random ids below the fixture's vocabulary of 320: 38 training windows, 2 held out.
void writeIds(const QString& dir) {
    std::mt19937_64 rng(7);
    std::vector<std::int64_t> ids(40 * 17);
    for (auto& x : ids) x = static_cast<std::int64_t>(rng() % 320);
    qcw::writeSafetensors((dir + "/ids.safetensors").toStdString(),
                          {{"input_ids", qcw::DType::I64, {40, 17}, ids.data(), {}}});
}


std::vector<std::pair<double, double>> points(QCPGraph* g) {
    std::vector<std::pair<double, double>> out;
    for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it) out.emplace_back(it->key, it->value);
    return out;
}

}  // namespace

class TestFineTunePane : public QObject {
    Q_OBJECT

    QTemporaryDir tmp_;
    QString data_;

    std::unique_ptr<MainWindow> openTiny() {
        auto w = shownWindow();
        w->openModel(tinyDir());
        [&] { QTRY_VERIFY_WITH_TIMEOUT(w->session()->hasModel() && !w->session()->isLoading(), 20000); }();
        w->showPane(QStringLiteral("fine-tuning"));
        return w;
    }
    static FineTunePane* paneOf(const MainWindow& w) {
        return qobject_cast<FineTunePane*>(w.pane(QStringLiteral("fine-tuning")));
    }
    FineTuneSettings small(const QString& out, int steps) const {
        FineTuneSettings s;
        s.data = data_;
        s.out = out;
        s.steps = steps;
        s.batch = 2;
        s.lr = 1e-3;
        s.warmup = 2;
        s.evalEvery = 2;
        return s;
    }

private slots:
    void initTestCase() {
        qcw::test::isolateSettings(QStringLiteral("test_finetune_pane"));
        QVERIFY(tmp_.isValid());
        data_ = tmp_.filePath("ids");
        QVERIFY(QDir().mkpath(data_));
        writeIds(data_);
        QVERIFY2(QFileInfo::exists(tinyDir() + "/config.json"), qPrintable(tinyDir()));
    }
    void init() { QSettings().clear(); }
    void cleanupTestCase() { QSettings().clear(); }

    void trainsToTheEndWithTheCoresCurves() {
        auto w = openTiny();
        FineTunePane* pane = paneOf(*w);
        QVERIFY(pane);
        QCOMPARE(pane->studentDir(), tinyDir());  // the open model by default
        QVERIFY(child<QLineEdit>(*w, "tune-out")->text().endsWith("tiny-phi-tuned"));
        const QString out = tmp_.filePath("run");
        pane->setSettings(small(out, 8));
        QSignalSpy finished(pane, &FineTunePane::runFinished);
        LatencyProbe probe;
        pane->start();
        QVERIFY(pane->isBusy());
        QVERIFY(child<QPushButton>(*w, "tune-stop")->isEnabled());
        QVERIFY(!child<QPushButton>(*w, "tune-start")->isEnabled());
        QVERIFY(finished.wait(120000));
        QVERIFY2(finished.last().at(0).toBool(), qPrintable(finished.last().at(2).toString()));
        QVERIFY(!pane->isBusy());
        qInfo("GUI latency while training: max %.1f ms, mean %.2f ms (a figure; benchmarks/gui_latency.sh)",
              probe.maxMs(), probe.meanMs());

        // Progress reached the end.
        auto* progress = child<QProgressBar>(*w, "tune-progress");
        QCOMPARE(progress->maximum(), 8);
        QCOMPARE(progress->value(), 8);
        QCOMPARE(child<QLabel>(*w, "tune-step")->text(), QStringLiteral("Step 8 / 8"));
        QVERIFY(child<QLabel>(*w, "tune-speed")->text().endsWith(" tokens/s"));
        QCOMPARE(child<QLabel>(*w, "tune-eta")->text(), QStringLiteral("done"));
        QVERIFY(QFileInfo::exists(out + "/model/config.json"));
        QVERIFY(child<QLabel>(*w, "tune-status")->text().contains(QDir::toNativeSeparators(out + "/model")));
        QVERIFY(child<QPushButton>(*w, "tune-open-result")->isEnabled());

        // The curves: every step's training loss and learning rate, the held-out loss every 2
        // steps, equal to what the core reports for the same job run here directly.
        auto* plot = child<QCustomPlot>(*w, "tune-plot");
        QVERIFY(plot);
        const auto loss = points(plot->graph(0)), eval = points(plot->graph(1)), lr = points(plot->graph(2));
        QCOMPARE(loss.size(), std::size_t(8));
        QCOMPARE(eval.size(), std::size_t(4));
        QCOMPARE(lr.size(), std::size_t(8));
        qcw::TrainData td = qcw::loadTrainData(data_.toStdString(), tinyDir().toStdString(),
                                               qcw::TrainDataOptions().withMaxEvalWindows(16));
        qcw::TrainJob job;
        job.student = tinyDir().toStdString();
        job.out = tmp_.filePath("oracle").toStdString();
        job.windows = td.windows;
        job.evalWindows = td.evalWindows;
        job.steps = 8;
        job.batch = 2;
        job.lr = 1e-3;
        job.warmup = 2;
        job.evalEvery = 2;
        job.exportModel = false;
        std::map<long long, std::map<std::string, double>> core;
        qcw::RunContext ctx([&](const qcw::Progress& p) {
            if (p.stage == "train") core[p.step] = p.metrics;
        });
        qcw::runTrainJob(job, ctx);
        QCOMPARE(core.size(), std::size_t(8));
        for (std::size_t i = 0; i < 8; ++i) {
            const auto& m = core[static_cast<long long>(i + 1)];
            QCOMPARE(loss[i].first, double(i + 1));
            QVERIFY2(std::fabs(loss[i].second - m.at("loss")) < 1e-4 * std::max(1.0, m.at("loss")),
                     qPrintable(QStringLiteral("step %1: %2 vs %3").arg(i + 1).arg(loss[i].second).arg(m.at("loss"))));
            QCOMPARE(lr[i].second, m.at("lr"));
        }
        for (std::size_t i = 0; i < 4; ++i) {
            QCOMPARE(eval[i].first, double(2 * (i + 1)));
            QVERIFY(std::fabs(eval[i].second - core[long(2 * (i + 1))].at("eval_loss")) < 1e-4 * eval[i].second);
        }
        // Warmup, then cosine decay: the rate rises to its peak and falls.
        QVERIFY(lr[0].second < lr[1].second);
        QVERIFY(lr[7].second < lr[2].second);
        QVERIFY(lr[1].second <= 1e-3 + 1e-12);

        // A second Start into the same folder is refused: Resume continues it instead.
        pane->start();
        QCOMPARE(finished.count(), 2);
        QVERIFY(!finished.last().at(0).toBool());
        QVERIFY2(pane->lastError().contains(QDir::toNativeSeparators(out)) && pane->lastError().contains("Resume"),
                 qPrintable(pane->lastError()));
        QVERIFY(child<QLabel>(*w, "tune-error")->isVisible());
    }

    void twoLocalProcessesThenTheExportedSlurmScript() {
        // Processes 2: the pane runs `qcompress launch --nproc 2 train` and plots rank 0's steps.
        qputenv("QCW_QCOMPRESS", QByteArray(QCW_BIN_DIR) + "/qcompress");
        auto w = openTiny();
        FineTunePane* pane = paneOf(*w);
        const QString out = tmp_.filePath("two-ranks");
        FineTuneSettings s = small(out, 6);
        s.processes = 2;
        pane->setSettings(s);
        QCOMPARE(child<QSpinBox>(*w, "tune-processes")->value(), 2);
        QSignalSpy finished(pane, &FineTunePane::runFinished);
        pane->start();
        QVERIFY(pane->isBusy());
        QVERIFY(finished.wait(120000));
        QVERIFY2(finished.last().at(0).toBool(), qPrintable(finished.last().at(2).toString()));
        QVERIFY(QFileInfo::exists(out + "/model/config.json"));
        QCOMPARE(points(child<QCustomPlot>(*w, "tune-plot")->graph(0)).size(), std::size_t(6));
        QCOMPARE(child<QLabel>(*w, "tune-step")->text(), QStringLiteral("Step 6 / 6"));

        // The exported Slurm script, run with stand-ins for srun and scontrol that start its two
        // tasks here with Slurm's variables: the same settings train to the end as two ranks.
        qcw::TrainJob job;
        job.student = tinyDir().toStdString();
        job.out = tmp_.filePath("slurm out").toStdString();  // a space: the script quotes it
        job.steps = 4;
        job.batch = 2;
        const QStringList args = qcw::ui::trainArguments(job, data_);
        const QString torchrun = qcw::ui::torchrunScript(args, 2);
        QVERIFY(torchrun.contains("--nproc_per_node=2 --no-python"));
        QVERIFY(torchrun.contains("'" + QString::fromStdString(job.out) + "'"));
        QString script = qcw::ui::slurmScript(args, 1, 2);
        QVERIFY(script.contains("#SBATCH --ntasks-per-node=2"));
        const QString prelude =
            "srun() { while [ \"${1#--}\" != \"$1\" ]; do shift; done; rc=0; pids=;\n"
            "  for i in 0 1; do SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=2 \"$@\" & pids=\"$pids $!\"; done;\n"
            "  for p in $pids; do wait $p || rc=1; done; return $rc; }\n"
            "scontrol() { echo 127.0.0.1; }\n"
            "export SLURM_JOB_NODELIST=local MASTER_PORT=" + QString::number(29000 + QCoreApplication::applicationPid() % 2000) + "\n";
        script.insert(script.indexOf('\n') + 1, prelude);
        const QString path = tmp_.filePath("finetune.sbatch");
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(script.toUtf8());
        f.close();
        QProcess sh;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert("PATH", QString(QCW_BIN_DIR) + ":" + env.value("PATH"));
        sh.setProcessEnvironment(env);
        sh.start("bash", {path});
        QVERIFY(sh.waitForFinished(120000));
        QVERIFY2(sh.exitCode() == 0, sh.readAllStandardError().constData());
        QVERIFY(QFileInfo::exists(QString::fromStdString(job.out) + "/model/config.json"));
        QVERIFY(sh.readAllStandardOutput().contains("trained to step 4"));
    }

    void stopWithinASecondThenResumeContinues() {
        auto w = openTiny();
        FineTunePane* pane = paneOf(*w);
        const QString out = tmp_.filePath("long");
        FineTuneSettings s = small(out, 20000);
        s.evalEvery = 0;
        pane->setSettings(s);
        QSignalSpy finished(pane, &FineTunePane::runFinished);
        QVERIFY(!pane->canResume());
        QVERIFY(!child<QPushButton>(*w, "tune-resume")->isEnabled());
        pane->start();
        QTRY_VERIFY_WITH_TIMEOUT(pane->currentStep() >= 5, 60000);
        const long long clickedAt = pane->currentStep();
        QElapsedTimer clock;
        clock.start();
        QTest::mouseClick(child<QPushButton>(*w, "tune-stop"), Qt::LeftButton);
        QVERIFY(!child<QPushButton>(*w, "tune-stop")->isEnabled());
        QVERIFY(finished.wait(60000));
        qInfo("stopping took %lld ms (a figure, not a check)", static_cast<long long>(clock.elapsed()));
        QVERIFY(!finished.last().at(0).toBool());
        QVERIFY(finished.last().at(1).toBool());  // stopped, not failed
        const long long stoppedAt = pane->currentStep();
        QVERIFY(stoppedAt >= 5 && stoppedAt < 20000);
        // The core stops before its next step: only the steps the GUI had not yet been told of
        // (progress reaches it in batches) lie between the click and the stop.
        QVERIFY2(stoppedAt - clickedAt <= 200,
                 qPrintable(QStringLiteral("clicked at step %1, stopped at %2").arg(clickedAt).arg(stoppedAt)));
        const QString ckpt = QStringLiteral("%1/checkpoints/step-%2").arg(out).arg(stoppedAt, 8, 10, QLatin1Char('0'));
        QVERIFY2(QFileInfo::exists(ckpt + "/trainer.json"), qPrintable(ckpt));
        QVERIFY(finished.last().at(2).toString().contains(QDir::toNativeSeparators(ckpt)));
        QVERIFY(!QFileInfo::exists(out + "/model"));
        QVERIFY(pane->canResume());
        QVERIFY(child<QPushButton>(*w, "tune-resume")->isEnabled());
        auto* plot = child<QCustomPlot>(*w, "tune-plot");
        const auto before = points(plot->graph(0));
        QCOMPARE(static_cast<long long>(before.size()), stoppedAt);

        // Resume: the steps go on from the checkpoint, the curve continues (no restart at 1).
        QTest::mouseClick(child<QPushButton>(*w, "tune-resume"), Qt::LeftButton);
        QVERIFY(pane->isBusy());
        QTRY_VERIFY_WITH_TIMEOUT(pane->currentStep() >= stoppedAt + 5, 60000);
        pane->stop();
        QVERIFY(finished.wait(5000));
        QVERIFY(finished.last().at(1).toBool());
        const auto after = points(plot->graph(0));
        QVERIFY(after.size() > before.size());
        for (std::size_t i = 0; i < before.size(); ++i) QCOMPARE(after[i], before[i]);
        for (std::size_t i = 0; i < after.size(); ++i) QCOMPARE(after[i].first, double(i + 1));
        QVERIFY(QFileInfo::exists(QStringLiteral("%1/checkpoints/step-%2/trainer.json")
                                      .arg(out)
                                      .arg(pane->currentStep(), 8, 10, QLatin1Char('0'))));
    }

    void badInputIsOneLineInThePane() {
        auto w = openTiny();
        FineTunePane* pane = paneOf(*w);
        QSignalSpy finished(pane, &FineTunePane::runFinished);
        auto failsWith = [&](const FineTuneSettings& s, const QString& lrText, const QString& expect) {
            pane->setSettings(s);
            if (!lrText.isEmpty()) child<QLineEdit>(*w, "tune-lr")->setText(lrText);
            const int n = finished.count();
            pane->start();
            if (pane->isBusy()) QVERIFY(finished.wait(60000));
            QCOMPARE(finished.count(), n + 1);
            QVERIFY(!finished.last().at(0).toBool() && !finished.last().at(1).toBool());
            const QString e = child<QLabel>(*w, "tune-error")->text();
            QVERIFY2(e.contains(expect) && !e.contains('\n'), qPrintable(e + " / expected: " + expect));
            QCOMPARE(pane->lastError(), e);
        };
        const QString out = tmp_.filePath("bad-out");
        FineTuneSettings s = small(out, 4);
        s.data = tmp_.filePath("no-such-data");
        failsWith(s, {}, QDir::toNativeSeparators(s.data) + ": no such folder");
        s.data = tmp_.path();  // a folder without a dataset
        failsWith(s, {}, ": has neither dataset.jsonl nor ids.safetensors");
        s = small(out, 4);
        failsWith(s, "fast", "learning rate 'fast'");
        s.student = tmp_.path();
        failsWith(s, {}, QDir::toNativeSeparators(tmp_.path()) + ": not a model folder");
        // Text records need the student's tokenizer, which the fixture lacks: the core says so.
        const QString text = tmp_.filePath("text");
        QDir().mkpath(text);
        QFile f(text + "/dataset.jsonl");
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("{\"text\": \"hello world\"}\n");
        f.close();
        s = small(out, 4);
        s.data = text;
        failsWith(s, {}, "has no tokenizer (tokenizer.json)");
        QVERIFY(!QFileInfo::exists(out + "/checkpoints"));
        QVERIFY(!pane->isBusy());
    }

    void settingsAreRemembered() {
        FineTuneSettings s;
        s.teacher = tinyDir();
        s.data = data_;
        s.out = tmp_.filePath("remembered");
        s.steps = 123;
        s.batch = 3;
        s.lr = 2.5e-4;
        s.warmup = 7;
        s.loraRank = 4;
        s.evalEvery = 11;
        s.saveEvery = 13;
        s.processes = 3;
        QSettings st;
        {
            auto w = openTiny();
            paneOf(*w)->setSettings(s);
            st.beginGroup("tune-test");
            paneOf(*w)->saveSettings(st);
            st.endGroup();
        }
        auto w = openTiny();
        st.beginGroup("tune-test");
        paneOf(*w)->restoreSettings(st);
        st.endGroup();
        const FineTuneSettings r = paneOf(*w)->settings();
        QCOMPARE(r.teacher, s.teacher);
        QCOMPARE(r.data, s.data);
        QCOMPARE(r.out, s.out);
        QCOMPARE(r.steps, 123);
        QCOMPARE(r.batch, 3);
        QCOMPARE(r.lr, 2.5e-4);
        QCOMPARE(r.warmup, 7);
        QCOMPARE(r.loraRank, 4);
        QCOMPARE(r.evalEvery, 11);
        QCOMPARE(r.saveEvery, 13);
        QCOMPARE(r.processes, 3);
        QCOMPARE(r.device, QStringLiteral("cpu"));
        QVERIFY(r.student.isEmpty());

        // The device: CPU, and CUDA offered only where this build and machine can use it (a
        // remembered "cuda" falls back to the CPU elsewhere).
        auto* device = child<QComboBox>(*w, "tune-device");
        QCOMPARE(device->count(), 2);
        QCOMPARE(device->itemData(1).toString(), QStringLiteral("cuda"));
        const bool cudaOffered = device->model()->index(1, 0).flags().testFlag(Qt::ItemIsEnabled);
        QCOMPARE(cudaOffered, qcw::cuda::available());
        FineTuneSettings onCuda = s;
        onCuda.device = QStringLiteral("cuda");
        paneOf(*w)->setSettings(onCuda);
        QCOMPARE(paneOf(*w)->settings().device, cudaOffered ? QStringLiteral("cuda") : QStringLiteral("cpu"));
        paneOf(*w)->setSettings(s);

        // Start writes them at once (a refused start too: it is what the user asked for).
        FineTuneSettings bad = s;
        bad.data = tmp_.filePath("nowhere");
        paneOf(*w)->setSettings(bad);
        paneOf(*w)->start();
        QVERIFY(paneOf(*w)->lastError().contains("nowhere"));
        bad.data = data_;
        bad.out = tmp_.filePath("saved-now");
        bad.steps = 1;
        bad.loraRank = 0;
        bad.teacher.clear();
        paneOf(*w)->setSettings(bad);
        QSignalSpy finished(paneOf(*w), &FineTunePane::runFinished);
        paneOf(*w)->start();
        QCOMPARE(QSettings().value("panes/fine-tuning/steps").toInt(), 1);
        QCOMPARE(QSettings().value("panes/fine-tuning/out").toString(), bad.out);
        QVERIFY(finished.wait(60000));
        QVERIFY(finished.last().at(0).toBool());
    }

    void datasetDefaultsToTheDocumentsPaneOutput() {
        QSettings().setValue("panes/documents/lastDataset", data_);
        MainWindow w(quietOptions());
        w.show();
        QCOMPARE(child<QLineEdit>(w, "tune-data")->text(), QString());
        w.showPane(QStringLiteral("fine-tuning"));
        QTRY_COMPARE(child<QLineEdit>(w, "tune-data")->text(), data_);
        // Without a model: Start says what is missing.
        paneOf(w)->start();
        QVERIFY(paneOf(w)->lastError().contains("Open a model"));
    }

    void screenshotTrainsAndRenders() {
        const QString bin = QStringLiteral(QCW_BIN_DIR "/qcw");
        if (!QFileInfo::exists(bin)) QSKIP("qcw is not built");
        const QString png = tmp_.filePath("fine-tuning.png");
        QProcess p;
        p.start(bin, {"--screenshot", png, "--pane", "fine-tuning", "--tune-data", data_, "--tune-steps", "4", tinyDir()});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
        const QImage image(png);
        QVERIFY(!image.isNull());
        QCOMPARE(image.size(), QSize(1280, 820));
        p.start(bin, {"--screenshot", png, "--pane", "fine-tuning", "--tune-steps", "x", tinyDir()});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 2);
        QVERIFY(p.readAllStandardError().contains("--tune-steps x: expected an integer >= 1"));
    }
};

QTEST_MAIN(TestFineTunePane)
#include "test_finetune_pane.moc"
