#pragma once
// Two singular-value spectra of one matrix on one log-scale plot: the original's in full and
// the compressed matrix's up to its numerical rank (dashed line), with a line of statistics
// below. A view only: whoever computes the spectra (the compression pane, on a worker) hands
// them over. The narrow interface (clear, computing, show, failed) is what a shared spectrum
// view has to offer to replace it.
#include "decompose/spectra_api.h"

#include <QString>
#include <QWidget>

class QCustomPlot;
class QCPItemStraightLine;
class QLabel;

namespace qcw::ui {

class SpectrumCompare : public QWidget {
    Q_OBJECT
public:
    explicit SpectrumCompare(QWidget* parent = nullptr);

    // Empty plot and the hint to select a layer.
    void clear();
    // The spectra of `layer` are being computed.
    void showComputing(const QString& layer);
    // `before`: the original matrix; `after`: the one the compressed layer's factors rebuild.
    void showSpectra(const QString& layer, const qcw::MatrixSpectrum& before, const qcw::MatrixSpectrum& after);
    void showFailure(const QString& layer, const QString& error);

private:
    QCustomPlot* plot_ = nullptr;
    QCPItemStraightLine* rankLine_ = nullptr;
    QLabel* summary_ = nullptr;
};

}  // namespace qcw::ui
