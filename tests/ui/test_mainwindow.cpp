// The workbench window with the model pane, offscreen: opening a model (function, drop),
// errors, recent models, the layer tree, the memory estimate, GUI latency while loading, and
// `qcw --screenshot` end to end.
#include "io/inventory.h"
#include "ui/format.h"
#include "ui/layer_model.h"
#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/panes.h"

#include <QCheckBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMenu>
#include <QMessageBox>
#include <QMimeData>
#include <QProcess>
#include <QProgressBar>
#include <QScopeGuard>
#include <QSemaphore>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>
#include <QTreeView>
#include <QUrl>
#include <QtTest>

#include <algorithm>
#include <atomic>

using qcw::ui::LayerFilterProxy;
using qcw::ui::LayerTreeModel;
using qcw::ui::MainWindow;

#include "ui_test_support.h"

using qcw::test::tinyDir;

namespace {

MainWindow::Options quietOptions() {
    MainWindow::Options o;
    o.persistState = false;
    return o;
}

bool loaded(const MainWindow& w) { return w.session()->hasModel() && !w.session()->isLoading(); }

QTreeView* layerTree(const MainWindow& w) { return w.findChild<QTreeView*>(QStringLiteral("layer-tree")); }

// The top-level row whose Name column reads `text`, or an invalid index.
QModelIndex topRow(const QAbstractItemModel* m, const QString& text) {
    for (int r = 0; r < m->rowCount(); ++r) {
        const QModelIndex i = m->index(r, LayerTreeModel::Name);
        if (i.data().toString() == text) return i;
    }
    return {};
}

QModelIndex childRow(const QAbstractItemModel* m, const QModelIndex& parent, const QString& name) {
    for (int r = 0; r < m->rowCount(parent); ++r) {
        const QModelIndex i = m->index(r, LayerTreeModel::Name, parent);
        if (i.data().toString() == name) return i;
    }
    return {};
}

QString labelText(const MainWindow& w, const char* name) {
    auto* l = w.findChild<QLabel*>(QString::fromLatin1(name));
    return l ? l->text() : QStringLiteral("<no label %1>").arg(QString::fromLatin1(name));
}

}  // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

private slots:
    void initTestCase() {
        qcw::test::isolateSettings(QStringLiteral("test_mainwindow"));
        QVERIFY2(QFileInfo::exists(tinyDir() + QStringLiteral("/config.json")), qPrintable(tinyDir()));
    }
    void init() { QSettings().clear(); }
    void cleanupTestCase() { QSettings().clear(); }

    void onlyRealPanesExist() {
        MainWindow w(quietOptions());
        const QStringList ids{QStringLiteral("model"), QStringLiteral("compression"), QStringLiteral("documents"),
                              QStringLiteral("fine-tuning"), QStringLiteral("evaluation"), QStringLiteral("chat")};
        QCOMPARE(w.paneIds(), ids);
        QCOMPARE(static_cast<int>(qcw::ui::registeredPanes().size()), 6);
        for (const QString& id : ids) QVERIFY2(w.findChild<QWidget*>(QStringLiteral("pane-") + id), qPrintable(id));
        auto* list = w.findChild<QListWidget*>(QStringLiteral("pane-list"));
        QVERIFY(list);
        QCOMPARE(list->count(), 6);
        QCOMPARE(list->item(2)->text(), QStringLiteral("Documents"));
        QCOMPARE(list->item(3)->text(), QStringLiteral("Fine-tuning"));
        QCOMPARE(list->item(4)->text(), QStringLiteral("Evaluation"));
        QCOMPARE(list->item(5)->text(), QStringLiteral("Chat"));
        QVERIFY(w.showPane(QStringLiteral("fine-tuning")));
        QCOMPARE(w.currentPane(), QStringLiteral("fine-tuning"));
        QVERIFY(w.showPane(QStringLiteral("model")));
        QCOMPARE(w.currentPane(), QStringLiteral("model"));
        QVERIFY(w.showPane(QStringLiteral("compression")));
        QCOMPARE(w.currentPane(), QStringLiteral("compression"));
        QVERIFY(!w.showPane(QStringLiteral("training")));  // an unknown id
    }

    void opensTinyModelAndShowsLayers() {
        MainWindow w(quietOptions());
        w.show();
        w.openModel(tinyDir());
        QTRY_VERIFY_WITH_TIMEOUT(loaded(w), 20000);
        QCOMPARE(w.session()->directory(), tinyDir());

        QTreeView* tree = layerTree(w);
        QVERIFY(tree);
        QTRY_VERIFY(tree->isVisible());
        const QAbstractItemModel* m = tree->model();
        // embedding, block 0..2, final layernorm, lm_head, in that order.
        QStringList groups;
        int blocks = 0;
        for (int r = 0; r < m->rowCount(); ++r) {
            groups << m->index(r, LayerTreeModel::Name).data().toString();
            if (m->index(r, LayerTreeModel::Kind).data().toString() == QLatin1String("block")) ++blocks;
        }
        QCOMPARE(blocks, 3);
        QCOMPARE(groups, (QStringList{"embedding", "block 0", "block 1", "block 2", "final layernorm", "lm_head"}));

        const QModelIndex head = topRow(m, QStringLiteral("lm_head"));
        QVERIFY(head.isValid());
        const QModelIndex weight = childRow(m, head, QStringLiteral("lm_head.weight"));
        QVERIFY(weight.isValid());
        QCOMPARE(weight.siblingAtColumn(LayerTreeModel::Shape).data().toString(), QString::fromUtf8("320 × 64"));
        QCOMPARE(weight.siblingAtColumn(LayerTreeModel::Params).data().toString(), qcw::ui::formatCount(20480));
        QCOMPARE(weight.siblingAtColumn(LayerTreeModel::Dtype).data().toString(), QStringLiteral("F32"));
        QCOMPARE(weight.siblingAtColumn(LayerTreeModel::Kind).data().toString(), QStringLiteral("lm_head"));
        QCOMPARE(weight.siblingAtColumn(LayerTreeModel::Compressible).data().toString(), QStringLiteral("yes"));
        const QModelIndex block1 = topRow(m, QStringLiteral("block 1"));
        QCOMPARE(m->rowCount(block1), 14);
        QVERIFY(childRow(m, block1, QStringLiteral("model.layers.1.mlp.fc1.weight")).isValid());

        // Header summary, from the core facade.
        QCOMPARE(qcw::ui::formatCount(190976), QStringLiteral("190,976"));
        QVERIFY2(labelText(w, "summary-params").startsWith(qcw::ui::formatCount(190976)),
                 qPrintable(labelText(w, "summary-params")));
        QVERIFY(labelText(w, "summary-compressible").startsWith(qcw::ui::formatCount(188416)));
        QCOMPARE(labelText(w, "summary-architecture"), QStringLiteral("PhiForCausalLM"));
        QCOMPARE(labelText(w, "summary-dtype"), QStringLiteral("F32"));
        QCOMPARE(labelText(w, "summary-tokenizer"), QStringLiteral("missing"));
        QVERIFY(labelText(w, "summary-size").contains(QStringLiteral("KiB")));
        QVERIFY(labelText(w, "layer-count").startsWith(QStringLiteral("47 tensors")));
        QVERIFY(w.windowTitle().contains(QStringLiteral("tiny-phi")));
    }

    void filterAndSortTheTree() {
        MainWindow w(quietOptions());
        w.show();
        w.openModel(tinyDir());
        QTRY_VERIFY_WITH_TIMEOUT(loaded(w), 20000);
        QTreeView* tree = layerTree(w);
        auto* proxy = qobject_cast<LayerFilterProxy*>(tree->model());
        QVERIFY(proxy);
        QCOMPARE(proxy->visibleTensorCount(), 47);

        auto* filter = w.findChild<QLineEdit*>(QStringLiteral("layer-filter"));
        QVERIFY(filter);
        QTest::keyClicks(filter, QStringLiteral("fc1"));
        QCOMPARE(proxy->visibleTensorCount(), 6);  // weight + bias in 3 blocks
        QCOMPARE(proxy->rowCount(), 3);
        QCOMPARE(labelText(w, "layer-count"), QStringLiteral("6 of 47 tensors"));
        filter->setText(QStringLiteral("block 2 attn_q"));  // terms AND, group titles count
        QCOMPARE(proxy->visibleTensorCount(), 1);
        filter->clear();
        QCOMPARE(proxy->visibleTensorCount(), 47);

        auto* compressibleOnly = w.findChild<QCheckBox*>(QStringLiteral("compressible-only"));
        QVERIFY(compressibleOnly);
        compressibleOnly->setChecked(true);
        QCOMPARE(proxy->visibleTensorCount(), 20);  // embedding, 6 per block, lm_head
        QVERIFY(!topRow(proxy, QStringLiteral("final layernorm")).isValid());
        compressibleOnly->setChecked(false);

        tree->sortByColumn(LayerTreeModel::Params, Qt::DescendingOrder);
        const QModelIndex first = proxy->index(0, LayerTreeModel::Name);
        QVERIFY(first.data().toString().startsWith(QStringLiteral("block")));
        QCOMPARE(proxy->index(0, LayerTreeModel::Params, first).data().toString(), qcw::ui::formatCount(16384));
        tree->sortByColumn(LayerTreeModel::Params, Qt::AscendingOrder);
        QCOMPARE(proxy->index(0, LayerTreeModel::Name).data().toString(), QStringLiteral("final layernorm"));
        tree->sortByColumn(LayerTreeModel::Name, Qt::AscendingOrder);  // natural: block 2 before block 10
        QCOMPARE(proxy->index(0, LayerTreeModel::Name).data().toString(), QStringLiteral("block 0"));
        tree->sortByColumn(-1, Qt::AscendingOrder);  // network order again
        QCOMPARE(proxy->index(0, LayerTreeModel::Name).data().toString(), QStringLiteral("embedding"));
    }

    void memoryEstimateFollowsContextLength() {
        MainWindow w(quietOptions());
        w.show();
        w.openModel(tinyDir());
        QTRY_VERIFY_WITH_TIMEOUT(loaded(w), 20000);
        auto* ctx = w.findChild<QSpinBox*>(QStringLiteral("context-length"));
        auto* table = w.findChild<QTableWidget*>(QStringLiteral("memory-table"));
        QVERIFY(ctx && table);
        ctx->setValue(4096);
        const qcw::ModelSummary& m = *w.session()->model();
        const auto fp32 = qcw::estimateMemory(m, 4, 4096, 1);
        const auto fp16 = qcw::estimateMemory(m, 2, 4096, 1);
        QCOMPARE(table->item(0, 0)->text(), qcw::ui::formatBytes(fp32.weightsBytes));
        QCOMPARE(table->item(0, 1)->text(), qcw::ui::formatBytes(fp32.kvCacheBytes));
        QCOMPARE(table->item(1, 1)->text(), qcw::ui::formatBytes(fp16.kvCacheBytes));
        QCOMPARE(table->item(1, 3)->text(), qcw::ui::formatBytes(fp16.total()));
        ctx->setValue(128);
        QCOMPARE(table->item(0, 1)->text(), qcw::ui::formatBytes(qcw::estimateMemory(m, 4, 128, 1).kvCacheBytes));
    }

    void dropOpensModel() {
        MainWindow w(quietOptions());
        w.show();
        QMimeData mime;
        mime.setUrls({QUrl::fromLocalFile(tinyDir())});
        QDragEnterEvent enter(QPoint(40, 40), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&w, &enter);
        QVERIFY(enter.isAccepted());
        QDropEvent drop(QPointF(40, 40), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&w, &drop);
        QVERIFY(drop.isAccepted());
        QTRY_VERIFY_WITH_TIMEOUT(loaded(w), 20000);
        QCOMPARE(w.session()->directory(), tinyDir());
        QTRY_VERIFY(topRow(layerTree(w)->model(), QStringLiteral("lm_head")).isValid());

        // A file inside the snapshot stands for its folder.
        QMimeData fileMime;
        fileMime.setUrls({QUrl::fromLocalFile(tinyDir() + QStringLiteral("/config.json"))});
        QCOMPARE(MainWindow::modelPathFromMime(&fileMime), tinyDir() + QStringLiteral("/config.json"));
        QCOMPARE(qcw::ui::ModelSession::normalizeModelPath(tinyDir() + QStringLiteral("/config.json")), tinyDir());
    }

    void dropIgnoresRemoteUrls() {
        MainWindow w(quietOptions());
        QMimeData mime;
        mime.setUrls({QUrl(QStringLiteral("https://example.org/model"))});
        QDragEnterEvent enter(QPoint(40, 40), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&w, &enter);
        QVERIFY(!enter.isAccepted());
        QMimeData text;
        text.setText(QStringLiteral("hello"));
        QDragEnterEvent enter2(QPoint(40, 40), Qt::CopyAction, &text, Qt::LeftButton, Qt::NoModifier);
        QCoreApplication::sendEvent(&w, &enter2);
        QVERIFY(!enter2.isAccepted());
    }

    void invalidDirectoryShowsErrorAndWindowSurvives() {
        MainWindow w;  // default options: error dialogs on
        w.show();
        QTemporaryDir empty;
        QVERIFY(empty.isValid());
        QSignalSpy failed(w.session(), &qcw::ui::ModelSession::loadFailed);
        w.openModel(empty.path());
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 20000);
        const QString message = failed.at(0).at(1).toString();
        QVERIFY2(message.contains(QStringLiteral("config.json")), qPrintable(message));
        QVERIFY(!message.contains(QLatin1Char('\n')));
        QVERIFY(w.statusBar()->currentMessage().contains(message));
        QMessageBox* box = nullptr;
        QTRY_VERIFY((box = w.findChild<QMessageBox*>(QStringLiteral("load-error"))) != nullptr);
        QVERIFY(box->informativeText().contains(message));
        box->close();
        QTRY_VERIFY(!w.findChild<QMessageBox*>(QStringLiteral("load-error")));
        QVERIFY(!w.session()->hasModel());
        QVERIFY(!w.findChild<QProgressBar*>(QStringLiteral("load-progress"))->isVisible());

        // A path that does not exist, then a good model: the window is still usable.
        w.openModel(empty.path() + QStringLiteral("/nope"));
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 2, 20000);
        QVERIFY(w.recentModels().isEmpty());
        w.openModel(tinyDir());
        QTRY_VERIFY_WITH_TIMEOUT(loaded(w), 20000);
        QVERIFY(w.isVisible());
        if (auto* b = w.findChild<QMessageBox*>(QStringLiteral("load-error"))) b->close();
    }

    void recentModelsUpdate() {
        MainWindow w(quietOptions());
        QVERIFY(w.recentModels().isEmpty());
        w.openModel(tinyDir());
        QTRY_VERIFY_WITH_TIMEOUT(loaded(w), 20000);
        QCOMPARE(w.recentModels(), QStringList{tinyDir()});

        auto* menu = w.findChild<QMenu*>(QStringLiteral("menu-recent"));
        QVERIFY(menu);
        const QList<QAction*> actions = menu->actions();
        QVERIFY(std::any_of(actions.begin(), actions.end(),
                            [](QAction* a) { return a->data().toString() == tinyDir(); }));

        // Missing folders are pruned, duplicates dropped, at most 8 kept, newest first.
        QTemporaryDir base;
        QStringList dirs;
        for (int i = 0; i < 10; ++i) {
            const QString d = base.path() + QStringLiteral("/m%1").arg(i);
            QVERIFY(QDir().mkpath(d));
            dirs.prepend(d);
        }
        QStringList stored = dirs;
        stored.insert(1, QStringLiteral("/no/such/model"));
        stored << tinyDir() << dirs.first();
        QSettings().setValue(QStringLiteral("recentModels"), stored);
        const QStringList recent = w.recentModels();
        QCOMPARE(recent.size(), 8);
        QCOMPARE(recent, dirs.mid(0, 8));
        QVERIFY(!QSettings().value(QStringLiteral("recentModels")).toStringList().contains("/no/such/model"));

        w.openModel(tinyDir());
        QTRY_VERIFY_WITH_TIMEOUT(w.recentModels().value(0) == tinyDir(), 20000);
        QCOMPARE(w.recentModels().size(), 8);
    }

    void guiStaysResponsiveWhileLoading() {
        // A slow disk: the loader is held until the test lets it go. If loading ran on the GUI
        // thread, openModel() would not return before the gate opens (and the loader would see
        // the GUI thread); the window's own events (the progress bar, a timer) go on meanwhile.
        QSemaphore entered, gate;
        std::atomic<bool> onGuiThread{false};
        QThread* const gui = QThread::currentThread();
        MainWindow w(quietOptions());
        auto release = qScopeGuard([&] { gate.release(); });  // a failed check leaves no worker waiting
        w.show();
        w.session()->setLoader([&entered, &gate, &onGuiThread, gui](const std::string& dir) {
            onGuiThread = QThread::currentThread() == gui;
            entered.release();
            gate.tryAcquire(1, onGuiThread ? 0 : 60000);  // never blocks the GUI thread itself
            return qcw::inspectModel(dir);
        });
        int ticks = 0;
        QTimer tick;
        tick.setInterval(10);
        connect(&tick, &QTimer::timeout, this, [&] { ++ticks; });
        tick.start();
        w.openModel(tinyDir());
        QVERIFY(entered.tryAcquire(1, 20000));  // the loader runs ...
        QVERIFY2(!onGuiThread, "the model was loaded on the GUI thread");
        QVERIFY(w.session()->isLoading());  // ... and is held: the GUI thread serves events meanwhile
        QTRY_VERIFY(w.findChild<QProgressBar*>(QStringLiteral("load-progress"))->isVisible());
        QTRY_VERIFY(ticks >= 10);
        QVERIFY(w.session()->isLoading());
        QVERIFY(!loaded(w));
        gate.release();
        QTRY_VERIFY_WITH_TIMEOUT(loaded(w), 20000);
        tick.stop();
        QVERIFY(!w.findChild<QProgressBar*>(QStringLiteral("load-progress"))->isVisible());
    }

    void laterOpenSupersedesEarlierLoad() {
        MainWindow w(quietOptions());
        QTemporaryDir empty;
        w.session()->setLoader([](const std::string& dir) {
            QThread::msleep(150);
            return qcw::inspectModel(dir);
        });
        QSignalSpy failed(w.session(), &qcw::ui::ModelSession::loadFailed);
        w.openModel(empty.path());  // would fail, but is superseded
        w.openModel(tinyDir());
        QTRY_VERIFY_WITH_TIMEOUT(loaded(w), 20000);
        QCOMPARE(w.session()->directory(), tinyDir());
        QCOMPARE(failed.count(), 0);
    }

    void destroyingWindowWhileLoadingIsSafe() {
        // The window is deleted while its load is under way: deleting waits for the worker and
        // drops its result, so no callback reaches the dead window (it would run in the
        // processEvents() below: a crash, or a finding under the sanitizers).
        QSemaphore entered, gate;
        std::atomic<bool> loaderDone{false};
        auto* w = new MainWindow(quietOptions());
        auto cleanup = qScopeGuard([&] {  // when a check fails: no worker outlives this test's state
            gate.release();
            delete w;
        });
        w->session()->setLoader([&entered, &gate, &loaderDone](const std::string& dir) {
            entered.release();
            gate.tryAcquire(1, 60000);
            auto summary = qcw::inspectModel(dir);
            loaderDone = true;
            return summary;
        });
        w->openModel(tinyDir());
        QVERIFY(entered.tryAcquire(1, 20000));  // the load is under way on a worker
        QVERIFY(w->session()->isLoading());
        gate.release();
        delete w;  // waits for the worker; no callback reaches the dead window
        w = nullptr;
        QVERIFY2(loaderDone, "the window was destroyed before its worker ended");
        QCoreApplication::processEvents();
    }

    void windowStatePersists() {
        {
            MainWindow w;
            w.resize(900, 600);
            w.show();
            auto* ctx = w.findChild<QSpinBox*>(QStringLiteral("context-length"));
            ctx->setValue(1000);
            w.close();
        }
        MainWindow again;
        QCOMPARE(again.findChild<QSpinBox*>(QStringLiteral("context-length"))->value(), 1000);
        QVERIFY(!QSettings().value(QStringLiteral("window/geometry")).toByteArray().isEmpty());
    }

    void screenshotEndToEnd() {
        const QString bin = QStringLiteral(QCW_BIN_DIR "/qcw");
        if (!QFileInfo(bin).isExecutable()) QSKIP("qcw is not built in QCW_BIN_DIR");
        QTemporaryDir out;
        QVERIFY(out.isValid());
        const QString png = out.filePath(QStringLiteral("model.png"));

        QProcess p;
        p.start(bin, {QStringLiteral("--screenshot"), png, QStringLiteral("--pane"), QStringLiteral("model"), tinyDir()});
        QVERIFY(p.waitForFinished(120000));
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, p.readAllStandardError().constData());
        QVERIFY(QFileInfo(png).size() > 0);
        const QImage image(png);
        QVERIFY(!image.isNull());
        QVERIFY(image.width() > 0 && image.height() > 0);

        // No MODEL_DIR: the demo model.
        const QString png2 = out.filePath(QStringLiteral("demo.png"));
        p.start(bin, {QStringLiteral("--screenshot"), png2});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 0);
        QVERIFY(!QImage(png2).isNull());

        // A bad folder: a one-line error, exit 1, no file.
        const QString png3 = out.filePath(QStringLiteral("bad.png"));
        p.start(bin, {QStringLiteral("--screenshot"), png3, out.path()});
        QVERIFY(p.waitForFinished(120000));
        QCOMPARE(p.exitCode(), 1);
        QVERIFY(QString::fromLocal8Bit(p.readAllStandardError()).contains(QStringLiteral("config.json")));
        QVERIFY(!QFileInfo::exists(png3));

        p.start(bin, {QStringLiteral("--version")});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 0);
        QVERIFY(p.readAllStandardOutput().startsWith("qcw "));

        p.start(bin, {QStringLiteral("--list-plugins")});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 0);
        // The built-in SVD, Tucker and TT plugins and the example (tests/ui/test_plugins checks them).
        QCOMPARE(p.readAllStandardOutput().trimmed().split('\n').size(), 4);
    }
};

QTEST_MAIN(TestMainWindow)
#include "test_mainwindow.moc"

