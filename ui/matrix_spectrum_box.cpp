#include "ui/matrix_spectrum_box.h"

#include "ui/async.h"
#include "ui/format.h"
#include "ui/spectrum_view.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QSpinBox>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace qcw::ui {

namespace {
// The keep-rank line starts at this share of the full rank.
constexpr double kDefaultKeepShare = 0.3;

QString percent(double fraction) { return QLocale().toString(100.0 * fraction, 'f', 1) + QStringLiteral(" %"); }
QString number(double v, int digits = 3) { return QLocale().toString(v, 'g', digits); }
}  // namespace

MatrixSpectrumBox::MatrixSpectrumBox(QWidget* parent)
    : QGroupBox(tr("Spectrum"), parent),
      spectrumFn_([](const std::string& dir, const std::string& tensor, qcw::RunContext& ctx) {
          return qcw::computeMatrixSpectrum(dir, tensor, ctx);
      }),
      keepShare_(kDefaultKeepShare),
      jobs_(std::make_unique<Jobs>()) {
    setObjectName(QStringLiteral("model-spectrum"));
    auto* v = new QVBoxLayout(this);
    status_ = new QLabel;
    status_->setObjectName(QStringLiteral("spectrum-status"));
    status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    status_->setMinimumWidth(1);  // long tensor names must not widen the pane
    v->addWidget(status_);
    errorLabel_ = new QLabel;
    errorLabel_->setObjectName(QStringLiteral("spectrum-error"));
    errorLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    errorLabel_->setStyleSheet(QStringLiteral("color: #c62828;"));
    errorLabel_->setMinimumWidth(1);
    errorLabel_->hide();
    v->addWidget(errorLabel_);

    view_ = new SpectrumView(SpectrumView::Mode::KeepRank);
    view_->setObjectName(QStringLiteral("spectrum-plot"));
    view_->setMinimumSize(240, 180);
    v->addWidget(view_, 1);
    connect(view_, &SpectrumView::keepRankPicked, this, &MatrixSpectrumBox::setKeepRank);

    auto* row = new QHBoxLayout;
    keepRankSpin_ = new QSpinBox;
    keepRankSpin_->setObjectName(QStringLiteral("keep-rank"));
    keepRankSpin_->setRange(0, 0);
    keepRankSpin_->setEnabled(false);
    auto* keepLabel = new QLabel(tr("&Keep rank:"));
    keepLabel->setBuddy(keepRankSpin_);
    row->addWidget(keepLabel);
    row->addWidget(keepRankSpin_);
    row->addStretch(1);
    v->addLayout(row);
    keepSummary_ = new QLabel;
    keepSummary_->setObjectName(QStringLiteral("keep-rank-summary"));
    keepSummary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    keepSummary_->setWordWrap(true);
    v->addWidget(keepSummary_);
    connect(keepRankSpin_, &QSpinBox::valueChanged, this, &MatrixSpectrumBox::setKeepRank);

    clear();
}

MatrixSpectrumBox::~MatrixSpectrumBox() = default;

void MatrixSpectrumBox::setSpectrumFunction(SpectrumFn fn) { spectrumFn_ = std::move(fn); }

void MatrixSpectrumBox::clear(const QString& status) {
    ++generation_;  // a computation still running is superseded
    jobs_->cancelAll();
    computing_ = false;
    matrix_.clear();
    error_.clear();
    spectrum_ = {};
    tailSq_.clear();
    status_->setText(status.isEmpty() ? tr("Select a weight matrix in the layer tree to see its singular values.")
                                      : status);
    status_->setToolTip(QString());
    errorLabel_->hide();
    view_->clear();
    {
        const QSignalBlocker block(keepRankSpin_);
        keepRankSpin_->setRange(0, 0);
        keepRankSpin_->setEnabled(false);
    }
    keepSummary_->clear();
}

void MatrixSpectrumBox::showError(const QString& message) {
    clear();
    error_ = message;
    errorLabel_->setText(message);
    errorLabel_->show();
}

void MatrixSpectrumBox::compute(const QString& modelDir, const QString& tensor) {
    if (modelDir.isEmpty()) return;
    clear(tr("Computing the singular values of %1 \u2026").arg(tensor));
    const quint64 gen = generation_;
    matrix_ = tensor;
    computing_ = true;
    clock_.start();
    SpectrumFn fn = spectrumFn_;
    const std::string dirStd = modelDir.toStdString(), tensorStd = tensor.toStdString();
    jobs_->run([fn, dirStd, tensorStd](qcw::RunContext& ctx) { return fn(dirStd, tensorStd, ctx); },
              [this, gen, tensor](Outcome<qcw::MatrixSpectrum> out) {
                  if (gen != generation_) return;  // superseded by a later selection or model
                  computing_ = false;
                  if (out.ok()) {
                      showValues(std::move(*out.value), clock_.elapsed());
                      emit spectrumReady(tensor);
                      return;
                  }
                  error_ = out.cancelled ? tr("cancelled") : (out.error.isEmpty() ? tr("unknown error") : out.error);
                  status_->setText(tr("No spectrum for %1.").arg(tensor));
                  errorLabel_->setText(error_);
                  errorLabel_->setToolTip(error_);
                  errorLabel_->show();
                  emit spectrumFailed(tensor, error_);
              });
}

void MatrixSpectrumBox::showValues(qcw::MatrixSpectrum s, qint64 ms) {
    spectrum_ = std::move(s);
    std::vector<double>& sv = spectrum_.singularValues;
    std::sort(sv.begin(), sv.end(), std::greater<double>());
    const bool rebuilt = spectrum_.storage != "dense";
    // A rebuilt low-rank matrix: the values after its numerical rank are float rounding.
    if (rebuilt && spectrum_.numericalRank > 0 && spectrum_.numericalRank < static_cast<int>(sv.size()))
        sv.resize(static_cast<std::size_t>(spectrum_.numericalRank));
    const int k = static_cast<int>(sv.size());
    tailSq_.assign(static_cast<std::size_t>(k) + 1, 0.0);
    for (int i = k - 1; i >= 0; --i) tailSq_[i] = tailSq_[i + 1] + sv[i] * sv[i];
    const qcw::SpectralStats& st = spectrum_.stats;

    status_->setText(rebuilt ? tr("%1, rebuilt from its %2 factors: %3 \u00d7 %4, numerical rank %5 (%6 ms)")
                                   .arg(matrix_, QString::fromStdString(spectrum_.storage))
                                   .arg(st.rows)
                                   .arg(st.cols)
                                   .arg(k)
                                   .arg(ms)
                             : tr("%1: %2 \u00d7 %3, %4 singular values (%5 ms)")
                                   .arg(matrix_)
                                   .arg(st.rows)
                                   .arg(st.cols)
                                   .arg(k)
                                   .arg(ms));
    status_->setToolTip(status_->text());
    errorLabel_->hide();

    // Marchenko-Pastur: core gives the edge of the eigenvalues s^2 / N, N = max(m, n).
    const double n = double(std::max(st.rows, st.cols));
    // (Not for a rebuilt low-rank matrix: it has no noise bulk for the edge to bound.)
    const double edge = !rebuilt && st.mpBulkEdge > 0 ? std::sqrt(st.mpBulkEdge * n) : 0.0;
    QStringList lines;
    lines << tr("entropy %1 nats").arg(number(st.entropy)) << tr("effective rank %1").arg(number(st.effectiveRank, 4))
          << tr("stable rank %1").arg(number(st.stableRank))
          << (st.alpha > 0 ? tr("power-law alpha %1").arg(number(st.alpha)) : tr("power-law alpha: not fitted"))
          << (edge > 0 ? tr("MP edge %1 (dashed), %2 above").arg(number(edge)).arg(st.spikes) : tr("MP edge: none"));
    view_->setSpectrum(sv, edge, lines.join(QLatin1Char('\n')));
    {
        const QSignalBlocker block(keepRankSpin_);
        keepRankSpin_->setRange(0, k);
        keepRankSpin_->setEnabled(k > 0);
    }
    setKeepRank(static_cast<int>(std::lround(keepShare_ * k)));
}

KeepRankSummary MatrixSpectrumBox::summaryFor(int r) const {
    KeepRankSummary out;
    const int k = static_cast<int>(spectrum_.singularValues.size());
    if (k == 0) return out;
    out.rank = std::clamp(r, 0, k);
    out.fullRank = k;
    out.rows = spectrum_.stats.rows;
    out.cols = spectrum_.stats.cols;
    const double total = tailSq_[0];
    out.relativeError = total > 0 ? std::sqrt(std::max(0.0, tailSq_[static_cast<std::size_t>(out.rank)]) / total) : 0.0;
    out.params = static_cast<long long>(out.rank) * (out.rows + out.cols);
    out.denseParams = out.rows * out.cols;
    out.keptFraction = out.denseParams > 0 ? double(out.params) / double(out.denseParams) : 0.0;
    out.text = tr("Rank %1 of %2: relative Frobenius error %3; parameters r(m+n) = %4 of m\u00b7n = %5 (%6 kept%7)")
                   .arg(out.rank)
                   .arg(k)
                   .arg(percent(out.relativeError), formatCount(out.params), formatCount(out.denseParams),
                        percent(out.keptFraction), out.keptFraction > 1 ? tr(", larger than the dense matrix") : QString());
    return out;
}

int MatrixSpectrumBox::keepRank() const { return view_->keepRank(); }
KeepRankSummary MatrixSpectrumBox::keepRankSummary() const { return summaryFor(view_->keepRank()); }

void MatrixSpectrumBox::setKeepRank(int r) {
    if (!view_->setKeepRank(r)) return;
    r = view_->keepRank();
    keepShare_ = double(r) / double(spectrum_.singularValues.size());
    {
        const QSignalBlocker block(keepRankSpin_);
        keepRankSpin_->setValue(r);
    }
    keepSummary_->setText(summaryFor(r).text);
    emit keepRankChanged(r);
}

}  // namespace qcw::ui
