#pragma once
// The fine-tuning pane's live plot: the training loss (graph 0), the held-out loss (graph 1,
// points) and the learning rate (graph 2, on the right axis) against the step.
#include "common/run_context.h"

#include <qcustomplot.h>

#include <vector>

namespace qcw::ui {

class TrainingCurves : public QCustomPlot {
    Q_OBJECT
public:
    explicit TrainingCurves(QWidget* parent = nullptr);

    void clear();  // no points, axes 0..1
    // Adds the metrics of the "train" events (loss, eval_loss, lr) and fits the axes to them and
    // to the last one's total steps; returns that event (in `events`), null when there was none.
    const qcw::Progress* addEvents(const std::vector<qcw::Progress>& events);
    int evalPoints() const;
    double lastEvalLoss() const;  // NaN without held-out points

private:
    double lossMin_ = 0, lossMax_ = 0, lrMax_ = 0;
};

}  // namespace qcw::ui
