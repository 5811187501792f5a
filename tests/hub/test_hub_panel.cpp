// The model pane's hub panel and GGUF export button, offscreen, against the fake hub: the cache
// listing, Open of a hub id that is not cached (downloads, then opens), a download cancelled
// half-way and resumed, and Export GGUF of the open model.
#include "fake_hub.h"

#include "export/gguf.h"
#include "ui/hub_panel.h"
#include "ui/model_session.h"

#include <QFile>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTreeWidget>
#include <QtTest>

class TestHubPanel : public QObject {
    Q_OBJECT
    std::unique_ptr<fakehub::Hub> hub;
    QTemporaryDir cache;
    std::string model;

private slots:
    void initTestCase() {
        QFile f(QStringLiteral(QCW_TEST_DATA "/tiny-phi/model.safetensors"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        model = f.readAll().toStdString();
        QFile c(QStringLiteral(QCW_TEST_DATA "/tiny-phi/config.json"));
        QVERIFY(c.open(QIODevice::ReadOnly));
        const std::string config = c.readAll().toStdString();
        hub = std::make_unique<fakehub::Hub>();
        fakehub::Repo r;
        r.refs["main"] = "3333333333333333333333333333333333333333";
        r.commits["3333333333333333333333333333333333333333"] = {{"config.json", config, false}, {"model.safetensors", model, true}};
        hub->repos["acme/tiny-phi"] = r;
        hub->repos["acme/other"] = r;
        ::setenv("HF_ENDPOINT", hub->url().c_str(), 1);
        ::setenv("HF_HUB_CACHE", cache.path().toLocal8Bit().constData(), 1);
        ::unsetenv("HF_HUB_OFFLINE");
        ::unsetenv("HF_TOKEN");
    }

    void openDownloadsThenOpens() {
        qcw::ui::ModelSession session;
        qcw::ui::HubPanel panel(&session);
        auto* list = panel.findChild<QTreeWidget*>("hub-cached");
        QVERIFY(list);
        QCOMPARE(list->topLevelItemCount(), 0);
        QVERIFY(panel.status().contains("No Phi model"));
        QSignalSpy done(&panel, &qcw::ui::HubPanel::downloadFinished);
        QSignalSpy loaded(&session, &qcw::ui::ModelSession::modelLoaded);
        panel.openOrDownload("acme/tiny-phi");
        QVERIFY(done.wait(60000));
        QVERIFY2(done.at(0).at(0).toBool(), qPrintable(done.at(0).at(1).toString()));
        QVERIFY(loaded.count() > 0 || loaded.wait(60000));
        QVERIFY(session.directory().endsWith("snapshots/3333333333333333333333333333333333333333"));
        QCOMPARE(list->topLevelItemCount(), 1);
        QCOMPARE(list->topLevelItem(0)->text(0), QStringLiteral("acme/tiny-phi"));

        // Export GGUF of the open model.
        qcw::ui::GgufExportButton button(&session);
        QSignalSpy exported(&button, &qcw::ui::GgufExportButton::exportFinished);
        QTemporaryDir out;
        button.exportTo(out.filePath("tiny.gguf"), "q8_0");
        QVERIFY(exported.wait(120000));
        QVERIFY2(exported.at(0).at(0).toBool(), qPrintable(exported.at(0).at(1).toString()));
        const auto info = qcw::readGgufInfo(out.filePath("tiny.gguf").toStdString());
        QCOMPARE(QString::fromStdString(info.meta.at("general.architecture")), QStringLiteral("phi2"));
        QVERIFY(QFileInfo::exists(out.filePath("Modelfile")));
    }

    void cancelThenResume() {
        qcw::ui::ModelSession session;
        qcw::ui::HubPanel panel(&session);
        const long long half = static_cast<long long>(model.size() / 2);
        const long long before = hub->served("model.safetensors");
        hub->stallAt("model.safetensors", half);
        QSignalSpy done(&panel, &qcw::ui::HubPanel::downloadFinished);
        panel.download("acme/other");
        QVERIFY(panel.busy());
        QTRY_VERIFY_WITH_TIMEOUT(hub->served("model.safetensors") - before >= half, 30000);
        panel.cancel();
        QVERIFY(done.wait(30000));
        QVERIFY(!done.at(0).at(0).toBool());
        QVERIFY2(done.at(0).at(1).toString().contains("cancelled"), qPrintable(done.at(0).at(1).toString()));
        hub->release();
        panel.download("acme/other");
        QVERIFY(done.wait(60000));
        QVERIFY2(done.at(1).at(0).toBool(), qPrintable(done.at(1).at(1).toString()));
        // The second download fetched only the rest (the blob is shared with acme/tiny-phi's
        // in another repository folder, so nothing is reused across them).
        QCOMPARE(hub->served("model.safetensors") - before, static_cast<long long>(model.size()));
    }
};

QTEST_MAIN(TestHubPanel)
#include "test_hub_panel.moc"
