#include "ui/search_plot.h"

#include <algorithm>
#include <cmath>

namespace qcw::ui {

SearchPlot::SearchPlot(QWidget* parent) : QCustomPlot(parent) {
    setObjectName(QStringLiteral("rank-plot"));
    setMinimumHeight(160);
    setNoAntialiasingOnDrag(true);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    addGraph();
    graph(0)->setName(tr("energy"));
    graph(0)->setPen(QPen(QColor(0x1e, 0x88, 0xe5), 1.2));
    graph(0)->setAdaptiveSampling(true);
    addGraph();
    graph(1)->setName(tr("best objective"));
    graph(1)->setPen(QPen(QColor(0xe5, 0x39, 0x35), 2.0));
    graph(1)->setLineStyle(QCPGraph::lsStepLeft);
    xAxis->setLabel(tr("iteration"));
    yAxis->setLabel(tr("discarded weight"));
    legend->setVisible(true);
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    uniformLine_ = new QCPItemStraightLine(this);
    uniformLine_->setPen(QPen(QColor(0x75, 0x75, 0x75), 1.0, Qt::DashLine));
    uniformLine_->setVisible(false);
    xAxis->setRange(0, 1);
    yAxis->setRange(0, 1);
}

void SearchPlot::clear() {
    graph(0)->data()->clear();
    graph(1)->data()->clear();
    uniformLine_->setVisible(false);
    min_ = std::numeric_limits<double>::infinity();
    max_ = -std::numeric_limits<double>::infinity();
    lastX_ = 0;
    xAxis->setRange(0, 1);
    yAxis->setRange(0, 1);
    replot(QCustomPlot::rpQueuedReplot);
}

void SearchPlot::setLossObjective(bool loss) {
    yAxis->setLabel(loss ? tr("predicted loss increase (nats/token)") : tr("discarded weight"));
}

void SearchPlot::fitY() {
    if (!std::isfinite(min_)) return;
    const double pad = std::max(1e-12, 0.05 * (max_ - min_));
    yAxis->setRange(min_ - pad, max_ + pad);
}

void SearchPlot::appendPoints(const std::vector<Point>& points) {
    for (const Point& pt : points) {
        // A later restart or a new solver run counts from 1 again: keep x increasing.
        double x = pt.iteration;
        if (x <= lastX_ && !graph(0)->data()->isEmpty()) x = lastX_ + 1;
        lastX_ = x;
        if (std::isfinite(pt.energy)) {
            graph(0)->addData(x, pt.energy);
            min_ = std::min(min_, pt.energy);
            max_ = std::max(max_, pt.energy);
        }
        if (std::isfinite(pt.best)) {
            graph(1)->addData(x, pt.best);
            min_ = std::min(min_, pt.best);
            max_ = std::max(max_, pt.best);
        }
    }
    fitY();
    xAxis->setRange(0, std::max(1.0, lastX_));
    replot(QCustomPlot::rpQueuedReplot);
}

void SearchPlot::showUniform(double objective) {
    uniformLine_->point1->setCoords(0, objective);
    uniformLine_->point2->setCoords(1, objective);
    uniformLine_->setVisible(std::isfinite(objective));
    if (std::isfinite(objective)) {
        min_ = std::min(min_, objective);
        max_ = std::max(max_, objective);
        fitY();
    }
    replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace qcw::ui
