#include "ui/training_curves.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qcw::ui {

TrainingCurves::TrainingCurves(QWidget* parent) : QCustomPlot(parent) {
    setObjectName(QStringLiteral("tune-plot"));
    setMinimumHeight(220);
    setNoAntialiasingOnDrag(true);
    setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    addGraph();
    graph(0)->setName(tr("training loss"));
    graph(0)->setPen(QPen(QColor(0x1e, 0x88, 0xe5), 1.5));
    graph(0)->setAdaptiveSampling(true);
    addGraph();
    graph(1)->setName(tr("held-out loss"));
    graph(1)->setPen(QPen(QColor(0xe5, 0x39, 0x35), 2.0));
    graph(1)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
    addGraph(xAxis, yAxis2);
    graph(2)->setName(tr("learning rate (right)"));
    graph(2)->setPen(QPen(QColor(0x75, 0x75, 0x75), 1.2, Qt::DashLine));
    xAxis->setLabel(tr("step"));
    yAxis->setLabel(tr("loss (nats/token)"));
    yAxis2->setLabel(tr("learning rate"));
    yAxis2->setVisible(true);
    legend->setVisible(true);
    axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    clear();
}

void TrainingCurves::clear() {
    for (int g = 0; g < graphCount(); ++g) graph(g)->data()->clear();
    lossMin_ = std::numeric_limits<double>::infinity();
    lossMax_ = -std::numeric_limits<double>::infinity();
    lrMax_ = 0;
    xAxis->setRange(0, 1);
    yAxis->setRange(0, 1);
    yAxis2->setRange(0, 1);
    replot(QCustomPlot::rpQueuedReplot);
}

const qcw::Progress* TrainingCurves::addEvents(const std::vector<qcw::Progress>& events) {
    const qcw::Progress* lastTrain = nullptr;
    for (const qcw::Progress& p : events) {
        if (p.stage != "train") continue;
        lastTrain = &p;
        const double x = double(p.step);
        auto metric = [&](const char* name) {
            auto it = p.metrics.find(name);
            return it == p.metrics.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
        };
        const double loss = metric("loss"), eval = metric("eval_loss"), rate = metric("lr");
        if (std::isfinite(loss)) {
            graph(0)->addData(x, loss);
            lossMin_ = std::min(lossMin_, loss);
            lossMax_ = std::max(lossMax_, loss);
        }
        if (std::isfinite(eval)) {
            graph(1)->addData(x, eval);
            lossMin_ = std::min(lossMin_, eval);
            lossMax_ = std::max(lossMax_, eval);
        }
        if (std::isfinite(rate)) {
            graph(2)->addData(x, rate);
            lrMax_ = std::max(lrMax_, rate);
        }
    }
    if (!lastTrain) return nullptr;
    if (std::isfinite(lossMin_)) {
        const double pad = std::max(1e-6, 0.05 * (lossMax_ - lossMin_));
        yAxis->setRange(std::max(0.0, lossMin_ - pad), lossMax_ + pad);
    }
    if (lrMax_ > 0) yAxis2->setRange(0, lrMax_ * 1.05);
    xAxis->setRange(0, std::max<double>(1, double(lastTrain->total)));
    replot(QCustomPlot::rpQueuedReplot);
    return lastTrain;
}

int TrainingCurves::evalPoints() const { return graph(1)->dataCount(); }

double TrainingCurves::lastEvalLoss() const {
    if (graph(1)->dataCount() == 0) return std::numeric_limits<double>::quiet_NaN();
    return (graph(1)->data()->constEnd() - 1)->value;
}

}  // namespace qcw::ui
