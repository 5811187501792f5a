#include "ui/recent_models.h"

#include <QDir>
#include <QFileInfo>
#include <QSettings>

namespace qcw::ui::recent {

namespace {
const QString kKey = QStringLiteral("recentModels");

QStringList sanitize(const QStringList& in) {
    QStringList out;
    for (const QString& raw : in) {
        if (raw.isEmpty()) continue;
        const QString dir = QDir::cleanPath(raw);
        if (!QFileInfo(dir).isDir() || out.contains(dir)) continue;
        out << dir;
        if (out.size() == kMaxRecentModels) break;
    }
    return out;
}
}  // namespace

QStringList models() {
    QSettings s;
    const QStringList stored = s.value(kKey).toStringList();
    const QStringList kept = sanitize(stored);
    if (kept != stored) s.setValue(kKey, kept);
    return kept;
}

void add(const QString& dir) {
    QSettings s;
    QStringList list = s.value(kKey).toStringList();
    list.prepend(dir);
    s.setValue(kKey, sanitize(list));
}

void clear() { QSettings().remove(kKey); }

}  // namespace qcw::ui::recent
