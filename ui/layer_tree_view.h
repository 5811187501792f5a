#pragma once
// The model pane's layer tree: the open model's tensors grouped in network order
// (ui/layer_model.h), filtered and sorted by a proxy, and the filter bar above it (a text filter
// with Ctrl+F, "Compressible only", the count of tensors shown).
#include "io/inventory.h"

#include <QTreeView>
#include <QWidget>

#include <memory>

class QAction;
class QCheckBox;
class QLabel;
class QLineEdit;

namespace qcw::ui {

class LayerTreeModel;
class LayerFilterProxy;

class LayerTreeView : public QTreeView {
    Q_OBJECT
public:
    explicit LayerTreeView(QWidget* parent = nullptr);

    void setSummary(std::shared_ptr<const qcw::ModelSummary> summary);
    const qcw::ModelSummary* summary() const;
    LayerFilterProxy* proxy() const { return proxy_; }
    int tensorCount() const;
    int visibleTensorCount() const;

    // The source index of the tensor named exactly `tensor`; invalid when there is none.
    QModelIndex sourceIndexOf(const QString& tensor) const;
    // Collapses, then opens what a first look needs: everything in a small model (or under a
    // filter), the embedding and the first block in a large one.
    void expandDefault(bool filtering);

private:
    LayerTreeModel* layers_ = nullptr;
    LayerFilterProxy* proxy_ = nullptr;
};

class LayerFilterBar : public QWidget {
    Q_OBJECT
public:
    explicit LayerFilterBar(LayerTreeView* tree, QWidget* parent = nullptr);

    bool isFiltering() const;  // some text in the filter
    void reset();              // no text, all tensors
    void updateCount();
    // Ctrl+F: focus the filter. Add it to the widget whose children it should reach.
    QAction* focusAction() const { return focus_; }

private:
    LayerTreeView* tree_;
    QLineEdit* filter_ = nullptr;
    QCheckBox* compressibleOnly_ = nullptr;
    QLabel* count_ = nullptr;
    QAction* focus_ = nullptr;
};

}  // namespace qcw::ui
