#pragma once
// qcw's two ways to open the workbench: the window (until it is closed) and `--screenshot FILE`
// (a fixed-size window rendered offscreen: the shown pane's script prepares it, see
// ui/pane_scripts.h, then the window is written as PNG and qcw exits).
#include <QString>

class QCommandLineParser;
class QCoreApplication;

namespace qcw::app {

int runWindow(QCoreApplication& app, const QCommandLineParser& parser, const QString& modelDir);
int runScreenshot(QCoreApplication& app, const QCommandLineParser& parser, QString modelDir);

}  // namespace qcw::app
