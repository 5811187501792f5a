#pragma once
// The model pane: what is in the open snapshot (summary, memory fit, layer tree).
#include "ui/pane.h"

#include <memory>

namespace qcw::ui {

class ModelPane : public Pane {
    Q_OBJECT
public:
    ModelPane(const PaneContext& context, QWidget* parent = nullptr);
    ~ModelPane() override;

    void saveSettings(QSettings& settings) const override;
    void restoreSettings(QSettings& settings) override;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

}  // namespace qcw::ui
