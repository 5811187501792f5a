#pragma once
// The compression pane's "before / after" tab: the shared spectrum view (ui/spectrum_view.h,
// Compare mode: the original's values in full, the compressed matrix's up to its numerical rank)
// with a line of statistics below. A view only: whoever computes the spectra (the compression
// pane, on a worker) hands them over.
#include "decompose/spectra_api.h"

#include <QString>
#include <QWidget>

class QLabel;

namespace qcw::ui {

class SpectrumView;

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
    SpectrumView* plot_ = nullptr;
    QLabel* summary_ = nullptr;
};

}  // namespace qcw::ui
