// qcw: the desktop workbench. A thin main over qcw_ui.
//
//   qcw [MODEL_DIR]                       open the window (and the model)
//   qcw --screenshot FILE [--pane ID] [MODEL_DIR]
//                                         render the window offscreen with the model loaded,
//                                         write it as PNG, exit; with --pane compression it
//                                         first compresses the model (ranks by annealing) into a
//                                         temporary folder so the plot and the table show
//   qcw --list-plugins                    one line per plugin (none exist yet)
//   qcw --version | --help
#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/pane_chat.h"
#include "ui/plugins.h"
#include "ui/pane_compression.h"
#include "ui/theme.h"

#include <QApplication>
#include <QComboBox>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPixmap>
#include <QSaveFile>
#include <QSettings>
#include <QTemporaryDir>
#include <QTimer>

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
    if (screenshot && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");

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
    const QCommandLineOption paneOpt(QStringLiteral("pane"), QStringLiteral("Show pane <id> (model, compression, chat)."),
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
    const QCommandLineOption themeOpt(QStringLiteral("theme"),
                                      QStringLiteral("Colour theme for this run: system, light or dark."),
                                      QStringLiteral("name"));
    const QCommandLineOption listPluginsOpt(QStringLiteral("list-plugins"),
                                            QStringLiteral("Print one line per plugin found and exit."));
    parser.addOptions({screenshotOpt, paneOpt, chatPromptOpt, chatCompressedOpt, chatTunedOpt, themeOpt, listPluginsOpt});
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
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        printErr(QStringLiteral("expected at most one MODEL_DIR, got %1").arg(positional.size()));
        return 2;
    }
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
                             grab();  // errors show in the pane too
                         });
    }
    auto* chat = window.currentPane() == QLatin1String("chat")
                     ? qobject_cast<qcw::ui::ChatPane*>(window.pane(QStringLiteral("chat")))
                     : nullptr;
    if (chat) {
        chat->setCompressedModel(parser.value(chatCompressedOpt));
        chat->setTunedModel(parser.value(chatTunedOpt));
        QObject::connect(chat, &qcw::ui::ChatPane::exchangeFinished, &window, [&] { grab(); });
    }
    QObject::connect(window.session(), &qcw::ui::ModelSession::modelLoaded, &window, [&] {
        if (chat && parser.isSet(chatPromptOpt)) {
            if (auto* prompt = chat->findChild<QPlainTextEdit*>(QStringLiteral("chat-prompt")))
                prompt->setPlainText(parser.value(chatPromptOpt));
            chat->send();
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
    QTimer::singleShot(120000, &window, [] {
        printErr(QStringLiteral("timed out waiting for the model to load"));
        QCoreApplication::exit(1);
    });
    window.openModel(modelDir);
    return app->exec();
}
