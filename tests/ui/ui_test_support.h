#pragma once
#include <memory>
#include <algorithm>
// Set-up shared by the workbench's GUI tests.
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QTimer>
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

// A main window of the test size, shown (offscreen), without dialogs or saved state.
inline std::unique_ptr<qcw::ui::MainWindow> shownWindow(int width = 1200, int height = 800) {
    auto w = std::make_unique<qcw::ui::MainWindow>(quietOptions());
    w->resize(width, height);
    w->show();
    return w;
}

template <typename T>
T* child(const QWidget& w, const char* name) {
    return w.findChild<T*>(QString::fromLatin1(name));
}

constexpr int kTickMs = 10;  // LatencyProbe's timer interval

// How late the ticks of a 10 ms timer on the GUI thread fire: the GUI thread's event latency
// while it lives.
class LatencyProbe {
public:
    LatencyProbe() {
        timer_.setTimerType(Qt::PreciseTimer);
        timer_.setInterval(kTickMs);
        QObject::connect(&timer_, &QTimer::timeout, [this] {
            const qint64 now = clock_.nsecsElapsed();
            const double lateMs = std::max(0.0, double(now - last_) / 1e6 - kTickMs);
            max_ = std::max(max_, lateMs);
            sum_ += lateMs;
            ++ticks_;
            last_ = now;
        });
        clock_.start();
        last_ = clock_.nsecsElapsed();
        timer_.start();
    }
    void stop() { timer_.stop(); }
    double maxMs() const { return max_; }
    double meanMs() const { return ticks_ ? sum_ / double(ticks_) : 0.0; }
    long long ticks() const { return ticks_; }

private:
    QElapsedTimer clock_;
    QTimer timer_;
    qint64 last_ = 0;
    double max_ = 0, sum_ = 0;
    long long ticks_ = 0;
};

}  // namespace qcw::test
