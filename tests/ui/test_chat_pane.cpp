// The chat pane, offscreen: one prompt answered by the open model and a compressed one side by
// side, text streamed piece by piece, each side's speed shown; a missing compressed model is
// said in its column; Stop ends a long generation; and, with the real engine, the tiny fixture
// with a tokenizer trained here answers on both sides.
#include "common/error.h"
#include "decompose/compress_api.h"
#include "tokenizer/tokenizer.h"
#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/pane_chat.h"

#include <QFile>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QTemporaryDir>
#include <QTextBrowser>
#include <QThread>
#include <QtTest>

#include <atomic>
#include <memory>

#include "ui_test_support.h"

using qcw::test::child;
using qcw::test::quietOptions;
using qcw::test::shownWindow;

using qcw::ui::ChatPane;
using qcw::ui::ChatReply;
using qcw::ui::MainWindow;


class TestChatPane : public QObject {
    Q_OBJECT

    std::unique_ptr<MainWindow> openModel(const QString& dir) {
        auto w = shownWindow();
        w->openModel(dir);
        [&] { QTRY_VERIFY_WITH_TIMEOUT(w->session()->hasModel() && !w->session()->isLoading(), 20000); }();
        w->showPane(QStringLiteral("chat"));
        return w;
    }
    static ChatPane* paneOf(const MainWindow& w) { return qobject_cast<ChatPane*>(w.pane(QStringLiteral("chat"))); }

    static void ask(MainWindow& w, const QString& text) {
        child<QPlainTextEdit>(w, "chat-prompt")->setPlainText(text);
        paneOf(w)->send();
    }

private slots:
    void initTestCase() { qcw::test::isolateSettings(QStringLiteral("test_chat_pane")); }
    void init() { QSettings().clear(); }
    void cleanupTestCase() { QSettings().clear(); }

    void streamsBothSidesInTurn() {
        auto w = openModel(qcw::test::tinyDir());
        ChatPane* pane = paneOf(*w);
        QVERIFY(pane);
        std::atomic<int> calls{0};
        QStringList order;
        pane->setGenerateFunction([&](const std::string& dir, const std::string& prompt, const qcw::ui::ChatOptions& o,
                                      qcw::RunContext& ctx) {
            ++calls;
            ctx.report("text", 1, 2, {}, "Hel");
            ctx.report("text", 2, 2, {}, "lo from " + dir.substr(dir.rfind('/') + 1));
            ChatReply r;
            r.text = "Hello from " + dir.substr(dir.rfind('/') + 1) + " about " + prompt;
            r.newTokens = 2;
            r.decodeTokensPerSecond = o.dialogue ? 12.5 : 1.0;
            r.firstTokenSeconds = 0.25;
            r.params = 1000;
            return r;
        });
        pane->setCompressedModel(QStringLiteral("/tmp/some/compressed-model"));
        QSignalSpy finished(pane, &ChatPane::exchangeFinished);
        ask(*w, QStringLiteral("the hub"));
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 10000);
        QCOMPARE(calls.load(), 2);
        const QString left = child<QTextBrowser>(*w, "chat-original")->toPlainText();
        const QString right = child<QTextBrowser>(*w, "chat-compressed")->toPlainText();
        QVERIFY2(left.contains("You: the hub") && left.contains("Model: Hello from tiny-phi about the hub"), qPrintable(left));
        QVERIFY2(right.contains("Model: Hello from compressed-model about the hub"), qPrintable(right));
        QVERIFY(!left.contains("Hello from tiny-philo"));  // the streamed pieces were replaced by the final text
        QVERIFY(child<QLabel>(*w, "chat-original-status")->text().contains("12.5 tok/s"));
        QVERIFY(child<QLabel>(*w, "chat-compressed-status")->text().contains("first token 0.25 s"));
        QVERIFY(!pane->isBusy());
        QVERIFY(child<QPlainTextEdit>(*w, "chat-prompt")->toPlainText().isEmpty());

        // Without a compressed model the right column says so and only one side runs.
        pane->setCompressedModel(QString());
        ask(*w, QStringLiteral("again"));
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 10000);
        QCOMPARE(calls.load(), 3);
        QVERIFY(child<QTextBrowser>(*w, "chat-compressed")->toPlainText().contains("choose a compressed model"));

        // A failing side shows its one-line reason and the other side still answers.
        pane->setCompressedModel(QStringLiteral("/tmp/some/compressed-model"));
        pane->setGenerateFunction([](const std::string& dir, const std::string&, const qcw::ui::ChatOptions&,
                                     qcw::RunContext&) -> ChatReply {
            if (dir.find("compressed") != std::string::npos) throw qcw::Error(dir + ": has no tokenizer (tokenizer.json)");
            ChatReply r;
            r.text = "fine";
            return r;
        });
        ask(*w, QStringLiteral("third"));
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 3, 10000);
        QVERIFY(child<QTextBrowser>(*w, "chat-compressed")->toPlainText().contains("(failed: /tmp/some/compressed-model: has no tokenizer"));
        QVERIFY(child<QTextBrowser>(*w, "chat-original")->toPlainText().contains("Model: fine"));
    }

    void stopEndsALongGeneration() {
        auto w = openModel(qcw::test::tinyDir());
        ChatPane* pane = paneOf(*w);
        auto stopped = std::make_shared<std::atomic<bool>>(false);
        pane->setGenerateFunction([stopped](const std::string&, const std::string&, const qcw::ui::ChatOptions&,
                                            qcw::RunContext& ctx) -> ChatReply {
            for (int i = 0;; ++i) {
                if (ctx.isCancelled()) {
                    stopped->store(true);
                    throw qcw::Cancelled();
                }
                ctx.report("text", i, 0, {}, "tok ");
                QThread::msleep(5);
            }
        });
        QSignalSpy finished(pane, &ChatPane::exchangeFinished);
        ask(*w, QStringLiteral("talk forever"));
        QTRY_VERIFY(child<QTextBrowser>(*w, "chat-original")->toPlainText().contains("tok tok tok"));
        QVERIFY(pane->isBusy());
        QVERIFY(child<QPushButton>(*w, "chat-stop")->isEnabled());
        pane->stop();
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 2000);
        QVERIFY(stopped->load());
        QVERIFY(!pane->isBusy());
        QVERIFY(child<QTextBrowser>(*w, "chat-original")->toPlainText().contains("[stopped]"));
        QCOMPARE(child<QLabel>(*w, "chat-original-status")->text(), QStringLiteral("Stopped"));
    }

    void realEngineAnswersOnBothSides() {
        // The tiny fixture plus a byte-level BPE trained here to its 320 ids, and a 70% SVD of it.
        QTemporaryDir tmp;
        const QString model = tmp.filePath("model");
        QDir().mkpath(model);
        for (const char* f : {"config.json", "model.safetensors"})
            QVERIFY(QFile::copy(qcw::test::tinyDir() + "/" + f, model + "/" + f));
        std::string corpus;
        for (int i = 0; i < 40; ++i) corpus += "The hub FortiGate pair fails over in under a minute. ";
        qcw::BpeTrainerOptions to;
        to.vocabSize = 300;
        qcw::trainBpe({corpus}, to).tokenizer->saveTokenizerJson((model + "/tokenizer.json").toStdString());
        qcw::CompressOptions co;
        co.keepFraction = 0.7;
        const QString compressed = tmp.filePath("svd70");
        qcw::compressModelDir(model.toStdString(), compressed.toStdString(), co);
        QVERIFY(QFile::exists(compressed + "/tokenizer.json"));

        QSettings s;
        s.beginGroup("chat-test");
        s.setValue("maxNewTokens", 5);
        s.setValue("dialogue", false);
        auto w = openModel(model);
        ChatPane* pane = paneOf(*w);
        pane->restoreSettings(s);
        pane->setCompressedModel(compressed);
        QSignalSpy finished(pane, &ChatPane::exchangeFinished);
        ask(*w, QStringLiteral("The hub"));
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 1, 60000);
        for (const char* side : {"chat-original-status", "chat-compressed-status"}) {
            const QString st = child<QLabel>(*w, side)->text();
            QVERIFY2(st.startsWith("5 tokens") && st.contains("tok/s") && st.contains("loaded in"), qPrintable(st));
        }
        // fp32 weights: the dense fixture's 190,976 parameters are 746.0 KiB.
        QVERIFY2(child<QLabel>(*w, "chat-original-status")->text().contains("weights 746.0 KiB"),
                 qPrintable(child<QLabel>(*w, "chat-original-status")->text()));
        QVERIFY(child<QTextBrowser>(*w, "chat-tuned")->toPlainText().contains("choose a fine-tuned model"));
        QVERIFY(child<QLabel>(*w, "chat-compressed-status")->text().contains(" K parameters"));
        // A second question reuses the loaded engines.
        ask(*w, QStringLiteral("fails over"));
        QTRY_COMPARE_WITH_TIMEOUT(finished.count(), 2, 60000);
        QVERIFY(!child<QLabel>(*w, "chat-original-status")->text().contains("loaded in"));
    }
};

QTEST_MAIN(TestChatPane)
#include "test_chat_pane.moc"
