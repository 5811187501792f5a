// Decomposition plugins: the four built in plugins/ (SVD, Tucker, tensor train and the Eigen
// SVD example) are found and listed (also by `qcw --list-plugins`), configure the core's
// options from their settings widgets, and the example's own factorization compresses the
// tiny fixture to the same model the core's SVD gives, from the API and from the pane.
#include "common/error.h"
#include "decompose/compress_api.h"
#include "io/checkpoint.h"
#include "model/engine.h"
#include "ui/decomposition_plugin.h"
#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/pane_compression.h"
#include "ui/plugins.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLineEdit>
#include <QProcess>
#include <QSettings>
#include <QSpinBox>
#include <QStackedWidget>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

#include "ui_test_support.h"

using qcw::ui::PluginInfo;

namespace {

const QString kPluginDir = QStringLiteral(QCW_BIN_DIR "/plugins");

const PluginInfo* find(const std::vector<PluginInfo>& all, const QString& id) {
    for (const auto& p : all)
        if (p.id == id) return &p;
    return nullptr;
}

double maxLogitDiff(const std::string& a, const std::string& b) {
    auto ea = qcw::Engine::load(a), eb = qcw::Engine::load(b);
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 24; ++i) ids.push_back((i * 37 + 5) % 320);
    auto la = ea->forward(ids, {}, 1, 24).logits.data, lb = eb->forward(ids, {}, 1, 24).logits.data;
    double m = 0;
    for (std::size_t i = 0; i < la.size(); ++i) m = std::max(m, double(std::fabs(la[i] - lb[i])));
    return m;
}

}  // namespace

class TestPlugins : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { qcw::test::isolateSettings(QStringLiteral("test_plugins")); }

    void foundAndListed() {
        const auto all = qcw::ui::discoverPlugins({kPluginDir});
        QCOMPARE(all.size(), std::size_t(4));
        for (const char* id : {"svd", "tucker", "tt", "eigen-svd"}) {
            const PluginInfo* p = find(all, QString::fromLatin1(id));
            QVERIFY2(p && p->plugin && p->error.isEmpty(), id);
            QVERIFY(!p->name.isEmpty() && !p->version.isEmpty() && !p->description.isEmpty());
        }
        // A file that is not a plugin is skipped; the first folder giving an id wins.
        QTemporaryDir extra;
        QFile junk(extra.filePath("libjunk.so"));
        QVERIFY(junk.open(QIODevice::WriteOnly));
        junk.write("not a library");
        junk.close();
        QCOMPARE(qcw::ui::discoverPlugins({extra.path(), kPluginDir, kPluginDir}).size(), std::size_t(4));

        QProcess p;
        p.start(QStringLiteral(QCW_BIN_DIR "/qcw"), {QStringLiteral("--list-plugins")});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 0);
        const QStringList lines = QString::fromUtf8(p.readAllStandardOutput()).split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 4);
        QVERIFY(lines.filter(QStringLiteral("Eigen SVD (example plugin)")).size() == 1);
        for (const QString& l : lines) QCOMPARE(l.split('\t').size(), 4);
    }

    void builtInPluginsConfigureTheCoreStrategies() {
        const auto all = qcw::ui::discoverPlugins({kPluginDir});
        QWidget parent;
        auto configured = [&](const char* id, const std::function<void(QWidget*)>& tweak) {
            const PluginInfo* p = find(all, QString::fromLatin1(id));
            QWidget* w = p->plugin->createSettingsWidget(&parent);
            if (tweak) tweak(w);
            qcw::CompressOptions o;
            p->plugin->configure(w, o);
            return o;
        };
        QCOMPARE(configured("svd", {}).method, std::string("svd"));
        auto aware = configured("svd", [](QWidget* w) {
            w->findChild<QCheckBox*>("svd-activation-aware")->setChecked(true);
            w->findChild<QCheckBox*>("svd-randomized")->setChecked(true);
        });
        QCOMPARE(aware.method, std::string("asvd"));
        QVERIFY(aware.randomized);
        QCOMPARE(configured("tucker", [](QWidget* w) { w->findChild<QComboBox*>("tucker-stack")->setCurrentIndex(1); }).method,
                 std::string("tucker-xl"));
        auto tt = configured("tt", [](QWidget* w) { w->findChild<QSpinBox*>("tt-cores")->setValue(4); });
        QCOMPARE(tt.method, std::string("tt"));
        QCOMPARE(tt.ttCores, 4);
        auto ex = configured("eigen-svd", {});
        QCOMPARE(ex.method, std::string("custom"));
        QVERIFY(static_cast<bool>(ex.factorizer));
    }

    void exampleFactorizationMatchesTheCoreSvd() {
        const auto all = qcw::ui::discoverPlugins({kPluginDir});
        const PluginInfo* p = find(all, QStringLiteral("eigen-svd"));
        QWidget parent;
        QWidget* w = p->plugin->createSettingsWidget(&parent);
        qcw::CompressOptions o;
        o.keepFraction = 0.6;
        p->plugin->configure(w, o);
        QTemporaryDir tmp;
        const std::string plug = tmp.filePath("plugin").toStdString(), core = tmp.filePath("core").toStdString();
        auto r = qcw::compressModelDir(QCW_TEST_DATA "/tiny-phi", plug, o);
        QCOMPARE(r.method, std::string("eigen-svd"));
        qcw::CompressOptions c;
        c.keepFraction = 0.6;
        auto rc = qcw::compressModelDir(QCW_TEST_DATA "/tiny-phi", core, c);
        QCOMPARE(r.paramsAfter, rc.paramsAfter);  // the same ranks
        for (std::size_t i = 0; i < r.layers.size(); ++i) {
            QCOMPARE(r.layers[i].method, std::string("eigen-svd"));
            QVERIFY2(std::fabs(r.layers[i].relError - rc.layers[i].relError) < 1e-4, r.layers[i].name.c_str());
        }
        const double diff = maxLogitDiff(plug, core);
        QVERIFY2(diff < 1e-3, qPrintable(QString::number(diff)));
        // A factorizer that returns the wrong size is refused with a line naming the layer.
        o.factorizer = [](const float*, std::int64_t, std::int64_t, int rank) {
            qcw::MatrixFactors f;
            f.rank = rank;
            f.left.resize(3);
            return f;
        };
        try {
            qcw::compressModelDir(QCW_TEST_DATA "/tiny-phi", tmp.filePath("bad").toStdString(), o);
            QFAIL("expected an error");
        } catch (const qcw::Error& e) {
            QVERIFY2(QString(e.what()).contains("wrong size"), e.what());
        }
        QVERIFY(!QFile::exists(tmp.filePath("bad")));  // nothing half-written
    }

    void usedFromTheCompressionPane() {
        qputenv("QCW_PLUGIN_PATH", kPluginDir.toUtf8());
        qcw::ui::MainWindow w(qcw::test::quietOptions());
        w.resize(1200, 800);
        w.show();
        w.openModel(qcw::test::tinyDir());
        QTRY_VERIFY_WITH_TIMEOUT(w.session()->hasModel() && !w.session()->isLoading(), 20000);
        w.showPane(QStringLiteral("compression"));
        auto* pane = qobject_cast<qcw::ui::CompressionPane*>(w.pane(QStringLiteral("compression")));
        auto* method = w.findChild<QComboBox*>(QStringLiteral("method-combo"));
        const int i = method->findData(QStringLiteral("plugin:eigen-svd"));
        QVERIFY(i >= 0);
        method->setCurrentIndex(i);
        QVERIFY(w.findChild<QStackedWidget*>(QStringLiteral("plugin-settings"))->isVisible());
        QTemporaryDir tmp;
        w.findChild<QLineEdit*>(QStringLiteral("output-dir"))->setText(tmp.filePath("out"));
        QSignalSpy finished(pane, &qcw::ui::CompressionPane::jobFinished);
        pane->startCompression(false);
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
        QVERIFY2(finished.at(0).at(0).toBool(), qPrintable(finished.at(0).at(1).toString()));
        QFile f(tmp.filePath("out/compression.json"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonObject j = QJsonDocument::fromJson(f.readAll()).object();
        QCOMPARE(j["method"].toString(), QStringLiteral("eigen-svd"));
        auto* table = pane->findChild<QTableWidget*>(QStringLiteral("layer-results"));
        QVERIFY(table && table->rowCount() > 0);
        QCOMPARE(table->item(0, 1)->text(), QStringLiteral("eigen-svd"));
    }
};

QTEST_MAIN(TestPlugins)
#include "test_plugins.moc"
