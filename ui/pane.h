#pragma once
// A pane of the workbench: one step of the work (model, compression, ...). A pane is a
// QWidget subclass with a constructor (const PaneContext&, QWidget* parent), registered by
// one line in panes.cpp. The main window creates every registered pane, lists it in the
// sidebar and names it "pane-<id>".
#include <QWidget>

class QAction;
class QSettings;

namespace qcw::ui {

class ModelSession;

// What the main window shares with its panes.
struct PaneContext {
    ModelSession* session = nullptr;     // the open model (never null)
    QAction* openModelAction = nullptr;  // File > Open Model...
};

class Pane : public QWidget {
    Q_OBJECT
public:
    Pane(const PaneContext& context, QWidget* parent) : QWidget(parent), context_(context) {}
    const PaneContext& context() const { return context_; }

    // Pane settings live in their own group ("panes/<id>") of the application's QSettings.
    virtual void saveSettings(QSettings&) const {}
    virtual void restoreSettings(QSettings&) {}

private:
    PaneContext context_;
};

}  // namespace qcw::ui
