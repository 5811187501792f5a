#pragma once
#include <QIcon>

namespace qcw::ui {

// The qcw icon: resources/icons/qcw.svg when the executable carries it and Qt can read SVG,
// otherwise the same drawing painted at the usual sizes (Qt's SVG module is optional).
QIcon appIcon();

}  // namespace qcw::ui
