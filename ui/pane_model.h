#pragma once
// The model pane: what is in the open snapshot (summary, memory fit, layer tree) and the
// singular-value spectrum of the weight matrix selected in the tree, computed on a worker
// thread through core's torch-free facade (decompose/spectra_api.h), with a draggable
// "keep rank r" line that shows what a rank-r truncation would cost and save. The pane wires
// its parts: ModelSummaryBox, MemoryFitBox, LayerTreeView + LayerFilterBar and
// MatrixSpectrumBox (which draws with the shared SpectrumView).
#include "ui/pane.h"

#include "common/run_context.h"
#include "decompose/spectra_api.h"
#include "ui/matrix_spectrum_box.h"  // KeepRankSummary

#include <QString>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qcw::ui {

class ModelPane : public Pane {
    Q_OBJECT
public:
    // Computes one matrix's spectrum; runs on a worker thread, may throw qcw::Error.
    using SpectrumFn = MatrixSpectrumBox::SpectrumFn;

    ModelPane(const PaneContext& context, QWidget* parent = nullptr);
    ~ModelPane() override;

    void saveSettings(QSettings& settings) const override;
    void restoreSettings(QSettings& settings) override;

    void setSpectrumFunction(SpectrumFn fn);  // default: qcw::computeMatrixSpectrum

    // Selects the tensor named exactly `tensorName` in the layer tree (clearing a filter that
    // hides it), which computes its spectrum; selecting the shown matrix again recomputes it.
    // False, with a one-line error in the pane, when the open model has no such tensor. In a
    // compressed snapshot a factor (<layer>.lowrank_left/right, .tucker_core, .tt_core_K,
    // .qweight) shows the matrix its layer's factors rebuild, "<layer>.weight", up to its
    // numerical rank.
    bool selectMatrix(const QString& tensorName);
    // The matrix a screenshot shows: the first MLP fc1 weight in network order, else the first
    // compressible matrix; empty without a model.
    QString defaultMatrix() const;

    QString spectrumMatrix() const;  // the matrix shown or being computed (a rebuilt one as <layer>.weight), empty when none
    bool isComputingSpectrum() const;
    QString spectrumError() const;   // of the last computation, empty when it succeeded
    std::vector<double> singularValues() const;  // descending; empty until spectrumReady
    qcw::SpectralStats spectralStats() const;

    int keepRank() const;
    KeepRankSummary keepRankSummary() const;

public slots:
    // Moves the keep-rank line (clamped to 0..min(m, n)); the spin box and the summary follow.
    void setKeepRank(int rank);

signals:
    void spectrumReady(const QString& tensorName);
    void spectrumFailed(const QString& tensorName, const QString& message);
    void keepRankChanged(int rank);

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

}  // namespace qcw::ui
