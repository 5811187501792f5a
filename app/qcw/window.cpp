#include "app/qcw/window.h"

#include "app/qcw/options.h"

#include "ui/main_window.h"
#include "ui/model_session.h"
#include "ui/panes.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QPixmap>
#include <QSaveFile>
#include <QTemporaryDir>
#include <QTimer>

namespace qcw::app {

namespace {

// Every pane's `configure` script.
void configurePanes(qcw::ui::MainWindow& window, const qcw::ui::PaneStartup& startup) {
    for (const auto& info : qcw::ui::registeredPanes())
        if (info.scripts.configure) info.scripts.configure(window.pane(QString::fromLatin1(info.id)), startup);
}

// --pane ID: false (after a one-line error) for an unknown id.
bool showPaneOption(qcw::ui::MainWindow& window, const QCommandLineParser& parser) {
    if (!parser.isSet(QStringLiteral("pane")) || window.showPane(parser.value(QStringLiteral("pane")))) return true;
    printError(QStringLiteral("unknown pane '%1' (%2)").arg(parser.value(QStringLiteral("pane")), window.paneIds().join(", ")));
    return false;
}

// Grabs the window into `path` as PNG, atomically. Returns false (with a message) on failure.
bool writeScreenshot(QWidget& window, const QString& path) {
    const QPixmap pixmap = window.grab();
    if (pixmap.isNull()) {
        printError(QStringLiteral("could not render the window"));
        return false;
    }
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        printError(QStringLiteral("%1: %2").arg(path, file.errorString()));
        return false;
    }
    if (!pixmap.save(&file, "PNG")) {
        file.cancelWriting();
        printError(QStringLiteral("%1: could not encode PNG").arg(path));
        return false;
    }
    if (!file.commit()) {
        printError(QStringLiteral("%1: %2").arg(path, file.errorString()));
        return false;
    }
    return true;
}

}  // namespace

int runWindow(QCoreApplication& app, const QCommandLineParser& parser, const QString& modelDir) {
    qcw::ui::MainWindow window;
    if (!showPaneOption(window, parser)) return 2;
    const qcw::ui::PaneStartup startup{parser, defaultResultsDir()};
    configurePanes(window, startup);
    window.show();
    if (!modelDir.isEmpty()) window.openModel(modelDir);
    return app.exec();
}

int runScreenshot(QCoreApplication& app, const QCommandLineParser& parser, QString modelDir) {
    // A fixed-size window, no saved state, errors on stderr.
    const QString outPath = parser.value(QStringLiteral("screenshot"));
    if (modelDir.isEmpty()) {
        modelDir = defaultModelDir();
        if (modelDir.isEmpty()) {
            printError(QStringLiteral("no MODEL_DIR given and no demo model found"));
            return 2;
        }
    }
    qcw::ui::MainWindow::Options options;
    options.persistState = false;
    options.errorDialogs = false;
    qcw::ui::MainWindow window(options);
    if (!showPaneOption(window, parser)) return 2;

    const qcw::ui::PaneStartup startup{parser, defaultResultsDir()};
    QTemporaryDir scratch;  // what the pane writes (a compressed or trained model) goes here
    auto grab = [&window, &outPath] {
        // Let the panes lay out the new model (or the results) before grabbing.
        QTimer::singleShot(50, &window, [&window, &outPath] {
            QCoreApplication::exit(writeScreenshot(window, outPath) ? 0 : 1);
        });
    };
    qcw::ui::ScreenshotRun run{startup,
                               window,
                               scratch.isValid() ? scratch.path() : QString(),
                               grab,
                               printError,
                               [](int status) { QCoreApplication::exit(status); },
                               [&window, &startup] { configurePanes(window, startup); },
                               120000};  // a script may allow more (training)
    qcw::ui::ScreenshotPlan plan;
    for (const auto& info : qcw::ui::registeredPanes())
        if (window.currentPane() == QLatin1String(info.id) && info.scripts.screenshot)
            plan = info.scripts.screenshot(window.pane(QString::fromLatin1(info.id)), run);
    if (plan.status) return plan.status;

    window.resize(1280, 820);
    window.show();
    QObject::connect(window.session(), &qcw::ui::ModelSession::modelLoaded, &window, [&run, &plan] {
        if (plan.modelLoaded) plan.modelLoaded();
        else run.grab();
    });
    QObject::connect(window.session(), &qcw::ui::ModelSession::loadFailed, &window,
                     [](const QString&, const QString& message) {
                         printError(message);  // one line from core, naming the file at fault
                         QCoreApplication::exit(1);
                     });
    QTimer::singleShot(run.timeoutMs, &window, [] {
        printError(QStringLiteral("timed out waiting for the model to load or the pane to finish"));
        QCoreApplication::exit(1);
    });
    window.openModel(modelDir);
    return app.exec();
}

}  // namespace qcw::app
