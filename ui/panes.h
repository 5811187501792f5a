#pragma once
// The registry of panes, in the order of the work. Adding a pane: write the class (see
// pane.h) and add one line to registeredPanes() in panes.cpp; a pane that takes qcw command-line
// options or needs work before a screenshot also gets scripts (pane_scripts.h).
#include "ui/pane_scripts.h"

#include <QString>

#include <functional>
#include <vector>

class QWidget;

namespace qcw::ui {

class Pane;
struct PaneContext;

struct PaneInfo {
    const char* id;           // "model": object name "pane-model", settings "panes/model", --pane model
    const char* title;        // sidebar label, untranslated (see paneTitle)
    const char* description;  // tooltip, untranslated
    std::function<Pane*(const PaneContext&, QWidget* parent)> create;
    PaneScripts scripts;      // what qcw's command line does with it (may be empty)
};

const std::vector<PaneInfo>& registeredPanes();
QString paneTitle(const PaneInfo& info);
QString paneDescription(const PaneInfo& info);

}  // namespace qcw::ui
