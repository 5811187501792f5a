#pragma once
// The rank search's live plot: the solver's energy and its best objective so far against the
// iteration, and the uniform allocation's objective as a dashed line once the search is done.
#include <qcustomplot.h>

#include <limits>
#include <vector>

namespace qcw::ui {

class SearchPlot : public QCustomPlot {
    Q_OBJECT
public:
    struct Point {
        double iteration = 0, energy = 0, best = 0;  // non-finite values are not drawn
    };

    explicit SearchPlot(QWidget* parent = nullptr);

    // Empty, with the y axis labelled for the objective (measured loss or discarded weight).
    void clear();
    void setLossObjective(bool loss);
    // Appends in order; a restart that counts from 1 again keeps x increasing.
    void appendPoints(const std::vector<Point>& points);
    // The uniform allocation's objective (dashed); NaN hides it.
    void showUniform(double objective);

private:
    void fitY();
    QCPItemStraightLine* uniformLine_ = nullptr;
    double min_ = std::numeric_limits<double>::infinity();
    double max_ = -std::numeric_limits<double>::infinity();
    double lastX_ = 0;
};

}  // namespace qcw::ui
