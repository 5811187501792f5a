// qcw: the desktop workbench. A thin main over qcw_ui.
//
//   qcw [MODEL_DIR]                       open the window (and the model)
//   qcw --screenshot FILE [--pane ID] [MODEL_DIR]
//                                         render the window offscreen with the model loaded,
//                                         write it as PNG, exit; with --pane compression it
//                                         first compresses the model (ranks by annealing) into a
//                                         temporary folder so the plot and the table show;
//                                         --compare-layer NAME then shows that layer's spectrum
//                                         before and after
//                                         --pane documents --documents PATH... [--documents-exclude GLOB]
//                                         [--documents-select REL] reads the documents first (and
//                                         previews one); --pane fine-tuning --tune-data DIR
//                                         [--tune-steps N] [--tune-lora-rank R] trains the model on
//                                         the dataset into a temporary folder first; --pane evaluation
//                                         [--report DIR] reads a report folder (default: the newest
//                                         under benchmarks/results); --pane chat --chat-serve switches
//                                         Serve on (127.0.0.1, any free port), asks it one chat
//                                         completion and grabs once the request is in its log
//   qcw --report-plots DIR                draw DIR/pareto.json offscreen: writes
//                                         DIR/quality_vs_params.png, DIR/quality_vs_decode.png and
//                                         DIR/targets.md (each atomically), exit
//   qcw --screenshot FILE [--model-select NAME] [MODEL_DIR]
//                                         the model pane with the spectrum of matrix NAME (default:
//                                         the first MLP fc1 weight), keep-rank line at 30 % of full rank
//   qcw --list-plugins                    one line per plugin found (id, name, version, file)
//   qcw --version | --help
#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/pane_chat.h"
#include "ui/pane_documents.h"
#include "ui/pane_evaluation.h"
#include "ui/pane_finetune.h"
#include "ui/pane_model.h"
#include "ui/plugins.h"
#include "ui/pane_compression.h"
#include "ui/pareto_report.h"
#include "ui/report_plots.h"
#include "ui/serve_panel.h"
#include "ui/theme.h"

#include <QApplication>
#include <QComboBox>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QLineEdit>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QNetworkRequest>
#include <QSpinBox>
#include <QTableWidget>
#include <QPlainTextEdit>
#include <QPixmap>
#include <QSaveFile>
#include <QSettings>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

namespace {

// Where the bundled demo model lives: the source tree in a build, the data dir when installed.
QString defaultModelDir() {
    const QString candidates[] = {
        QStringLiteral(QCW_SOURCE_DIR "/resources/models/demo-phi"),
        QStringLiteral(QCW_SOURCE_DIR "/tests/data/tiny-phi"),
        QStringLiteral(QCW_INSTALL_DATADIR "/models/demo-phi"),
        QStringLiteral(QCW_INSTALL_DATADIR "/models/tiny-phi"),
    };
    for (const QString& dir : candidates)
        if (QFileInfo::exists(dir + QStringLiteral("/config.json"))) return dir;
    return {};
}

// Where size/quality/speed reports live (the evaluation pane opens the newest by default).
QString defaultResultsDir() {
    const QString candidates[] = {
        QStringLiteral(QCW_SOURCE_DIR "/benchmarks/results"),
        QStringLiteral(QCW_INSTALL_DATADIR "/results"),
    };
    for (const QString& dir : candidates)
        if (!qcw::ui::newestReportDir(dir).isEmpty()) return dir;
    return {};
}

bool hasArg(int argc, char** argv, std::initializer_list<const char*> names) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) break;
        for (const char* n : names) {
            const std::size_t len = std::strlen(n);
            if (std::strncmp(argv[i], n, len) == 0 && (argv[i][len] == '\0' || argv[i][len] == '=')) return true;
        }
    }
    return false;
}

void printErr(const QString& text) {
    std::fprintf(stderr, "qcw: %s\n", qPrintable(text));
    std::fflush(stderr);
}

// Grabs the window into `path` as PNG, atomically. Returns false (with a message) on failure.
bool writeScreenshot(QWidget& window, const QString& path) {
    const QPixmap pixmap = window.grab();
    if (pixmap.isNull()) {
        printErr(QStringLiteral("could not render the window"));
        return false;
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        printErr(QStringLiteral("%1: %2").arg(path, file.errorString()));
        return false;
    }
    if (!pixmap.save(&file, "PNG")) {
        file.cancelWriting();
        printErr(QStringLiteral("%1: could not encode PNG").arg(path));
        return false;
    }
    if (!file.commit()) {
        printErr(QStringLiteral("%1: %2").arg(path, file.errorString()));
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    // Options that print and exit need no display; a screenshot renders offscreen unless the
    // caller chose a platform.
    const bool needsGui = !hasArg(argc, argv, {"--version", "-v", "--help", "-h", "--help-all", "--list-plugins"});
    const bool screenshot = hasArg(argc, argv, {"--screenshot"});
    const bool reportPlots = hasArg(argc, argv, {"--report-plots"});
    if ((screenshot || reportPlots) && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");

    QCoreApplication::setOrganizationName(QStringLiteral("qcw"));
    QCoreApplication::setApplicationName(QStringLiteral("qcw"));
    QCoreApplication::setApplicationVersion(QStringLiteral(QCW_VERSION));
    std::unique_ptr<QCoreApplication> app;
    if (needsGui) {
        app = std::make_unique<QApplication>(argc, argv);
        QGuiApplication::setApplicationDisplayName(QStringLiteral("qcw"));
        QGuiApplication::setDesktopFileName(QStringLiteral("qcw"));
    } else {
        app = std::make_unique<QCoreApplication>(argc, argv);
    }

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("qcw: a workbench for compressing Phi language models with tensor networks"));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption screenshotOpt(QStringLiteral("screenshot"),
                                           QStringLiteral("Render the window offscreen with the model loaded, "
                                                          "write it to <file> as PNG and exit."),
                                           QStringLiteral("file"));
    const QCommandLineOption paneOpt(QStringLiteral("pane"),
                                     QStringLiteral("Show pane <id> (model, compression, documents, fine-tuning, evaluation, chat)."),
                                     QStringLiteral("id"));
    const QCommandLineOption chatPromptOpt(
        QStringLiteral("chat-prompt"), QStringLiteral("With --screenshot --pane chat: ask <text> before grabbing."),
        QStringLiteral("text"));
    const QCommandLineOption chatCompressedOpt(
        QStringLiteral("chat-compressed"), QStringLiteral("With --pane chat: the compressed model to compare with."),
        QStringLiteral("dir"));
    const QCommandLineOption chatTunedOpt(
        QStringLiteral("chat-tuned"), QStringLiteral("With --pane chat: the compressed + fine-tuned model."),
        QStringLiteral("dir"));
    const QCommandLineOption chatServeOpt(
        QStringLiteral("chat-serve"),
        QStringLiteral("With --screenshot --pane chat: switch Serve on (127.0.0.1, any free port), send it one chat "
                       "completion, grab once it is logged."));
    const QCommandLineOption documentsOpt(
        QStringLiteral("documents"), QStringLiteral("Add <path> (a file or folder) to the documents pane; repeatable."),
        QStringLiteral("path"));
    const QCommandLineOption documentsExcludeOpt(
        QStringLiteral("documents-exclude"),
        QStringLiteral("Documents pane: skip files whose relative path or name matches <glob>; repeatable."),
        QStringLiteral("glob"));
    const QCommandLineOption documentsSelectOpt(
        QStringLiteral("documents-select"),
        QStringLiteral("With --screenshot --pane documents: preview the document <rel> (as listed) before grabbing."),
        QStringLiteral("rel"));
    const QCommandLineOption tuneDataOpt(QStringLiteral("tune-data"),
                                         QStringLiteral("Fine-tuning pane: the dataset folder. With --screenshot --pane "
                                                        "fine-tuning: train on it before grabbing."),
                                         QStringLiteral("dir"));
    const QCommandLineOption tuneStepsOpt(QStringLiteral("tune-steps"),
                                          QStringLiteral("Fine-tuning pane: optimizer steps."), QStringLiteral("n"));
    const QCommandLineOption tuneLoraOpt(QStringLiteral("tune-lora-rank"),
                                         QStringLiteral("Fine-tuning pane: LoRA rank (0: all weights)."), QStringLiteral("r"));
    const QCommandLineOption reportOpt(
        QStringLiteral("report"), QStringLiteral("Evaluation pane: the report folder to read (holding pareto.json)."),
        QStringLiteral("dir"));
    const QCommandLineOption reportPlotsOpt(
        QStringLiteral("report-plots"),
        QStringLiteral("Draw <dir>/pareto.json offscreen into <dir>/quality_vs_params.png, "
                       "<dir>/quality_vs_decode.png and <dir>/targets.md, then exit."),
        QStringLiteral("dir"));
    const QCommandLineOption themeOpt(QStringLiteral("theme"),
                                      QStringLiteral("Colour theme for this run: system, light or dark."),
                                      QStringLiteral("name"));
    const QCommandLineOption listPluginsOpt(QStringLiteral("list-plugins"),
                                            QStringLiteral("Print one line per plugin found and exit."));
    parser.addOptions({screenshotOpt, paneOpt, chatPromptOpt, chatCompressedOpt, chatTunedOpt, chatServeOpt, documentsOpt,
                       documentsExcludeOpt, documentsSelectOpt, tuneDataOpt, tuneStepsOpt, tuneLoraOpt, reportOpt,
                       reportPlotsOpt, themeOpt, listPluginsOpt});
    const QCommandLineOption modelSelectOpt(
        QStringLiteral("model-select"),
        QStringLiteral("With --screenshot (model pane): show the spectrum of matrix <name> (default: the first MLP "
                       "fc1 weight) before grabbing."),
        QStringLiteral("name"));
    parser.addOption(modelSelectOpt);
    const QCommandLineOption compareOpt(
        QStringLiteral("compare-layer"),
        QStringLiteral("With --screenshot --pane compression: after compressing, show layer <name>'s spectrum before "
                       "and after (e.g. model.layers.0.mlp.fc1) before grabbing."),
        QStringLiteral("name"));
    parser.addOption(compareOpt);
    parser.addPositionalArgument(QStringLiteral("model_dir"),
                                 QStringLiteral("Model snapshot folder to open (config.json + *.safetensors)."),
                                 QStringLiteral("[MODEL_DIR]"));
    parser.process(*app);  // --help and --version print and exit here

    if (parser.isSet(listPluginsOpt)) {
        // One line per plugin: id, name, version, file (tab-separated); broken ones on stderr.
        int broken = 0;
        for (const auto& p : qcw::ui::installedPlugins()) {
            if (!p.plugin) {
                printErr(p.error);
                ++broken;
                continue;
            }
            const QByteArray line = QStringLiteral("%1\t%2\t%3\t%4\n").arg(p.id, p.name, p.version, p.file).toUtf8();
            std::fwrite(line.constData(), 1, static_cast<std::size_t>(line.size()), stdout);
        }
        return broken ? 1 : 0;
    }
    if (parser.isSet(reportPlotsOpt)) {
        // Headless: read, draw at a fixed size, write beside pareto.json (which stays as it is).
        const QString dir = parser.value(reportPlotsOpt);
        qcw::ui::ParetoReport report;
        QString error;
        if (!qcw::ui::loadParetoReport(dir, report, error)) {
            printErr(error);
            return 1;
        }
        qcw::ui::applyTheme(qcw::ui::Theme::Light);
        QStringList written;
        if (!qcw::ui::writeReportOutputs(qcw::ui::renderReportOutputs(report), dir, error, &written)) {
            printErr(error);
            return 1;
        }
        for (const QString& path : written) std::printf("%s\n", qPrintable(QDir::toNativeSeparators(path)));
        return 0;
    }
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        printErr(QStringLiteral("expected at most one MODEL_DIR, got %1").arg(positional.size()));
        return 2;
    }
    auto intOption = [&](const QCommandLineOption& opt, int min, int& value) {
        if (!parser.isSet(opt)) return true;
        bool ok = false;
        const int v = parser.value(opt).toInt(&ok);
        if (!ok || v < min) {
            printErr(QStringLiteral("--%1 %2: expected an integer >= %3").arg(opt.names().first(), parser.value(opt)).arg(min));
            return false;
        }
        value = v;
        return true;
    };
    qcw::ui::FineTuneSettings tune;
    if (!intOption(tuneStepsOpt, 1, tune.steps) || !intOption(tuneLoraOpt, 0, tune.loraRank)) return 2;
    tune.evalEvery = std::max(1, tune.steps / 8);
    if (parser.isSet(tuneDataOpt)) tune.data = parser.value(tuneDataOpt);
    // The documents and dataset options fill their panes in both modes.
    auto fillPanes = [&](qcw::ui::MainWindow& window) {
        if (auto* ev = qobject_cast<qcw::ui::EvaluationPane*>(window.pane(QStringLiteral("evaluation")))) {
            ev->setResultsDir(defaultResultsDir());
            if (parser.isSet(reportOpt) && ev->reportDir().isEmpty()) ev->openReport(parser.value(reportOpt));
        }
        if (auto* docs = qobject_cast<qcw::ui::DocumentsPane*>(window.pane(QStringLiteral("documents")))) {
            if (parser.isSet(documentsExcludeOpt)) docs->setExcludePatterns(parser.values(documentsExcludeOpt));
            if (parser.isSet(documentsOpt)) docs->addPaths(parser.values(documentsOpt));
        }
        if (auto* ft = qobject_cast<qcw::ui::FineTunePane*>(window.pane(QStringLiteral("fine-tuning")))) {
            if (parser.isSet(tuneDataOpt) || parser.isSet(tuneStepsOpt) || parser.isSet(tuneLoraOpt)) {
                qcw::ui::FineTuneSettings s = ft->settings();
                if (parser.isSet(tuneDataOpt)) s.data = tune.data;
                if (parser.isSet(tuneStepsOpt)) {
                    s.steps = tune.steps;
                    s.evalEvery = tune.evalEvery;
                }
                if (parser.isSet(tuneLoraOpt)) s.loraRank = tune.loraRank;
                ft->setSettings(s);
            }
        }
    };
    qcw::ui::Theme theme = qcw::ui::themeFromString(QSettings().value(QStringLiteral("ui/theme")).toString());
    if (parser.isSet(themeOpt)) {
        const QString name = parser.value(themeOpt);
        theme = qcw::ui::themeFromString(name, theme);
        if (qcw::ui::themeToString(theme) != name.trimmed().toLower()) {
            printErr(QStringLiteral("unknown theme '%1' (system, light, dark)").arg(name));
            return 2;
        }
    }
    if (screenshot && !parser.isSet(themeOpt)) theme = qcw::ui::Theme::Light;  // reproducible images
    qcw::ui::applyTheme(theme);

    QString modelDir = positional.value(0);
    if (!screenshot) {
        qcw::ui::MainWindow window;
        if (parser.isSet(paneOpt) && !window.showPane(parser.value(paneOpt))) {
            printErr(QStringLiteral("unknown pane '%1' (%2)").arg(parser.value(paneOpt), window.paneIds().join(", ")));
            return 2;
        }
        if (auto* chat = qobject_cast<qcw::ui::ChatPane*>(window.pane(QStringLiteral("chat")))) {
            if (parser.isSet(chatCompressedOpt)) chat->setCompressedModel(parser.value(chatCompressedOpt));
            if (parser.isSet(chatTunedOpt)) chat->setTunedModel(parser.value(chatTunedOpt));
        }
        fillPanes(window);
        window.show();
        if (!modelDir.isEmpty()) window.openModel(modelDir);
        return app->exec();
    }

    // --screenshot: a fixed-size window, no saved state, errors on stderr.
    const QString outPath = parser.value(screenshotOpt);
    if (modelDir.isEmpty()) {
        modelDir = defaultModelDir();
        if (modelDir.isEmpty()) {
            printErr(QStringLiteral("no MODEL_DIR given and no demo model found"));
            return 2;
        }
    }
    qcw::ui::MainWindow::Options options;
    options.persistState = false;
    options.errorDialogs = false;
    qcw::ui::MainWindow window(options);
    if (parser.isSet(paneOpt) && !window.showPane(parser.value(paneOpt))) {
        printErr(QStringLiteral("unknown pane '%1' (%2)").arg(parser.value(paneOpt), window.paneIds().join(", ")));
        return 2;
    }
    auto* evaluation = window.currentPane() == QLatin1String("evaluation")
                           ? qobject_cast<qcw::ui::EvaluationPane*>(window.pane(QStringLiteral("evaluation")))
                           : nullptr;
    if (evaluation) {
        evaluation->setResultsDir(defaultResultsDir());
        const QString report = parser.isSet(reportOpt) ? parser.value(reportOpt) : evaluation->defaultReportDir();
        if (report.isEmpty()) {
            printErr(QStringLiteral("no --report given and no report (pareto.json) under benchmarks/results"));
            return 2;
        }
        evaluation->openReport(report);
    }
    window.resize(1280, 820);
    window.show();
    int rc = 1;
    auto grab = [&] {
        // Let the panes lay out the new model (or the results) before grabbing.
        QTimer::singleShot(50, &window, [&] {
            rc = writeScreenshot(window, outPath) ? 0 : 1;
            QCoreApplication::exit(rc);
        });
    };
    // The evaluation pane: grab once both the model and the report are read.
    bool modelReady = false, reportReady = false;
    if (evaluation) {
        QObject::connect(evaluation, &qcw::ui::EvaluationPane::reportLoaded, &window,
                         [&](bool ok, const QString& message) {
                             if (!ok) printErr(QStringLiteral("evaluation: %1").arg(message));  // shown in the pane too
                             reportReady = true;
                             if (modelReady) grab();
                         });
    }
    // The compression pane is empty until it has run: compress with searched ranks into a
    // throw-away folder first (about a second on tests/data/tiny-phi).
    QTemporaryDir scratch;
    auto* compression = window.currentPane() == QLatin1String("compression")
                            ? qobject_cast<qcw::ui::CompressionPane*>(window.pane(QStringLiteral("compression")))
                            : nullptr;
    if (compression) {
        QObject::connect(compression, &qcw::ui::CompressionPane::jobFinished, &window,
                         [&](bool ok, const QString& message) {
                             if (!ok) printErr(QStringLiteral("compression: %1").arg(message));
                             if (ok && parser.isSet(compareOpt)) {
                                 compression->compareSpectra(parser.value(compareOpt));
                                 return;  // grabbed when the comparison is shown
                             }
                             grab();  // errors show in the pane too
                         });
        QObject::connect(compression, &qcw::ui::CompressionPane::comparisonReady, &window,
                         [&](const QString& layer, bool ok) {
                             if (!ok) printErr(QStringLiteral("compare %1: %2").arg(layer, QStringLiteral("failed (see the pane)")));
                             grab();
                         });
    }
    auto* chat = window.currentPane() == QLatin1String("chat")
                     ? qobject_cast<qcw::ui::ChatPane*>(window.pane(QStringLiteral("chat")))
                     : nullptr;
    QNetworkAccessManager network;
    // --chat-serve: Serve on, one chat completion through it, grab once the log shows it.
    auto serveAndGrab = [&] {
        auto* panel = chat->servePanel();
        if (auto* port = panel->findChild<QSpinBox*>(QStringLiteral("serve-port"))) port->setValue(0);
        if (auto* host = panel->findChild<QLineEdit*>(QStringLiteral("serve-host"))) host->setText(QStringLiteral("127.0.0.1"));
        QObject::connect(panel, &qcw::ui::ServePanel::failed, &window, [&](const QString& why) {
            printErr(QStringLiteral("serve: %1").arg(why));  // shown in the pane too
            grab();
        });
        QObject::connect(panel, &qcw::ui::ServePanel::started, &window, [&, panel](const QString& base) {
            const QString model = QFileInfo(QDir::cleanPath(window.session()->directory())).fileName();
            QNetworkRequest req{QUrl(base + QStringLiteral("/chat/completions"))};
            req.setHeader(QNetworkRequest::ContentTypeHeader, QStringLiteral("application/json"));
            const QByteArray body = "{\"model\":\"" + model.toUtf8() +
                                    "\",\"messages\":[{\"role\":\"user\",\"content\":\"What does a FortiGate "
                                    "do?\"}],\"max_tokens\":16,\"temperature\":0}";
            QNetworkReply* reply = network.post(req, body);
            QObject::connect(reply, &QNetworkReply::finished, &window, [&, reply, panel] {
                reply->deleteLater();
                auto* log = panel->findChild<QTableWidget*>(QStringLiteral("serve-log"));
                auto* wait = new QTimer(&window);  // the pane's log takes the record at its next poll
                QObject::connect(wait, &QTimer::timeout, &window, [&, log, wait] {
                    if (log && log->rowCount() == 0) return;
                    wait->stop();
                    grab();
                });
                wait->start(50);
            });
        });
        panel->setServing(true);
    };
    if (chat) {
        chat->setCompressedModel(parser.value(chatCompressedOpt));
        chat->setTunedModel(parser.value(chatTunedOpt));
        QObject::connect(chat, &qcw::ui::ChatPane::exchangeFinished, &window, [&] {
            if (parser.isSet(chatServeOpt)) serveAndGrab();
            else grab();
        });
    }
    // The documents pane: read the documents (with the model's tokenizer), preview one, grab.
    auto* documents = window.currentPane() == QLatin1String("documents") && parser.isSet(documentsOpt)
                          ? qobject_cast<qcw::ui::DocumentsPane*>(window.pane(QStringLiteral("documents")))
                          : nullptr;
    if (documents) {
        QObject::connect(documents, &qcw::ui::DocumentsPane::readingFinished, &window,
                         [&](bool ok, const QString& message) {
                             if (!ok) printErr(QStringLiteral("documents: %1").arg(message));
                             if (ok && parser.isSet(documentsSelectOpt)) {
                                 if (documents->showDocument(parser.value(documentsSelectOpt))) return;  // previewReady grabs
                                 printErr(QStringLiteral("documents: no document '%1' in the list")
                                              .arg(parser.value(documentsSelectOpt)));
                             }
                             grab();
                         });
        QObject::connect(documents, &qcw::ui::DocumentsPane::previewReady, &window, [&] { grab(); });
    }
    // The fine-tuning pane: train on --tune-data into a throw-away folder, grab when it ends.
    auto* tuning = window.currentPane() == QLatin1String("fine-tuning") && parser.isSet(tuneDataOpt)
                       ? qobject_cast<qcw::ui::FineTunePane*>(window.pane(QStringLiteral("fine-tuning")))
                       : nullptr;
    if (tuning) {
        QObject::connect(tuning, &qcw::ui::FineTunePane::runFinished, &window,
                         [&](bool ok, bool, const QString& message) {
                             if (!ok) printErr(QStringLiteral("fine-tuning: %1").arg(message));
                             grab();  // errors show in the pane too
                         });
    }
    // The model pane: the spectrum of one matrix, grabbed once it is drawn.
    auto* modelPane = window.currentPane() == QLatin1String("model")
                          ? qobject_cast<qcw::ui::ModelPane*>(window.pane(QStringLiteral("model")))
                          : nullptr;
    if (modelPane) {
        QObject::connect(modelPane, &qcw::ui::ModelPane::spectrumReady, &window, [&] { grab(); });
        QObject::connect(modelPane, &qcw::ui::ModelPane::spectrumFailed, &window,
                         [&](const QString&, const QString& message) {
                             printErr(QStringLiteral("spectrum: %1").arg(message));
                             grab();  // the error shows in the pane too
                         });
    }
    QObject::connect(window.session(), &qcw::ui::ModelSession::modelLoaded, &window, [&] {
        if (modelPane) {
            const QString name = parser.isSet(modelSelectOpt) ? parser.value(modelSelectOpt) : modelPane->defaultMatrix();
            if (!name.isEmpty() && modelPane->selectMatrix(name)) return;  // spectrumReady grabs
            if (parser.isSet(modelSelectOpt)) {
                printErr(modelPane->spectrumError());
                QCoreApplication::exit(1);
                return;
            }
        }
        if (evaluation) {
            modelReady = true;
            if (reportReady) grab();
            return;
        }
        if (documents) {
            fillPanes(window);
            return;
        }
        if (tuning) {
            fillPanes(window);
            qcw::ui::FineTuneSettings s = tuning->settings();
            s.out = scratch.filePath(QStringLiteral("tuned"));
            tuning->setSettings(s);
            tuning->start();
            return;
        }
        if (chat && parser.isSet(chatPromptOpt)) {
            if (auto* prompt = chat->findChild<QPlainTextEdit*>(QStringLiteral("chat-prompt")))
                prompt->setPlainText(parser.value(chatPromptOpt));
            chat->send();
            return;
        }
        if (chat && parser.isSet(chatServeOpt)) {
            serveAndGrab();
            return;
        }
        if (!compression || !scratch.isValid()) {
            grab();
            return;
        }
        if (auto* solver = compression->findChild<QComboBox*>(QStringLiteral("solver-combo"))) {
            const int anneal = solver->findData(QStringLiteral("anneal"));
            if (anneal >= 0) solver->setCurrentIndex(anneal);
        }
        if (auto* out = compression->findChild<QLineEdit*>(QStringLiteral("output-dir")))
            out->setText(QDir::toNativeSeparators(scratch.filePath(QStringLiteral("compressed"))));
        compression->startCompression(false);
        if (!compression->isBusy()) grab();  // nothing started (e.g. an already compressed model)
    });
    QObject::connect(window.session(), &qcw::ui::ModelSession::loadFailed, &window,
                     [&](const QString&, const QString& message) {
                         printErr(message);  // one line from core, naming the file at fault
                         QCoreApplication::exit(1);
                     });
    // Training runs as long as the steps asked for; everything else is done in seconds.
    QTimer::singleShot(tuning ? 1800000 : 120000, &window, [] {
        printErr(QStringLiteral("timed out waiting for the model to load or the pane to finish"));
        QCoreApplication::exit(1);
    });
    window.openModel(modelDir);
    return app->exec();
}
