#pragma once
// Set-up shared by the workbench's GUI tests.
#include <QCoreApplication>
#include <QFileInfo>
#include <QStandardPaths>
#include <QString>
#include <QWidget>

#include "ui/main_window.h"

namespace qcw::test {

// The 3-layer Phi fixture, as a canonical path (the window shows canonical paths).
inline QString tinyDir() { return QFileInfo(QStringLiteral(QCW_TEST_DATA "/tiny-phi")).canonicalFilePath(); }

// Settings go to a throw-away location under this test's own name, never to the user's qcw.conf.
inline void isolateSettings(const QString& testName) {
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("qcw"));
    QCoreApplication::setApplicationName(QStringLiteral("qcw-") + testName);
}

// A window that saves no state and reports errors in itself rather than in dialogs.
inline qcw::ui::MainWindow::Options quietOptions() {
    qcw::ui::MainWindow::Options o;
    o.persistState = false;
    o.errorDialogs = false;
    return o;
}

template <typename T>
T* child(const QWidget& w, const char* name) {
    return w.findChild<T*>(QString::fromLatin1(name));
}

}  // namespace qcw::test
