#pragma once
// The model pane's "Spectrum" box: the singular values of one weight matrix (computed on a
// worker thread through core's torch-free facade, decompose/spectra_api.h), drawn by a
// SpectrumView with a draggable "keep rank r" line, a spin box that follows it and the line
// that says what a rank-r truncation would cost and save.
#include "common/run_context.h"
#include "decompose/spectra_api.h"

#include <QElapsedTimer>
#include <QGroupBox>
#include <QString>

#include <functional>
#include <memory>
#include <string>
#include <vector>

class QLabel;
class QSpinBox;

namespace qcw::ui {

class Jobs;
class SpectrumView;

// What keeping the r largest singular values of an m x n matrix means.
struct KeepRankSummary {
    int rank = 0;                // r
    int fullRank = 0;            // min(m, n): the number of singular values
    long long rows = 0, cols = 0;
    double relativeError = 0;    // ||W - W_r||_F / ||W||_F = sqrt(sum_{i>r} s_i^2 / sum s_i^2)
    long long params = 0;        // r (m + n): the two factors
    long long denseParams = 0;   // m n
    double keptFraction = 0;     // params / denseParams (above 1 when the factors are larger)
    QString text;                // the line the pane shows
};

class MatrixSpectrumBox : public QGroupBox {
    Q_OBJECT
public:
    // Computes one matrix's spectrum; runs on a worker thread, may throw qcw::Error.
    using SpectrumFn = std::function<qcw::MatrixSpectrum(const std::string& modelDir, const std::string& tensor,
                                                         qcw::RunContext&)>;

    explicit MatrixSpectrumBox(QWidget* parent = nullptr);
    ~MatrixSpectrumBox() override;

    void setSpectrumFunction(SpectrumFn fn);  // default: qcw::computeMatrixSpectrum

    // Computes the spectrum of `tensor` in the snapshot `modelDir` (a computation still running
    // is dropped); spectrumReady or spectrumFailed follows.
    void compute(const QString& modelDir, const QString& tensor);
    // No spectrum; `status` says why (empty: select a matrix in the layer tree).
    void clear(const QString& status = {});
    // No spectrum, and `message` as the error (error() returns it).
    void showError(const QString& message);

    QString matrix() const { return matrix_; }  // shown or being computed
    bool isComputing() const { return computing_; }
    QString error() const { return error_; }
    const qcw::MatrixSpectrum& spectrum() const { return spectrum_; }  // values descending
    int keepRank() const;
    KeepRankSummary keepRankSummary() const;
    void setKeepRank(int rank);  // clamped to 0..min(m, n); the spin box and the summary follow

signals:
    void spectrumReady(const QString& tensorName);
    void spectrumFailed(const QString& tensorName, const QString& message);
    void keepRankChanged(int rank);

private:
    void showValues(qcw::MatrixSpectrum s, qint64 ms);
    KeepRankSummary summaryFor(int r) const;

    QLabel* status_ = nullptr;
    QLabel* errorLabel_ = nullptr;
    SpectrumView* view_ = nullptr;
    QSpinBox* keepRankSpin_ = nullptr;
    QLabel* keepSummary_ = nullptr;
    SpectrumFn spectrumFn_;
    QString matrix_;
    bool computing_ = false;
    QString error_;
    qcw::MatrixSpectrum spectrum_;  // valid when !spectrum_.singularValues.empty()
    std::vector<double> tailSq_;    // tailSq_[r] = sum_{i>=r} s_i^2 (0-based), r = 0..k
    double keepShare_;
    quint64 generation_ = 0;
    QElapsedTimer clock_;
    std::unique_ptr<Jobs> jobs_;  // last: destroyed (cancelled and waited for) first
};

}  // namespace qcw::ui
