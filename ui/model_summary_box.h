#pragma once
// The model pane's "Summary" box: architecture, parameters (and the compressible share),
// dtype and size on disk, tokenizer and shape of the open snapshot.
#include "io/inventory.h"

#include <QGroupBox>

class QLabel;

namespace qcw::ui {

class ModelSummaryBox : public QGroupBox {
    Q_OBJECT
public:
    explicit ModelSummaryBox(QWidget* parent = nullptr);
    void showModel(const qcw::ModelSummary& m);

private:
    QLabel* architecture_ = nullptr;
    QLabel* params_ = nullptr;
    QLabel* compressible_ = nullptr;
    QLabel* dtype_ = nullptr;
    QLabel* size_ = nullptr;
    QLabel* tokenizer_ = nullptr;
    QLabel* shape_ = nullptr;
};

// A label for a value: selectable with the mouse, named for tests and style sheets.
QLabel* selectableValueLabel(const char* objectName);

}  // namespace qcw::ui
