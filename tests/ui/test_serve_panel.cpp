// The chat pane's Serve switch, offscreen, with the real server (core/serve) on 127.0.0.1 and
// port 0: switched on for the demo model it shows the address, answers a real HTTP chat
// completion with the key from a key file (and refuses one without it), logs both requests and
// moves its counters; switched off, the port no longer answers. A non-loopback host without a
// key, a port in use and an unreadable key file are refused with their reason in the pane.
#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/pane_chat.h"
#include "ui/serve_panel.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QTableWidget>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QtTest>

#include <memory>

#include "ui_test_support.h"

using qcw::test::child;
using qcw::ui::ChatPane;
using qcw::ui::MainWindow;
using qcw::ui::ServePanel;

namespace {

const QString kDemo = QStringLiteral(QCW_SOURCE_DIR "/resources/models/demo-phi");

struct Reply {
    int status = 0;
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    QJsonObject body;
};

// One request through QNetworkAccessManager, waited for by its finished signal.
Reply send(const QString& url, const QByteArray& body, const QString& key) {
    QNetworkAccessManager nam;
    QNetworkRequest req{QUrl(url)};
    req.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
    if (!key.isEmpty()) req.setRawHeader("Authorization", "Bearer " + key.toUtf8());
    QNetworkReply* r = body.isEmpty() ? nam.get(req) : nam.post(req, body);
    QSignalSpy done(r, &QNetworkReply::finished);
    if (!r->isFinished()) done.wait(60000);
    Reply out;
    out.status = r->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    out.error = r->error();
    out.body = QJsonDocument::fromJson(r->readAll()).object();
    r->deleteLater();
    return out;
}

}  // namespace

class TestServePanel : public QObject {
    Q_OBJECT

    std::unique_ptr<MainWindow> openDemo() {
        auto w = qcw::test::shownWindow(1400, 900);
        w->openModel(kDemo);
        [&] { QTRY_VERIFY_WITH_TIMEOUT(w->session()->hasModel() && !w->session()->isLoading(), 30000); }();
        w->showPane(QStringLiteral("chat"));
        return w;
    }
    static ServePanel* panelOf(const MainWindow& w) {
        auto* chat = qobject_cast<ChatPane*>(w.pane(QStringLiteral("chat")));
        return chat ? chat->servePanel() : nullptr;
    }

private slots:
    void initTestCase() { qcw::test::isolateSettings(QStringLiteral("test_serve_panel")); }
    void init() { QSettings().clear(); }
    void cleanupTestCase() { QSettings().clear(); }

    void servesTheShownModelAndStops() {
        auto w = openDemo();
        ServePanel* panel = panelOf(*w);
        QVERIFY(panel);
        QTemporaryDir tmp;
        const QString keyFile = tmp.filePath("key.txt");
        {
            QFile f(keyFile);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("test-key-123\n");
        }
        child<QLineEdit>(*w, "serve-host")->setText(QStringLiteral("127.0.0.1"));
        child<QSpinBox>(*w, "serve-port")->setValue(0);  // any free port
        child<QLineEdit>(*w, "serve-key")->clear();
        child<QLineEdit>(*w, "serve-key-file")->setText(keyFile);
        QSignalSpy started(panel, &ServePanel::started);
        QSignalSpy stopped(panel, &ServePanel::stopped);
        QSignalSpy failed(panel, &ServePanel::failed);
        auto* toggle = child<QPushButton>(*w, "serve-toggle");
        QVERIFY(toggle->isCheckable() && !toggle->isChecked());
        toggle->click();
        QVERIFY(toggle->isChecked());
        QTRY_VERIFY_WITH_TIMEOUT(started.count() == 1 || failed.count() > 0, 120000);
        QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().first().toString()));
        QVERIFY(panel->isReady());
        const int port = panel->port();
        QVERIFY(port > 0);
        const QString base = QStringLiteral("http://127.0.0.1:%1/v1").arg(port);
        QCOMPARE(panel->baseUrl(), base);
        QCOMPARE(child<QLabel>(*w, "serve-url")->text(), base);
        QCOMPARE(panel->apiKey(), QStringLiteral("test-key-123"));
        const QString st = child<QLabel>(*w, "serve-status")->text();
        QVERIFY2(st.contains("demo-phi") && st.contains("API key required"), qPrintable(st));
        QVERIFY(!child<QLineEdit>(*w, "serve-host")->isEnabled());  // fixed while serving

        // A real chat completion through the shown address, with the key.
        const QByteArray body = R"({"model":"demo-phi","messages":[{"role":"user","content":"What is a FortiGate?"}],)"
                                R"("max_tokens":4,"temperature":0})";
        const Reply r = send(base + "/chat/completions", body, panel->apiKey());
        QVERIFY2(r.status == 200, qPrintable(QString::number(r.status) + " " + QString::number(int(r.error))));
        QCOMPARE(r.body["object"].toString(), QStringLiteral("chat.completion"));
        QCOMPARE(r.body["model"].toString(), QStringLiteral("demo-phi"));
        const QJsonObject choice = r.body["choices"].toArray().first().toObject();
        QCOMPARE(choice["message"].toObject()["role"].toString(), QStringLiteral("assistant"));
        QVERIFY(choice["message"].toObject()["content"].isString());
        const int outTokens = r.body["usage"].toObject()["completion_tokens"].toInt();
        const int inTokens = r.body["usage"].toObject()["prompt_tokens"].toInt();
        QVERIFY(outTokens >= 1 && outTokens <= 4 && inTokens > 0);
        // The same route without the key: 401.
        QCOMPARE(send(base + "/chat/completions", body, {}).status, 401);
        // A streamed completion: logged with its tokens once its last event is sent.
        const Reply streamed = send(base + "/completions",
                                    R"({"model":"demo-phi","prompt":"The hub","max_tokens":3,"temperature":0,"stream":true})",
                                    panel->apiKey());
        QCOMPARE(streamed.status, 200);

        // Both appear in the live log; the counters moved.
        auto* log = child<QTableWidget>(*w, "serve-log");
        QTRY_VERIFY_WITH_TIMEOUT(log->rowCount() >= 2, 10000);
        QCOMPARE(log->item(0, 1)->text(), QStringLiteral("POST /v1/chat/completions"));
        QCOMPARE(log->item(0, 2)->text(), QStringLiteral("demo-phi"));
        QCOMPARE(log->item(0, 3)->text(), QStringLiteral("200"));
        QCOMPARE(log->item(0, 4)->text(), QString::number(inTokens));
        QCOMPARE(log->item(0, 5)->text(), QString::number(outTokens));
        QCOMPARE(log->item(1, 3)->text(), QStringLiteral("401"));
        QTRY_VERIFY_WITH_TIMEOUT(log->rowCount() >= 3, 10000);
        QCOMPARE(log->item(2, 1)->text(), QStringLiteral("POST /v1/completions"));
        QCOMPARE(log->item(2, 2)->text(), QStringLiteral("demo-phi"));
        QCOMPARE(log->item(2, 3)->text(), QStringLiteral("200"));
        QVERIFY(log->item(2, 5)->text().toInt() >= 1);
        auto* stats = child<QLabel>(*w, "serve-stats");
        QTRY_VERIFY_WITH_TIMEOUT(stats->property("requests").toULongLong() >= 3, 10000);
        QVERIFY(stats->property("completionTokens").toLongLong() >= outTokens + log->item(2, 5)->text().toInt());
        QVERIFY2(stats->text().contains("tok/s") && stats->text().contains("queue 0/") &&
                     stats->text().contains("busy slots 0/1"),
                 qPrintable(stats->text()));

        // Off: the port stops answering.
        toggle->click();
        QTRY_COMPARE_WITH_TIMEOUT(stopped.count(), 1, 60000);
        QVERIFY(!toggle->isChecked() && !panel->isRunning());
        QCOMPARE(child<QLabel>(*w, "serve-url")->text(), QStringLiteral("not serving"));
        const Reply after = send(base + "/models", {}, panel->apiKey());
        QCOMPARE(after.error, QNetworkReply::ConnectionRefusedError);
        QVERIFY(child<QLineEdit>(*w, "serve-host")->isEnabled());
    }

    void aModelThatFailsToLoadIsShown() {
        // The compressed side is the tiny fixture, which has no tokenizer: loading fails at once,
        // right after the listener started; the server stops (its wait() returns) and the switch goes off.
        auto w = openDemo();
        ServePanel* panel = panelOf(*w);
        qobject_cast<ChatPane*>(w->pane(QStringLiteral("chat")))->setCompressedModel(qcw::test::tinyDir());
        child<QLineEdit>(*w, "serve-host")->setText(QStringLiteral("127.0.0.1"));
        child<QSpinBox>(*w, "serve-port")->setValue(0);
        QSignalSpy failed(panel, &ServePanel::failed);
        QSignalSpy running(panel, &ServePanel::runningChanged);
        child<QPushButton>(*w, "serve-toggle")->click();
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 60000);
        const int port = panel->port();
        QVERIFY(!panel->isRunning() && !child<QPushButton>(*w, "serve-toggle")->isChecked());
        QCOMPARE(port, 0);
        QCOMPARE(running.count(), 2);  // on, then off
        const QString st = child<QLabel>(*w, "serve-status")->text();
        QVERIFY2(st.contains("tiny-phi") && st.contains("has no tokenizer"), qPrintable(st));
    }

    void offWhileLoadingStops() {
        // Off right after on, while the models load: the start ends (cancelled, or its server
        // stopped at once) and the switch is off; on again serves.
        auto w = openDemo();
        ServePanel* panel = panelOf(*w);
        child<QSpinBox>(*w, "serve-port")->setValue(0);
        QSignalSpy stopped(panel, &ServePanel::stopped);
        QSignalSpy started(panel, &ServePanel::started);
        auto* toggle = child<QPushButton>(*w, "serve-toggle");
        toggle->click();
        QVERIFY(panel->isRunning() && !panel->isReady());
        toggle->click();
        QTRY_COMPARE_WITH_TIMEOUT(stopped.count(), 1, 60000);
        QCOMPARE(started.count(), 0);
        QVERIFY(!panel->isRunning() && !toggle->isChecked());
        toggle->click();
        QTRY_COMPARE_WITH_TIMEOUT(started.count(), 1, 60000);
        QVERIFY(panel->isReady());
    }

    void closingTheWindowWhileServingStopsTheServer() {
        auto w = openDemo();
        ServePanel* panel = panelOf(*w);
        child<QSpinBox>(*w, "serve-port")->setValue(0);
        QSignalSpy started(panel, &ServePanel::started);
        child<QPushButton>(*w, "serve-toggle")->click();
        QTRY_COMPARE_WITH_TIMEOUT(started.count(), 1, 60000);
        const QString base = panel->baseUrl();
        QCOMPARE(send(base + "/models", {}, {}).status, 200);
        w.reset();  // the pane goes with the server running
        QCOMPARE(send(base + "/models", {}, {}).error, QNetworkReply::ConnectionRefusedError);
    }

    void refusesAnotherHostWithoutAKey() {
        auto w = openDemo();
        ServePanel* panel = panelOf(*w);
        child<QLineEdit>(*w, "serve-host")->setText(QStringLiteral("0.0.0.0"));
        child<QSpinBox>(*w, "serve-port")->setValue(0);
        child<QLineEdit>(*w, "serve-key")->clear();
        child<QLineEdit>(*w, "serve-key-file")->clear();
        QSignalSpy failed(panel, &ServePanel::failed);
        auto* toggle = child<QPushButton>(*w, "serve-toggle");
        toggle->click();
        QCOMPARE(failed.count(), 1);  // refused at once, before any socket
        QVERIFY(!toggle->isChecked() && !panel->isRunning());
        const QString st = child<QLabel>(*w, "serve-status")->text();
        QVERIFY2(st.contains("refusing to listen on 0.0.0.0 without an API key"), qPrintable(st));
        // A generated key lifts the refusal's reason (not started here: 0.0.0.0 is not for tests).
        child<QPushButton>(*w, "serve-key-generate")->click();
        const QString key = child<QLineEdit>(*w, "serve-key")->text();
        QVERIFY(key.startsWith("qcw-") && key.size() == 4 + 64);
        child<QPushButton>(*w, "serve-key-generate")->click();
        QVERIFY(child<QLineEdit>(*w, "serve-key")->text() != key);
    }

    void portInUseAndBadKeyFileAreShown() {
        auto w = openDemo();
        ServePanel* panel = panelOf(*w);
        QTcpServer holder;
        QVERIFY(holder.listen(QHostAddress::LocalHost, 0));
        child<QLineEdit>(*w, "serve-host")->setText(QStringLiteral("127.0.0.1"));
        child<QSpinBox>(*w, "serve-port")->setValue(holder.serverPort());
        child<QLineEdit>(*w, "serve-key")->clear();
        QSignalSpy failed(panel, &ServePanel::failed);
        auto* toggle = child<QPushButton>(*w, "serve-toggle");
        toggle->click();
        QTRY_COMPARE_WITH_TIMEOUT(failed.count(), 1, 30000);
        QTRY_VERIFY_WITH_TIMEOUT(!toggle->isChecked() && !panel->isRunning(), 10000);
        QString st = child<QLabel>(*w, "serve-status")->text();
        QVERIFY2(st.contains("cannot bind") && st.contains(QString::number(holder.serverPort())), qPrintable(st));

        child<QSpinBox>(*w, "serve-port")->setValue(0);
        child<QLineEdit>(*w, "serve-key-file")->setText(QStringLiteral("/nonexistent/qcw-key.txt"));
        toggle->click();
        QCOMPARE(failed.count(), 2);
        QVERIFY(!toggle->isChecked() && !panel->isRunning());
        st = child<QLabel>(*w, "serve-status")->text();
        QVERIFY2(st.contains("/nonexistent/qcw-key.txt: cannot read the API key file"), qPrintable(st));
    }

    void settingsAreRemembered() {
        QSettings s;
        {
            auto w = qcw::test::shownWindow();
            auto* chat = qobject_cast<ChatPane*>(w->pane(QStringLiteral("chat")));
            child<QLineEdit>(*w, "serve-host")->setText(QStringLiteral("::1"));
            child<QSpinBox>(*w, "serve-port")->setValue(9123);
            child<QSpinBox>(*w, "serve-parallel")->setValue(3);
            child<QLineEdit>(*w, "serve-key")->setText(QStringLiteral("typed-secret"));
            child<QLineEdit>(*w, "serve-key-file")->setText(QStringLiteral("/etc/qcw/key"));
            s.beginGroup("serve-test");
            chat->saveSettings(s);
            s.endGroup();
        }
        QVERIFY(!s.allKeys().join(' ').contains("typed-secret"));
        for (const QString& k : s.allKeys()) QVERIFY(s.value(k).toString() != QLatin1String("typed-secret"));
        auto w = qcw::test::shownWindow();
        auto* chat = qobject_cast<ChatPane*>(w->pane(QStringLiteral("chat")));
        s.beginGroup("serve-test");
        chat->restoreSettings(s);
        s.endGroup();
        QCOMPARE(child<QLineEdit>(*w, "serve-host")->text(), QStringLiteral("::1"));
        QCOMPARE(child<QSpinBox>(*w, "serve-port")->value(), 9123);
        QCOMPARE(child<QSpinBox>(*w, "serve-parallel")->value(), 3);
        QCOMPARE(child<QLineEdit>(*w, "serve-key-file")->text(), QStringLiteral("/etc/qcw/key"));
        QVERIFY(child<QLineEdit>(*w, "serve-key")->text().isEmpty());
    }

    void namesAreFolderNamesMadeUnique() {
        const auto n = ServePanel::servedNames({{"original", "/m/phi-1_5"},
                                                {"compressed", "/out/svd30/"},
                                                {"tuned", "/runs/a/model"},
                                                {"tuned", "/out/svd30"}});
        QCOMPARE(int(n.size()), 3);  // the same folder twice is served once
        QCOMPARE(n[0].first, QStringLiteral("phi-1_5"));
        QCOMPARE(n[1].first, QStringLiteral("svd30"));
        QCOMPARE(n[1].second, QStringLiteral("/out/svd30"));
        QCOMPARE(n[2].first, QStringLiteral("model"));
        const auto clash = ServePanel::servedNames({{"compressed", "/a/model"}, {"tuned", "/b/model"}});
        QCOMPARE(clash[0].first, QStringLiteral("model"));
        QCOMPARE(clash[1].first, QStringLiteral("model-tuned"));
    }
};

QTEST_MAIN(TestServePanel)
#include "test_serve_panel.moc"
