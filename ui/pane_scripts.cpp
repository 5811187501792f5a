#include "ui/pane_scripts.h"

#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/pane_chat.h"
#include "ui/pane_compression.h"
#include "ui/pane_documents.h"
#include "ui/pane_evaluation.h"
#include "ui/pane_finetune.h"
#include "ui/pane_model.h"
#include "ui/serve_panel.h"

#include <QComboBox>
#include <QCommandLineParser>
#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QLineEdit>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QTableWidget>
#include <QTimer>

#include <algorithm>
#include <memory>

namespace qcw::ui {

// ---- model: the spectrum of one matrix (--model-select NAME, default the first MLP fc1),
// grabbed once it is drawn.
PaneScripts modelPaneScripts() {
    PaneScripts s;
    s.screenshot = [](Pane* pane, ScreenshotRun& run) {
        auto* model = qobject_cast<ModelPane*>(pane);
        ScreenshotPlan plan;
        if (!model) return plan;
        QObject::connect(model, &ModelPane::spectrumReady, &run.window, [&run] { run.grab(); });
        QObject::connect(model, &ModelPane::spectrumFailed, &run.window, [&run](const QString&, const QString& message) {
            run.report(QStringLiteral("spectrum: %1").arg(message));
            run.grab();  // the error shows in the pane too
        });
        plan.modelLoaded = [model, &run] {
            const QCommandLineParser& args = run.startup.args;
            const bool named = args.isSet(QStringLiteral("model-select"));
            const QString name = named ? args.value(QStringLiteral("model-select")) : model->defaultMatrix();
            if (!name.isEmpty() && model->selectMatrix(name)) return;  // spectrumReady grabs
            if (named) {
                run.report(model->spectrumError());
                run.exit(1);
                return;
            }
            run.grab();
        };
        return plan;
    };
    return s;
}

// ---- compression: compress with searched ranks (annealing) into the scratch folder so the
// plot and the table show; --compare-layer NAME then shows that layer's spectra.
PaneScripts compressionPaneScripts() {
    PaneScripts s;
    s.screenshot = [](Pane* pane, ScreenshotRun& run) {
        auto* compression = qobject_cast<CompressionPane*>(pane);
        ScreenshotPlan plan;
        if (!compression) return plan;
        QObject::connect(compression, &CompressionPane::jobFinished, &run.window,
                         [compression, &run](bool ok, const QString& message) {
                             if (!ok) run.report(QStringLiteral("compression: %1").arg(message));
                             const QCommandLineParser& args = run.startup.args;
                             if (ok && args.isSet(QStringLiteral("compare-layer"))) {
                                 compression->compareSpectra(args.value(QStringLiteral("compare-layer")));
                                 return;  // grabbed when the comparison is shown
                             }
                             run.grab();  // errors show in the pane too
                         });
        QObject::connect(compression, &CompressionPane::comparisonReady, &run.window, [&run](const QString& layer, bool ok) {
            if (!ok) run.report(QStringLiteral("compare %1: %2").arg(layer, QStringLiteral("failed (see the pane)")));
            run.grab();
        });
        plan.modelLoaded = [compression, &run] {
            if (run.scratch.isEmpty()) {
                run.grab();
                return;
            }
            if (auto* solver = compression->findChild<QComboBox*>(QStringLiteral("solver-combo"))) {
                const int anneal = solver->findData(QStringLiteral("anneal"));
                if (anneal >= 0) solver->setCurrentIndex(anneal);
            }
            if (auto* out = compression->findChild<QLineEdit*>(QStringLiteral("output-dir")))
                out->setText(QDir::toNativeSeparators(QDir(run.scratch).filePath(QStringLiteral("compressed"))));
            compression->startCompression(false);
            if (!compression->isBusy()) run.grab();  // nothing started (e.g. an already compressed model)
        };
        return plan;
    };
    return s;
}

// ---- documents: --documents PATH... (--documents-exclude GLOB) fill the pane; a screenshot
// reads them with the model's tokenizer, previews --documents-select REL, grabs.
PaneScripts documentsPaneScripts() {
    PaneScripts s;
    s.configure = [](Pane* pane, const PaneStartup& startup) {
        auto* docs = qobject_cast<DocumentsPane*>(pane);
        if (!docs) return;
        const QCommandLineParser& args = startup.args;
        if (args.isSet(QStringLiteral("documents-exclude")))
            docs->setExcludePatterns(args.values(QStringLiteral("documents-exclude")));
        if (args.isSet(QStringLiteral("documents"))) docs->addPaths(args.values(QStringLiteral("documents")));
    };
    s.screenshot = [](Pane* pane, ScreenshotRun& run) {
        auto* documents = qobject_cast<DocumentsPane*>(pane);
        ScreenshotPlan plan;
        if (!documents || !run.startup.args.isSet(QStringLiteral("documents"))) return plan;
        QObject::connect(documents, &DocumentsPane::readingFinished, &run.window,
                         [documents, &run](bool ok, const QString& message) {
                             if (!ok) run.report(QStringLiteral("documents: %1").arg(message));
                             const QCommandLineParser& args = run.startup.args;
                             if (ok && args.isSet(QStringLiteral("documents-select"))) {
                                 const QString rel = args.value(QStringLiteral("documents-select"));
                                 if (documents->showDocument(rel)) return;  // previewReady grabs
                                 run.report(QStringLiteral("documents: no document '%1' in the list").arg(rel));
                             }
                             run.grab();
                         });
        QObject::connect(documents, &DocumentsPane::previewReady, &run.window, [&run] { run.grab(); });
        plan.modelLoaded = [&run] { run.configurePanes(); };
        return plan;
    };
    return s;
}

// ---- fine-tuning: --tune-data DIR, --tune-steps N, --tune-lora-rank R fill the pane; a
// screenshot with --tune-data trains into the scratch folder and grabs when the run ends.
PaneScripts fineTuningPaneScripts() {
    PaneScripts s;
    s.configure = [](Pane* pane, const PaneStartup& startup) {
        auto* ft = qobject_cast<FineTunePane*>(pane);
        const QCommandLineParser& args = startup.args;
        const bool data = args.isSet(QStringLiteral("tune-data")), steps = args.isSet(QStringLiteral("tune-steps")),
                   lora = args.isSet(QStringLiteral("tune-lora-rank"));
        if (!ft || !(data || steps || lora)) return;
        FineTuneSettings st = ft->settings();
        if (data) st.data = args.value(QStringLiteral("tune-data"));
        if (steps) {  // checked by the option table: an integer >= 1
            st.steps = args.value(QStringLiteral("tune-steps")).toInt();
            st.evalEvery = std::max(1, st.steps / 8);
        }
        if (lora) st.loraRank = args.value(QStringLiteral("tune-lora-rank")).toInt();
        ft->setSettings(st);
    };
    s.screenshot = [](Pane* pane, ScreenshotRun& run) {
        auto* tuning = qobject_cast<FineTunePane*>(pane);
        ScreenshotPlan plan;
        if (!tuning || !run.startup.args.isSet(QStringLiteral("tune-data"))) return plan;
        run.timeoutMs = 1800000;  // training runs as long as the steps asked for
        QObject::connect(tuning, &FineTunePane::runFinished, &run.window, [&run](bool ok, bool, const QString& message) {
            if (!ok) run.report(QStringLiteral("fine-tuning: %1").arg(message));
            run.grab();  // errors show in the pane too
        });
        plan.modelLoaded = [tuning, &run] {
            run.configurePanes();
            FineTuneSettings st = tuning->settings();
            st.out = QDir(run.scratch).filePath(QStringLiteral("tuned"));
            tuning->setSettings(st);
            tuning->start();
        };
        return plan;
    };
    return s;
}

// ---- evaluation: --report DIR (default: the newest report under the results folder).
PaneScripts evaluationPaneScripts() {
    PaneScripts s;
    s.configure = [](Pane* pane, const PaneStartup& startup) {
        auto* ev = qobject_cast<EvaluationPane*>(pane);
        if (!ev) return;
        ev->setResultsDir(startup.resultsDir);
        if (startup.args.isSet(QStringLiteral("report")) && ev->reportDir().isEmpty())
            ev->openReport(startup.args.value(QStringLiteral("report")));
    };
    s.screenshot = [](Pane* pane, ScreenshotRun& run) {
        auto* evaluation = qobject_cast<EvaluationPane*>(pane);
        ScreenshotPlan plan;
        if (!evaluation) return plan;
        evaluation->setResultsDir(run.startup.resultsDir);
        const QCommandLineParser& args = run.startup.args;
        const QString report = args.isSet(QStringLiteral("report")) ? args.value(QStringLiteral("report"))
                                                                    : evaluation->defaultReportDir();
        if (report.isEmpty()) {
            run.report(QStringLiteral("no --report given and no report (pareto.json) under benchmarks/results"));
            plan.status = 2;
            return plan;
        }
        evaluation->openReport(report);
        // Grabbed once both the model and the report are read.
        struct Ready {
            bool model = false, report = false;
        };
        auto ready = std::make_shared<Ready>();
        QObject::connect(evaluation, &EvaluationPane::reportLoaded, &run.window, [ready, &run](bool ok, const QString& message) {
            if (!ok) run.report(QStringLiteral("evaluation: %1").arg(message));  // shown in the pane too
            ready->report = true;
            if (ready->model) run.grab();
        });
        plan.modelLoaded = [ready, &run] {
            ready->model = true;
            if (ready->report) run.grab();
        };
        return plan;
    };
    return s;
}

// ---- chat: --chat-compressed DIR, --chat-tuned DIR; a screenshot asks --chat-prompt TEXT, or
// with --chat-serve switches Serve on (127.0.0.1, any free port), sends it one chat completion
// and grabs once the request is in its log.
namespace {
void serveAndGrab(ChatPane* chat, ScreenshotRun& run) {
    auto* panel = chat->servePanel();
    if (auto* port = panel->findChild<QSpinBox*>(QStringLiteral("serve-port"))) port->setValue(0);
    if (auto* host = panel->findChild<QLineEdit*>(QStringLiteral("serve-host"))) host->setText(QStringLiteral("127.0.0.1"));
    QObject::connect(panel, &ServePanel::failed, &run.window, [&run](const QString& why) {
        run.report(QStringLiteral("serve: %1").arg(why));  // shown in the pane too
        run.grab();
    });
    auto* network = new QNetworkAccessManager(&run.window);
    QObject::connect(panel, &ServePanel::started, &run.window, [&run, panel, network](const QString& base) {
        const QString model = QFileInfo(QDir::cleanPath(run.window.session()->directory())).fileName();
        QNetworkRequest req{QUrl(base + QStringLiteral("/chat/completions"))};
        req.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
        const QByteArray body = "{\"model\":\"" + model.toUtf8() +
                                "\",\"messages\":[{\"role\":\"user\",\"content\":\"What does a FortiGate "
                                "do?\"}],\"max_tokens\":16,\"temperature\":0}";
        QNetworkReply* reply = network->post(req, body);
        QObject::connect(reply, &QNetworkReply::finished, &run.window, [&run, reply, panel] {
            reply->deleteLater();
            auto* log = panel->findChild<QTableWidget*>(QStringLiteral("serve-log"));
            auto* wait = new QTimer(&run.window);  // the pane's log takes the record at its next poll
            QObject::connect(wait, &QTimer::timeout, &run.window, [&run, log, wait] {
                if (log && log->rowCount() == 0) return;
                wait->stop();
                run.grab();
            });
            wait->start(50);
        });
    });
    panel->setServing(true);
}
}  // namespace

PaneScripts chatPaneScripts() {
    PaneScripts s;
    s.configure = [](Pane* pane, const PaneStartup& startup) {
        auto* chat = qobject_cast<ChatPane*>(pane);
        if (!chat) return;
        if (startup.args.isSet(QStringLiteral("chat-compressed")))
            chat->setCompressedModel(startup.args.value(QStringLiteral("chat-compressed")));
        if (startup.args.isSet(QStringLiteral("chat-tuned")))
            chat->setTunedModel(startup.args.value(QStringLiteral("chat-tuned")));
    };
    s.screenshot = [](Pane* pane, ScreenshotRun& run) {
        auto* chat = qobject_cast<ChatPane*>(pane);
        ScreenshotPlan plan;
        if (!chat) return plan;
        const QCommandLineParser& args = run.startup.args;
        chat->setCompressedModel(args.value(QStringLiteral("chat-compressed")));
        chat->setTunedModel(args.value(QStringLiteral("chat-tuned")));
        QObject::connect(chat, &ChatPane::exchangeFinished, &run.window, [chat, &run] {
            if (run.startup.args.isSet(QStringLiteral("chat-serve"))) serveAndGrab(chat, run);
            else run.grab();
        });
        plan.modelLoaded = [chat, &run] {
            const QCommandLineParser& args = run.startup.args;
            if (args.isSet(QStringLiteral("chat-prompt"))) {
                if (auto* prompt = chat->findChild<QPlainTextEdit*>(QStringLiteral("chat-prompt")))
                    prompt->setPlainText(args.value(QStringLiteral("chat-prompt")));
                chat->send();
                return;
            }
            if (args.isSet(QStringLiteral("chat-serve"))) {
                serveAndGrab(chat, run);
                return;
            }
            run.grab();
        };
        return plan;
    };
    return s;
}

}  // namespace qcw::ui
