// qcw: the desktop workbench. A thin main over qcw_ui: it wires the option table
// (app/qcw/options.cpp: every option, its help and its handler) to the window (window.cpp),
// whose panes come from the registry (ui/panes.cpp) with their command-line scripts
// (ui/pane_scripts.cpp).
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
#include "app/qcw/options.h"
#include "app/qcw/window.h"

#include <QApplication>
#include <QCommandLineParser>

#include <memory>

int main(int argc, char** argv) {
    // Options that print and exit need no display; a screenshot renders offscreen unless the
    // caller chose a platform.
    if (qcw::app::wantsOffscreen(argc, argv) && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QCoreApplication::setOrganizationName(QStringLiteral("qcw"));
    QCoreApplication::setApplicationName(QStringLiteral("qcw"));
    QCoreApplication::setApplicationVersion(QStringLiteral(QCW_VERSION));
    std::unique_ptr<QCoreApplication> app;
    if (qcw::app::needsDisplay(argc, argv)) {
        app = std::make_unique<QApplication>(argc, argv);
        QGuiApplication::setApplicationDisplayName(QStringLiteral("qcw"));
        QGuiApplication::setDesktopFileName(QStringLiteral("qcw"));
    } else {
        app = std::make_unique<QCoreApplication>(argc, argv);
    }

    QCommandLineParser parser;
    qcw::app::addOptions(parser);
    parser.process(*app);  // --help and --version print and exit here
    if (const auto status = qcw::app::runExitOptions(parser)) return *status;
    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        qcw::app::printError(QStringLiteral("expected at most one MODEL_DIR, got %1").arg(positional.size()));
        return 2;
    }
    if (const int status = qcw::app::checkOptions(parser)) return status;

    const bool screenshot = parser.isSet(QStringLiteral("screenshot"));
    qcw::app::applyThemeOption(parser, screenshot);
    return screenshot ? qcw::app::runScreenshot(*app, parser, positional.value(0))
                      : qcw::app::runWindow(*app, parser, positional.value(0));
}
