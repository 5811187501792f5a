// The compression pane offers exactly the core's table of decomposition strategies
// (decompose/strategies/registry.h), in its order, and the built-in Qt plugins, which wrap core
// strategies, give those entries their settings instead of listing SVD, Tucker and TT twice.
// A plugin with its own factorizer (the Eigen SVD example) is the only extra entry.
#include "decompose/strategies/registry.h"
#include "ui/main_window.h"
#include "ui/pane_compression.h"

#include <QCheckBox>
#include <QComboBox>
#include <QStackedWidget>
#include <QtTest>

#include "ui_test_support.h"

class TestStrategyOffer : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() {
        qcw::test::isolateSettings(QStringLiteral("test_strategy_offer"));
        qputenv("QCW_PLUGIN_PATH", QByteArrayLiteral(QCW_BIN_DIR "/plugins"));  // before the first discovery
    }

    void thePaneOffersExactlyTheTable() {
        qcw::ui::MainWindow w(qcw::test::quietOptions());
        w.show();
        QVERIFY(w.showPane(QStringLiteral("compression")));
        auto* method = w.findChild<QComboBox*>(QStringLiteral("method-combo"));
        QVERIFY(method);
        QStringList core, plugins;
        for (int i = 0; i < method->count(); ++i) {
            const QString id = method->itemData(i).toString();
            (id.startsWith(QStringLiteral("plugin:")) ? plugins : core) << id;
        }
        QStringList expected;
        for (const auto& s : qcw::strategyInfos())
            if (s.listed) expected << QString::fromStdString(s.id);
        QCOMPARE(core, expected);
        // Only the plugin that brings its own factorizer has an entry; SVD appears once.
        QCOMPARE(plugins, QStringList{QStringLiteral("plugin:eigen-svd")});
        for (int i = 0; i < core.size(); ++i) {
            const qcw::StrategyInfo* s = qcw::findStrategyInfo(core[i].toStdString());
            QCOMPARE(method->itemText(i), QString::fromStdString(s->name));
        }
        // The SVD plugin's settings are shown under the core's svd entry.
        method->setCurrentIndex(method->findData(QStringLiteral("svd")));
        auto* settings = w.findChild<QStackedWidget*>(QStringLiteral("plugin-settings"));
        QVERIFY(settings && settings->isVisible());
        QVERIFY(settings->currentWidget()->findChild<QCheckBox*>(QStringLiteral("svd-activation-aware")));
        // An entry no plugin wraps shows none.
        method->setCurrentIndex(method->findData(QStringLiteral("auto")));
        QVERIFY(!settings->isVisible());
    }
};

QTEST_MAIN(TestStrategyOffer)
#include "test_strategy_offer.moc"
