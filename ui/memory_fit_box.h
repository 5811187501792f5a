#pragma once
// The model pane's "Memory fit" box: what the open model needs in memory at fp32 and at
// fp16 / bf16 (weights, the KV cache of a context length and batch, the largest transient
// activations; core's io/inventory.h estimate) against this machine's RAM.
#include "io/inventory.h"

#include <QGroupBox>

#include <memory>

class QLabel;
class QSpinBox;
class QTableWidget;

namespace qcw::ui {

class MemoryFitBox : public QGroupBox {
    Q_OBJECT
public:
    explicit MemoryFitBox(QWidget* parent = nullptr);

    void setModel(std::shared_ptr<const qcw::ModelSummary> model);  // null: empty cells

    int contextLength() const;
    void setContextLength(int tokens);
    int batch() const;
    void setBatch(int n);

private:
    void refresh();

    std::shared_ptr<const qcw::ModelSummary> model_;
    QSpinBox* contextLength_ = nullptr;
    QSpinBox* batch_ = nullptr;
    QTableWidget* table_ = nullptr;
    QLabel* note_ = nullptr;
};

}  // namespace qcw::ui
