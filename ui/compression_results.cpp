#include "ui/compression_results.h"

#include "ui/format.h"

#include <QDir>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>

namespace qcw::ui {

namespace {

QString errorText(double e) {
    if (!(e >= 0) || !std::isfinite(e)) return QStringLiteral("\u2014");
    return QLocale().toString(e, 'g', 4);
}

}  // namespace

QString ranksText(const std::vector<int>& ranks) {
    QStringList parts;
    for (int r : ranks) parts << QString::number(r);
    return parts.join(QStringLiteral(", "));
}

CompressionResults::CompressionResults(QWidget* parent) : QWidget(parent) {
    auto* v = new QVBoxLayout(this);
    v->setContentsMargins(0, 0, 0, 0);
    summary_ = new QLabel;
    summary_->setObjectName(QStringLiteral("compression-summary"));
    summary_->setWordWrap(true);
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    v->addWidget(summary_);
    table_ = new QTableWidget(0, 7);
    table_->setObjectName(QStringLiteral("layer-results"));
    table_->setHorizontalHeaderLabels({tr("Layer"), tr("Method"), tr("Ranks"), tr("Params before"), tr("Params after"),
                                       tr("Rel. error"), tr("Out error")});
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setSelectionBehavior(QAbstractItemView::SelectRows);
    table_->setAlternatingRowColors(true);
    table_->verticalHeader()->setVisible(false);
    table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    for (int c = 1; c < table_->columnCount(); ++c)
        table_->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    v->addWidget(table_, 1);
    connect(table_, &QTableWidget::currentCellChanged, this, [this](int row) {
        if (row >= 0 && table_->item(row, 0)) emit layerSelected(table_->item(row, 0)->text());
    });
}

void CompressionResults::clear() {
    clearTable();
    clearSummary();
}

void CompressionResults::clearSummary() { summary_->clear(); }

void CompressionResults::clearTable() { table_->setRowCount(0); }

void CompressionResults::showSearch(const qcw::RankSearchResult& r) {
    const double gain = r.uniformObjective > 0 ? 100.0 * (1.0 - r.objective / r.uniformObjective) : 0.0;
    if (r.weighting == "loss") {
        summary_->setText(tr("Rank search (%1, measured loss): predicted loss increase %2 vs. %3 nats/token for "
                             "uniform ranks (%4 % lower, dashed line), from a dense calibration loss of %5; %6 \u2192 "
                             "%7 parameters.")
                              .arg(QString::fromStdString(r.solver))
                              .arg(QLocale().toString(r.objective, 'g', 4), QLocale().toString(r.uniformObjective, 'g', 4),
                                   QLocale().toString(gain, 'f', 1), QLocale().toString(r.baseLoss, 'f', 3))
                              .arg(formatCount(r.paramsBefore), formatCount(r.paramsAfter)));
        return;
    }
    summary_->setText(tr("Rank search (%1): discarded weight %2 vs. %3 for uniform ranks (%4 % lower, dashed line); "
                         "%5 \u2192 %6 parameters.")
                          .arg(QString::fromStdString(r.solver))
                          .arg(QLocale().toString(r.objective, 'g', 5), QLocale().toString(r.uniformObjective, 'g', 5),
                               QLocale().toString(gain, 'f', 1))
                          .arg(formatCount(r.paramsBefore), formatCount(r.paramsAfter)));
}

void CompressionResults::showReport(const qcw::CompressionReport& r, const QString& outDir, double seconds) {
    table_->setSortingEnabled(false);
    table_->setRowCount(static_cast<int>(r.layers.size()));
    for (int i = 0; i < static_cast<int>(r.layers.size()); ++i) {
        const qcw::LayerReport& l = r.layers[static_cast<std::size_t>(i)];
        const QString cells[] = {QString::fromStdString(l.name), QString::fromStdString(l.method), ranksText(l.ranks),
                                 formatCount(l.paramsBefore),    formatCount(l.paramsAfter),       errorText(l.relError),
                                 errorText(l.outError)};
        for (int c = 0; c < 7; ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            if (c >= 3) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            if (c == 0 && !l.group.empty() && l.group != l.name)
                item->setToolTip(tr("group %1").arg(QString::fromStdString(l.group)));
            table_->setItem(i, c, item);
        }
    }
    QString text = tr("Parameters %1 \u2192 %2 (ratio %3, %4 % kept) by %5")
                       .arg(formatCount(r.paramsBefore), formatCount(r.paramsAfter),
                            QLocale().toString(r.ratio, 'f', 3), QLocale().toString(100.0 * r.ratio, 'f', 1),
                            QString::fromStdString(r.method));
    if (!r.solver.empty()) text += tr(", ranks by %1").arg(QString::fromStdString(r.solver));
    if (r.calibrated) text += tr(", calibrated on %1 tokens").arg(formatCount(r.calibrationTokens));
    text += tr(" in %1 s (compression %2 s). Written to %3")
                .arg(QLocale().toString(seconds, 'f', 1), QLocale().toString(r.seconds, 'f', 1),
                     QDir::toNativeSeparators(outDir));
    if (summary_->text().isEmpty() || r.solver.empty()) summary_->setText(text);
    else summary_->setText(summary_->text() + QLatin1Char('\n') + text);
}

}  // namespace qcw::ui
