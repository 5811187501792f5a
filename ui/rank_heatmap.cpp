#include "ui/rank_heatmap.h"

#include <QRegularExpression>

#include <algorithm>
#include <cmath>
#include <limits>

namespace qcw::ui {

CellPlace placeOf(const QString& name) {
    static const QRegularExpression block(QStringLiteral("(?:^|\\.)layers\\.(\\d+)\\.(.+)$"));
    const auto m = block.match(name);
    CellPlace p;
    if (m.hasMatch()) {
        p.layer = m.captured(1).toInt();
        p.kind = m.captured(2).section(QLatin1Char('.'), -1);
    } else {
        p.kind = name.section(QLatin1Char('.'), -1);
    }
    return p;
}

RankHeatmap::RankHeatmap(QWidget* parent) : QCustomPlot(parent) {
    setObjectName(QStringLiteral("rank-heatmap"));
    map_ = new QCPColorMap(xAxis, yAxis);
    scale_ = new QCPColorScale(this);
    plotLayout()->addElement(0, 1, scale_);
    scale_->setType(QCPAxis::atRight);
    map_->setColorScale(scale_);
    QCPColorGradient gradient(QCPColorGradient::gpThermal);
    gradient.setNanHandling(QCPColorGradient::nhTransparent);  // cells with no map stay empty
    map_->setGradient(gradient);
    map_->setInterpolate(false);
    yAxis->setRangeReversed(true);  // block 0 on top
    xAxis->grid()->setVisible(false);
    yAxis->grid()->setVisible(false);
    xAxis->setLabel(tr("map"));
    yAxis->setLabel(tr("block"));
    auto* group = new QCPMarginGroup(this);
    axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale_->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    clearCells();
}

QString RankHeatmap::valueLabel() const { return scale_->axis()->label(); }

void RankHeatmap::clearCells() {
    cells_.clear();
    columns_.clear();
    rows_ = 0;
    clearItems();
    map_->data()->clear();
    map_->data()->setSize(0, 0);
    xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    xAxis->setRange(0, 1);
    yAxis->setRange(0, 1);
    replot(QCustomPlot::rpQueuedReplot);
}

void RankHeatmap::setCells(std::vector<RankCell> cells, const QString& valueLabel) {
    clearCells();
    cells_ = std::move(cells);
    int maxLayer = -1;
    bool outside = false;
    for (const auto& c : cells_) {
        const CellPlace p = placeOf(c.name);
        if (!columns_.contains(p.kind)) columns_ << p.kind;
        maxLayer = std::max(maxLayer, p.layer);
        outside = outside || p.layer < 0;
    }
    // Columns in the order of the computation in a block (then lm_head), whatever order the
    // cells came in; kinds this list does not know keep their first-seen order after it.
    static const QStringList known = {QStringLiteral("q_proj"), QStringLiteral("k_proj"), QStringLiteral("v_proj"),
                                      QStringLiteral("dense"),  QStringLiteral("fc1"),    QStringLiteral("fc2"),
                                      QStringLiteral("lm_head")};
    std::stable_sort(columns_.begin(), columns_.end(), [](const QString& a, const QString& b) {
        const auto ia = known.indexOf(a), ib = known.indexOf(b);
        return (ia < 0 ? known.size() : ia) < (ib < 0 ? known.size() : ib);
    });
    rows_ = maxLayer + 1 + (outside ? 1 : 0);
    const int cols = static_cast<int>(columns_.size());
    if (rows_ == 0 || cols == 0) return;
    map_->data()->setSize(cols, rows_);
    map_->data()->setRange(QCPRange(0, cols - 1), QCPRange(0, rows_ - 1));
    for (int x = 0; x < cols; ++x)
        for (int y = 0; y < rows_; ++y) map_->data()->setCell(x, y, std::numeric_limits<double>::quiet_NaN());
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& c : cells_) {
        lo = std::min(lo, c.value);
        hi = std::max(hi, c.value);
    }
    if (hi <= lo) hi = lo + 1;
    for (const auto& c : cells_) {
        const CellPlace p = placeOf(c.name);
        const int x = static_cast<int>(columns_.indexOf(p.kind));
        const int y = p.layer >= 0 ? p.layer : rows_ - 1;
        map_->data()->setCell(x, y, c.value);
        if (cols * rows_ <= 400 && !c.text.isEmpty()) {  // labels only while they fit
            auto* t = new QCPItemText(this);
            t->position->setCoords(x, y);
            t->setText(c.text);
            // Dark text on the light end of the gradient, light text on the dark end.
            t->setColor((c.value - lo) / (hi - lo) > 0.6 ? QColor(0x21, 0x21, 0x21) : Qt::white);
            QFont f = font();
            f.setPointSizeF(std::max(6.0, f.pointSizeF() - 1.5));
            t->setFont(f);
        }
    }
    map_->setDataRange(QCPRange(lo, hi));
    scale_->axis()->setLabel(valueLabel);
    auto xt = QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText);
    for (int x = 0; x < cols; ++x) xt->addTick(x, columns_[x]);
    xAxis->setTicker(xt);
    auto yt = QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText);
    for (int y = 0; y <= maxLayer; ++y) yt->addTick(y, QString::number(y));
    if (outside) yt->addTick(rows_ - 1, tr("other"));
    yAxis->setTicker(yt);
    xAxis->setRange(-0.5, cols - 0.5);
    yAxis->setRange(-0.5, rows_ - 0.5);
    replot(QCustomPlot::rpQueuedReplot);
}

double RankHeatmap::valueAt(int row, int column) const {
    if (row < 0 || row >= rows_ || column < 0 || column >= columns_.size()) return std::numeric_limits<double>::quiet_NaN();
    return map_->data()->cell(column, row);
}

}  // namespace qcw::ui
