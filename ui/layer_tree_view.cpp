#include "ui/layer_tree_view.h"

#include "ui/layer_model.h"

#include <QAction>
#include <QCheckBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>

namespace qcw::ui {

LayerTreeView::LayerTreeView(QWidget* parent) : QTreeView(parent) {
    layers_ = new LayerTreeModel(this);
    proxy_ = new LayerFilterProxy(this);
    proxy_->setSourceModel(layers_);
    setObjectName(QStringLiteral("layer-tree"));
    setModel(proxy_);
    setUniformRowHeights(true);
    setAlternatingRowColors(true);
    setSelectionBehavior(QAbstractItemView::SelectRows);
    setSelectionMode(QAbstractItemView::ExtendedSelection);
    header()->setSortIndicator(-1, Qt::AscendingOrder);  // network order until a click
    header()->setSortIndicatorClearable(true);           // third click: network order again
    setSortingEnabled(true);
    header()->setStretchLastSection(false);
    header()->setSectionResizeMode(LayerTreeModel::Name, QHeaderView::Stretch);
    for (int c = LayerTreeModel::Kind; c < LayerTreeModel::ColumnCount; ++c)
        header()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    header()->setMinimumSectionSize(40);
    setMinimumWidth(560);               // room for the tensor names next to the spectrum
    setTextElideMode(Qt::ElideLeft);    // "…mlp.fc1.weight": the end tells tensors apart
}

void LayerTreeView::setSummary(std::shared_ptr<const qcw::ModelSummary> summary) {
    layers_->setSummary(std::move(summary));
    proxy_->invalidate();
}

const qcw::ModelSummary* LayerTreeView::summary() const { return layers_->summary(); }
int LayerTreeView::tensorCount() const { return layers_->tensorCount(); }
int LayerTreeView::visibleTensorCount() const { return proxy_->visibleTensorCount(); }

QModelIndex LayerTreeView::sourceIndexOf(const QString& tensor) const {
    for (int g = 0; g < layers_->rowCount(); ++g) {
        const QModelIndex group = layers_->index(g, 0);
        for (int r = 0; r < layers_->rowCount(group); ++r) {
            const QModelIndex idx = layers_->index(r, 0, group);
            if (layers_->data(idx, LayerTreeModel::TensorNameRole).toString() == tensor) return idx;
        }
    }
    return {};
}

void LayerTreeView::expandDefault(bool filtering) {
    collapseAll();
    const bool small = summary() && summary()->numLayers <= 4;
    if (small || filtering) {
        expandAll();
        return;
    }
    // Large models: the embedding and the first block, enough to see the pattern.
    for (int r = 0; r < proxy_->rowCount() && r < 2; ++r) expand(proxy_->index(r, 0));
}

LayerFilterBar::LayerFilterBar(LayerTreeView* tree, QWidget* parent) : QWidget(parent), tree_(tree) {
    auto* row = new QHBoxLayout(this);
    row->setContentsMargins(0, 0, 0, 0);
    filter_ = new QLineEdit;
    filter_->setObjectName(QStringLiteral("layer-filter"));
    filter_->setPlaceholderText(tr("Filter layers by name or kind (Ctrl+F)"));
    filter_->setClearButtonEnabled(true);
    compressibleOnly_ = new QCheckBox(tr("Compressible &only"));
    compressibleOnly_->setObjectName(QStringLiteral("compressible-only"));
    count_ = new QLabel;
    count_->setObjectName(QStringLiteral("layer-count"));
    row->addWidget(filter_, 1);
    row->addWidget(compressibleOnly_);
    row->addWidget(count_);

    focus_ = new QAction(this);
    focus_->setShortcut(QKeySequence::Find);
    focus_->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    connect(focus_, &QAction::triggered, this, [this] {
        filter_->setFocus(Qt::ShortcutFocusReason);
        filter_->selectAll();
    });
    connect(filter_, &QLineEdit::textChanged, this, [this](const QString& text) {
        tree_->proxy()->setFilterText(text);
        if (!text.trimmed().isEmpty()) tree_->expandAll();
        updateCount();
    });
    connect(compressibleOnly_, &QCheckBox::toggled, this, [this](bool on) {
        tree_->proxy()->setCompressibleOnly(on);
        updateCount();
    });
}

bool LayerFilterBar::isFiltering() const { return !filter_->text().trimmed().isEmpty(); }

void LayerFilterBar::reset() {
    filter_->clear();
    compressibleOnly_->setChecked(false);
}

void LayerFilterBar::updateCount() {
    const int total = tree_->tensorCount();
    const int shown = tree_->visibleTensorCount();
    const QString tensors = total == 1 ? tr("1 tensor") : tr("%1 tensors").arg(total);
    count_->setText(shown == total ? tensors : tr("%1 of %2").arg(shown).arg(tensors));
}

}  // namespace qcw::ui
