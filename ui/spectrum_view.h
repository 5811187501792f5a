#pragma once
// A singular-value spectrum on a logarithmic axis (ui/log_axis.h). One widget for the
// workbench's two spectrum plots:
//   - KeepRank (the model pane): one matrix's values, kept ones (graph 0) and discarded ones
//     (graph 1) split at a "keep rank r" line that the mouse drags, the Marchenko-Pastur edge
//     dashed and a box of statistics;
//   - Compare (the compression pane's "before / after"): the original matrix's values (graph 0)
//     and the compressed one's up to its numerical rank (graph 1), a legend, a dashed line at
//     that rank, axes that drag and zoom.
// It only draws: the values come from the pane (decompose/spectra_api.h on a worker thread), and
// the texts around the plot (status, summary) stay the pane's.
#include <qcustomplot.h>

#include <QString>

#include <vector>

namespace qcw::ui {

class SpectrumView : public QCustomPlot {
    Q_OBJECT
public:
    enum class Mode { KeepRank, Compare };

    explicit SpectrumView(Mode mode, QWidget* parent = nullptr);

    Mode mode() const { return mode_; }
    // No values: empty graphs, no lines or box, axes 0..1 and 0.1..10.
    void clear();

    // ---- KeepRank mode
    // Shows `values` (descending; zeros are not drawn on the log axis). `mpEdge` > 0 draws the
    // Marchenko-Pastur edge there (a singular value) and fits the axis around it; `stats` is the
    // box's text (shown when there are values). The rank line waits for setKeepRank().
    void setSpectrum(std::vector<double> values, double mpEdge, const QString& stats);
    const std::vector<double>& values() const { return values_; }
    // Moves the line to r (clamped to 0..k) and splits the curve there. False when there are no
    // values or the line is already at r (nothing redrawn).
    bool setKeepRank(int r);
    int keepRank() const { return values_.empty() ? 0 : rank_; }

    // ---- Compare mode
    // The original's values in full; the compressed matrix's up to `afterRank` (its numerical
    // rank: the values after it are float rounding), named "compressed (<afterStorage>)".
    void setComparison(const std::vector<double>& before, const std::vector<double>& after, int afterRank,
                       const QString& afterStorage);

signals:
    // KeepRank mode: a press in the plot or a drag of the line asks for rank r (the owner calls
    // setKeepRank, so a spin box and a summary can follow).
    void keepRankPicked(int rank);

private:
    int rankAtPixel(double x) const;

    Mode mode_;
    QCPItemStraightLine* edgeLine_ = nullptr;  // KeepRank
    QCPItemStraightLine* rankLine_ = nullptr;  // both: the keep rank, or the compressed rank
    QCPItemText* statsText_ = nullptr;         // KeepRank
    std::vector<double> values_;               // KeepRank
    int rank_ = 0;
    bool dragging_ = false;
};

}  // namespace qcw::ui
