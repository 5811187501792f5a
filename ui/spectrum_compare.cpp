#include "ui/spectrum_compare.h"

#include "ui/spectrum_view.h"

#include <QLabel>
#include <QLocale>
#include <QVBoxLayout>

namespace qcw::ui {

SpectrumCompare::SpectrumCompare(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("spectrum-compare-tab"));
    auto* cv = new QVBoxLayout(this);
    cv->setContentsMargins(0, 0, 0, 0);
    plot_ = new SpectrumView(SpectrumView::Mode::Compare);
    plot_->setObjectName(QStringLiteral("spectrum-compare"));
    plot_->setMinimumHeight(160);
    cv->addWidget(plot_, 1);
    summary_ = new QLabel;
    summary_->setObjectName(QStringLiteral("spectrum-compare-summary"));
    summary_->setWordWrap(true);
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    cv->addWidget(summary_);
}

void SpectrumCompare::clear() {
    plot_->clear();
    summary_->setText(tr("After a compression, select a layer in the table to compare its singular values before "
                         "and after."));
}

void SpectrumCompare::showComputing(const QString& layer) {
    summary_->setText(tr("Computing the spectra of %1 before and after …").arg(layer));
}

void SpectrumCompare::showFailure(const QString& layer, const QString& error) {
    summary_->setText(tr("Could not compare the spectra of %1: %2").arg(layer, error));
}

void SpectrumCompare::showSpectra(const QString& layer, const qcw::MatrixSpectrum& b, const qcw::MatrixSpectrum& a) {
    plot_->setComparison(b.singularValues, a.singularValues, a.numericalRank, QString::fromStdString(a.storage));

    const double energy = b.stats.frobeniusSq > 0 ? a.stats.frobeniusSq / b.stats.frobeniusSq : 0.0;
    auto number = [](double v, int digits = 3) { return QLocale().toString(v, 'g', digits); };
    summary_->setText(tr("%1, %2 x %3, stored as %4: numerical rank %5 of %6 (dashed). Squared norm kept "
                         "%7 %; entropy %8 → %9 nats; effective rank %10 → %11; stable rank %12 → "
                         "%13. Values below s_1 x max(m, n) x 1.2e-7 are float rounding and not drawn.")
                          .arg(layer)
                          .arg(b.stats.rows)
                          .arg(b.stats.cols)
                          .arg(QString::fromStdString(a.storage))
                          .arg(a.numericalRank)
                          .arg(b.numericalRank)
                          .arg(QLocale().toString(100.0 * energy, 'f', 1))
                          .arg(number(b.stats.entropy), number(a.stats.entropy), number(b.stats.effectiveRank, 4),
                               number(a.stats.effectiveRank, 4), number(b.stats.stableRank),
                               number(a.stats.stableRank)));
}

}  // namespace qcw::ui
