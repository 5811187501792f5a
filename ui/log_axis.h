#pragma once
// The singular-value axis of the workbench's spectrum plots (model pane, compression pane's
// before/after): logarithmic, decades when the values span several, powers of two labelled
// plainly when they do not.
#include <qcustomplot.h>

namespace qcw::ui {

// Log scale with decade ticks; call once when the plot is built.
inline void makeLogAxis(QCPAxis* axis) {
    axis->setScaleType(QCPAxis::stLogarithmic);
    axis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    axis->setNumberFormat(QStringLiteral("eb"));
    axis->setNumberPrecision(0);
}

// Range [lo / below, hi * above] and ticks for values in [lo, hi] (both > 0).
inline void fitLogAxis(QCPAxis* axis, double lo, double hi, double below = 1.6, double above = 1.6) {
    axis->setRange(lo / below, hi * above);
    const bool wide = hi / lo > 1000;
    auto ticker = QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog);
    ticker->setLogBase(wide ? 10 : 2);
    ticker->setSubTickCount(wide ? 8 : 1);
    axis->setTicker(ticker);
    axis->setNumberFormat(wide ? QStringLiteral("eb") : QStringLiteral("g"));
    axis->setNumberPrecision(wide ? 0 : 3);
}

}  // namespace qcw::ui
