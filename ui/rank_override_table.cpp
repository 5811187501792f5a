#include "ui/rank_override_table.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QPushButton>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace qcw::ui {

RankOverrideTable::RankOverrideTable(QWidget* parent) : QWidget(parent) {
    table_ = new QTableWidget(0, 2);
    table_->setObjectName(QStringLiteral("rank-overrides"));
    table_->setHorizontalHeaderLabels({tr("Layer"), tr("Rank")});
    table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    table_->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    table_->verticalHeader()->setVisible(false);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setMaximumHeight(96);
    table_->setToolTip(tr("Ranks for chosen layers (per-matrix methods). The other layers keep their searched or "
                          "uniform ranks, so the total moves."));
    add_ = new QPushButton(tr("Add"));
    add_->setObjectName(QStringLiteral("add-override"));
    remove_ = new QPushButton(tr("Remove"));
    remove_->setObjectName(QStringLiteral("remove-override"));
    auto* buttons = new QVBoxLayout;
    buttons->addWidget(add_);
    buttons->addWidget(remove_);
    buttons->addStretch(1);
    auto* row = new QHBoxLayout(this);
    row->setContentsMargins(0, 0, 0, 0);
    row->addWidget(table_, 1);
    row->addLayout(buttons);
    connect(add_, &QPushButton::clicked, this, [this] {
        if (layers_.empty()) return;
        const QString& name = layers_.front().first;
        table_->selectRow(addRow(name, std::max(1, maxRankOf(name) / 4)));
    });
    connect(remove_, &QPushButton::clicked, this, [this] {
        const int r = table_->currentRow();
        if (r >= 0) table_->removeRow(r);
        setEditable(editable_);
        emit rowsChanged();
    });
    setEditable(false);
}

void RankOverrideTable::setLayers(std::vector<std::pair<QString, int>> layers) {
    layers_ = std::move(layers);
    clearRows();
}

int RankOverrideTable::maxRankOf(const QString& layer) const {
    for (const auto& [name, max] : layers_)
        if (name == layer) return max;
    return 0;
}

int RankOverrideTable::addRow(const QString& layer, int rank) {
    const int row = table_->rowCount();
    table_->insertRow(row);
    auto* names = new QComboBox;
    names->setObjectName(QStringLiteral("override-layer"));
    for (const auto& l : layers_) names->addItem(l.first);
    names->setCurrentText(layer);
    auto* ranks = new QSpinBox;
    ranks->setObjectName(QStringLiteral("override-rank"));
    ranks->setRange(1, std::max(1, maxRankOf(layer)));
    ranks->setValue(rank);
    connect(names, &QComboBox::currentTextChanged, ranks,
            [this, ranks](const QString& name) { ranks->setMaximum(std::max(1, maxRankOf(name))); });
    table_->setCellWidget(row, 0, names);
    table_->setCellWidget(row, 1, ranks);
    setEditable(editable_);
    emit rowsChanged();
    return row;
}

bool RankOverrideTable::setRank(const QString& layer, int rank) {
    const int max = maxRankOf(layer);
    if (max == 0 || rank < 1 || rank > max) return false;
    for (int r = 0; r < table_->rowCount(); ++r) {
        auto* names = qobject_cast<QComboBox*>(table_->cellWidget(r, 0));
        if (names && names->currentText() == layer) {
            qobject_cast<QSpinBox*>(table_->cellWidget(r, 1))->setValue(rank);
            return true;
        }
    }
    addRow(layer, rank);
    return true;
}

void RankOverrideTable::clearRows() {
    table_->setRowCount(0);
    setEditable(editable_);
    emit rowsChanged();
}

int RankOverrideTable::rowCount() const { return table_->rowCount(); }

std::map<std::string, int> RankOverrideTable::overrides() const {
    std::map<std::string, int> out;
    for (int r = 0; r < table_->rowCount(); ++r) {
        auto* names = qobject_cast<QComboBox*>(table_->cellWidget(r, 0));
        auto* ranks = qobject_cast<QSpinBox*>(table_->cellWidget(r, 1));
        if (names && ranks && !names->currentText().isEmpty()) out[names->currentText().toStdString()] = ranks->value();
    }
    return out;
}

void RankOverrideTable::setEditable(bool on) {
    editable_ = on;
    table_->setEnabled(on);
    add_->setEnabled(on);
    remove_->setEnabled(on && table_->rowCount() > 0);
}

}  // namespace qcw::ui
