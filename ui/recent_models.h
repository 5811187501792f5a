#pragma once
// File > Recent Models: the last model directories opened successfully, newest first, kept in
// the application's QSettings (key "recentModels"). Directories that no longer exist are
// pruned whenever the list is read.
#include <QStringList>

namespace qcw::ui::recent {

constexpr int kMaxRecentModels = 8;

QStringList models();              // existing directories only, newest first, at most 8
void add(const QString& dir);      // moves `dir` to the front
void clear();

}  // namespace qcw::ui::recent
