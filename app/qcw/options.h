#pragma once
// qcw's command line as one table: every option with its help, its value and what handles it.
// main() builds the parser from the table, runs the options that print and exit, checks the
// values, then opens the window (window.cpp). Options read by a pane are handled by that pane's
// scripts (ui/pane_scripts.cpp, registered with the pane in ui/panes.cpp).
#include <QString>
#include <QStringList>

#include <functional>
#include <optional>
#include <vector>

class QCommandLineParser;

namespace qcw::app {

struct Option {
    enum class Kind {
        Pane,    // read by a pane's scripts (`pane` names it) or by the window: no handler
        Check,   // `handler` checks the value: 0, or an exit status after a one-line error
        Exit,    // `handler` does the work and returns the exit status (no window opens)
    };
    const char* name;
    const char* valueName;  // nullptr: a switch
    const char* help;
    Kind kind = Kind::Pane;
    const char* pane = nullptr;  // Kind::Pane: the pane whose scripts read it; nullptr: the window
    std::function<int(const QCommandLineParser&)> handler;
    bool needsNoDisplay = false;  // Exit options that run without a display, before the others
    bool offscreen = false;       // renders offscreen unless the caller chose a platform
};

// In the order --help lists them.
const std::vector<Option>& options();

// Before any QCoreApplication exists (argv only): a display is needed unless an option that
// needs none (--help, --version, --list-plugins) is given; an offscreen option is given.
bool needsDisplay(int argc, char** argv);
bool wantsOffscreen(int argc, char** argv);

void addOptions(QCommandLineParser& parser);
// The Exit options given (those needing no display first): the first one's status, else none.
std::optional<int> runExitOptions(const QCommandLineParser& parser);
// The Check options given, in table order: the first failure's status, else 0.
int checkOptions(const QCommandLineParser& parser);
// Sets the colour theme: --theme, else the remembered one; a screenshot is light by default.
void applyThemeOption(const QCommandLineParser& parser, bool screenshot);

// "qcw: <text>" on stderr.
void printError(const QString& text);
// The bundled demo model (a screenshot's default), the folder of reports; empty when none.
QString defaultModelDir();
QString defaultResultsDir();

}  // namespace qcw::app
