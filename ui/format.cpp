#include "ui/format.h"

#include <QLocale>
#include <QStringList>

#include <cmath>

namespace qcw::ui {

namespace {
QLocale groupingLocale() {
    QLocale loc;
    // The "C" locale omits group separators by default; counts of parameters need them.
    loc.setNumberOptions(loc.numberOptions() & ~QLocale::OmitGroupSeparator);
    return loc;
}
}  // namespace

QString formatCount(std::int64_t n) { return groupingLocale().toString(static_cast<qlonglong>(n)); }

QString formatCompactCount(std::int64_t n) {
    const double v = static_cast<double>(n);
    const double a = std::fabs(v);
    const QLocale loc;
    if (a >= 1e9) return loc.toString(v / 1e9, 'f', 2) + QStringLiteral(" B");
    if (a >= 1e6) return loc.toString(v / 1e6, 'f', 1) + QStringLiteral(" M");
    if (a >= 1e3) return loc.toString(v / 1e3, 'f', 0) + QStringLiteral(" K");
    return loc.toString(static_cast<qlonglong>(n));
}

QString formatBytes(double bytes) {
    return QLocale().formattedDataSize(static_cast<qint64>(std::llround(bytes)), 1, QLocale::DataSizeIecFormat);
}

QString formatShape(const std::vector<std::int64_t>& shape) {
    if (shape.empty()) return QStringLiteral("scalar");
    QStringList parts;
    for (std::int64_t d : shape) parts << QString::number(d);
    return parts.join(QStringLiteral(" \u00d7 "));
}

}  // namespace qcw::ui
