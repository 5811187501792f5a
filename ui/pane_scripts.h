#pragma once
// What qcw's command line does with each pane; ui/panes.cpp gives every registered pane its
// scripts, so app/qcw/main.cpp knows no pane class.
//   configure   applies the pane's own options (--documents, --tune-steps, --report, ...)
//               when the window opens;
//   screenshot  prepares `qcw --screenshot FILE --pane ID` with this pane shown: before the
//               window shows it connects what the picture waits for (a compression, a
//               spectrum, an answer, ...) to ScreenshotRun::grab, and it says what to do once
//               the model is loaded.
// A pane without scripts takes no options; its screenshot is grabbed once the model is loaded.
#include <QString>

#include <functional>

class QCommandLineParser;

namespace qcw::ui {

class MainWindow;
class Pane;

// The command line, read by the scripts (the options themselves are declared in app/qcw).
struct PaneStartup {
    const QCommandLineParser& args;
    QString resultsDir;  // where size/quality/speed reports live (the evaluation pane's default)
};

// One `qcw --screenshot` run, for the shown pane's script.
struct ScreenshotRun {
    const PaneStartup& startup;
    MainWindow& window;
    QString scratch;                             // a throw-away folder for this run; empty if none
    std::function<void()> grab;                  // the pane is ready: write the picture and exit
    std::function<void(const QString&)> report;  // one line on stderr ("qcw: ...")
    std::function<void(int)> exit;               // exit with this status, no picture
    std::function<void()> configurePanes;        // every pane's `configure`
    int timeoutMs = 120000;                      // a script may allow more (training)
};

struct ScreenshotPlan {
    int status = 0;                      // nonzero: exit with it at once (a one-line error was reported)
    std::function<void()> modelLoaded;   // empty: grab once the model is loaded
};

struct PaneScripts {
    std::function<void(Pane*, const PaneStartup&)> configure;
    std::function<ScreenshotPlan(Pane*, ScreenshotRun&)> screenshot;
};

PaneScripts modelPaneScripts();
PaneScripts compressionPaneScripts();
PaneScripts documentsPaneScripts();
PaneScripts fineTuningPaneScripts();
PaneScripts evaluationPaneScripts();
PaneScripts chatPaneScripts();

}  // namespace qcw::ui
