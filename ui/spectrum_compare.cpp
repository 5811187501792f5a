#include "ui/spectrum_compare.h"

#include "ui/log_axis.h"

#include <QLabel>
#include <QLocale>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
#include <limits>

namespace qcw::ui {

SpectrumCompare::SpectrumCompare(QWidget* parent) : QWidget(parent) {
    setObjectName(QStringLiteral("spectrum-compare-tab"));
    auto* cv = new QVBoxLayout(this);
    cv->setContentsMargins(0, 0, 0, 0);
    plot_ = new QCustomPlot;
    plot_->setObjectName(QStringLiteral("spectrum-compare"));
    plot_->setMinimumHeight(160);
    plot_->setNoAntialiasingOnDrag(true);
    plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot_->addGraph();
    plot_->graph(0)->setName(tr("original"));
    plot_->graph(0)->setPen(QPen(QColor(0x9e, 0x9e, 0x9e), 1.6));
    plot_->graph(0)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 3));
    plot_->addGraph();
    plot_->graph(1)->setName(tr("compressed"));
    plot_->graph(1)->setPen(QPen(QColor(0x1e, 0x88, 0xe5), 1.6));
    plot_->graph(1)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 3));
    plot_->xAxis->setLabel(tr("index i"));
    plot_->yAxis->setLabel(tr("singular value s_i"));
    makeLogAxis(plot_->yAxis);
    plot_->legend->setVisible(true);
    plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    rankLine_ = new QCPItemStraightLine(plot_);
    rankLine_->setPen(QPen(QColor(0x43, 0xa0, 0x47), 1.4, Qt::DashLine));
    rankLine_->setVisible(false);
    cv->addWidget(plot_, 1);
    summary_ = new QLabel;
    summary_->setObjectName(QStringLiteral("spectrum-compare-summary"));
    summary_->setWordWrap(true);
    summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    cv->addWidget(summary_);
}

void SpectrumCompare::clear() {
    plot_->graph(0)->data()->clear();
    plot_->graph(1)->data()->clear();
    rankLine_->setVisible(false);
    plot_->xAxis->setRange(0, 1);
    plot_->yAxis->setRange(0.1, 10);
    plot_->replot(QCustomPlot::rpQueuedReplot);
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
    // The original in full; the compressed matrix up to its numerical rank (the values after it
    // are float rounding, below s_1 * max(m, n) * 1.2e-7).
    QVector<double> xb, yb, xa, ya;
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (std::size_t i = 0; i < b.singularValues.size(); ++i)
        if (b.singularValues[i] > 0) {
            xb << double(i + 1);
            yb << b.singularValues[i];
            lo = std::min(lo, b.singularValues[i]);
            hi = std::max(hi, b.singularValues[i]);
        }
    for (int i = 0; i < a.numericalRank && i < static_cast<int>(a.singularValues.size()); ++i) {
        xa << double(i + 1);
        ya << a.singularValues[static_cast<std::size_t>(i)];
        lo = std::min(lo, ya.back());
        hi = std::max(hi, ya.back());
    }
    plot_->graph(0)->setData(xb, yb, true);
    plot_->graph(1)->setData(xa, ya, true);
    plot_->graph(1)->setName(tr("compressed (%1)").arg(QString::fromStdString(a.storage)));
    rankLine_->point1->setCoords(a.numericalRank, 1);
    rankLine_->point2->setCoords(a.numericalRank, 2);
    rankLine_->setVisible(a.numericalRank > 0);
    plot_->xAxis->setRange(0, double(std::max(b.singularValues.size(), a.singularValues.size())) + 1);
    if (hi > 0) fitLogAxis(plot_->yAxis, lo, hi);
    plot_->replot(QCustomPlot::rpQueuedReplot);

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
