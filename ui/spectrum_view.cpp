#include "ui/spectrum_view.h"

#include "ui/log_axis.h"

#include <QMouseEvent>

#include <algorithm>
#include <cmath>
#include <limits>

namespace qcw::ui {

namespace {
// A press this close to the keep-rank line (pixels) grabs it; elsewhere it jumps there.
constexpr int kGrabPixels = 8;

void addDiscGraph(QCustomPlot* plot, const QString& name, const QPen& pen) {
    plot->addGraph();
    QCPGraph* g = plot->graph(plot->graphCount() - 1);
    g->setName(name);
    g->setPen(pen);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 3));
}
}  // namespace

SpectrumView::SpectrumView(Mode mode, QWidget* parent) : QCustomPlot(parent), mode_(mode) {
    const bool keep = mode == Mode::KeepRank;
    if (keep) {
        setToolTip(tr("Drag the vertical line (or click) to choose the rank to keep"));
        addDiscGraph(this, tr("kept"), QPen(QColor(0x1e, 0x88, 0xe5), 1.6));
        graph(0)->setLineStyle(QCPGraph::lsLine);
        addDiscGraph(this, tr("discarded"), QPen(QColor(0x9e, 0x9e, 0x9e), 1.2));
    } else {
        setNoAntialiasingOnDrag(true);
        setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
        addDiscGraph(this, tr("original"), QPen(QColor(0x9e, 0x9e, 0x9e), 1.6));
        addDiscGraph(this, tr("compressed"), QPen(QColor(0x1e, 0x88, 0xe5), 1.6));
    }
    xAxis->setLabel(tr("index i"));
    yAxis->setLabel(tr("singular value s_i"));
    makeLogAxis(yAxis);

    rankLine_ = new QCPItemStraightLine(this);
    rankLine_->setVisible(false);
    if (!keep) {
        rankLine_->setPen(QPen(QColor(0x43, 0xa0, 0x47), 1.4, Qt::DashLine));
        legend->setVisible(true);
        axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
        return;
    }
    edgeLine_ = new QCPItemStraightLine(this);
    edgeLine_->setPen(QPen(QColor(0xe5, 0x39, 0x35), 1.2, Qt::DashLine));
    edgeLine_->setVisible(false);
    rankLine_->setPen(QPen(QColor(0x43, 0xa0, 0x47), 2.0));
    statsText_ = new QCPItemText(this);
    statsText_->position->setType(QCPItemPosition::ptAxisRectRatio);
    statsText_->position->setCoords(0.98, 0.03);
    statsText_->setPositionAlignment(Qt::AlignTop | Qt::AlignRight);
    statsText_->setTextAlignment(Qt::AlignLeft);
    statsText_->setPadding(QMargins(6, 4, 6, 4));
    statsText_->setPen(QPen(QColor(0xbd, 0xbd, 0xbd)));
    statsText_->setBrush(QBrush(QColor(255, 255, 255, 220)));
    statsText_->setColor(QColor(0x21, 0x21, 0x21));
    statsText_->setVisible(false);
    legend->setVisible(false);

    connect(this, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
        if (e->button() != Qt::LeftButton || values_.empty()) return;
        if (!axisRect()->rect().contains(e->pos())) return;
        dragging_ = true;
        emit keepRankPicked(rankAtPixel(e->position().x()));
    });
    connect(this, &QCustomPlot::mouseMove, this, [this](QMouseEvent* e) {
        if (values_.empty()) return;
        if (dragging_ && (e->buttons() & Qt::LeftButton)) {
            emit keepRankPicked(rankAtPixel(e->position().x()));
            return;
        }
        const double lineX = xAxis->coordToPixel(rank_);
        const bool near = std::abs(e->position().x() - lineX) <= kGrabPixels;
        setCursor(near ? Qt::SizeHorCursor : Qt::ArrowCursor);
    });
    connect(this, &QCustomPlot::mouseRelease, this, [this](QMouseEvent*) { dragging_ = false; });
}

void SpectrumView::clear() {
    values_.clear();
    rank_ = 0;
    graph(0)->data()->clear();
    graph(1)->data()->clear();
    rankLine_->setVisible(false);
    if (edgeLine_) edgeLine_->setVisible(false);
    if (statsText_) statsText_->setVisible(false);
    xAxis->setRange(0, 1);
    yAxis->setRange(0.1, 10);
    replot(QCustomPlot::rpQueuedReplot);
}

int SpectrumView::rankAtPixel(double x) const {
    const int k = static_cast<int>(values_.size());
    const double coord = xAxis->pixelToCoord(x);
    return std::clamp(static_cast<int>(std::lround(coord)), 0, k);
}

void SpectrumView::setSpectrum(std::vector<double> values, double mpEdge, const QString& stats) {
    if (mode_ != Mode::KeepRank) return;
    values_ = std::move(values);
    rank_ = -1;  // the next setKeepRank draws
    graph(0)->data()->clear();
    graph(1)->data()->clear();
    rankLine_->setVisible(false);
    const int k = static_cast<int>(values_.size());
    double lo = 0, hi = 0;
    for (double v : values_)
        if (v > 0) {
            lo = lo > 0 ? std::min(lo, v) : v;
            hi = std::max(hi, v);
        }
    if (mpEdge > 0 && std::isfinite(mpEdge)) {
        edgeLine_->point1->setCoords(0, mpEdge);
        edgeLine_->point2->setCoords(1, mpEdge);
        edgeLine_->setVisible(true);
        lo = lo > 0 ? std::min(lo, mpEdge) : mpEdge;
        hi = std::max(hi, mpEdge);
    } else {
        edgeLine_->setVisible(false);
    }
    statsText_->setText(stats);
    statsText_->setVisible(k > 0 && !stats.isEmpty());
    xAxis->setRange(0, std::max(1, k) + 1);
    if (hi > 0) fitLogAxis(yAxis, lo, hi, 1.6, 3.0);  // headroom for the text box
    replot(QCustomPlot::rpQueuedReplot);
}

bool SpectrumView::setKeepRank(int r) {
    const int k = static_cast<int>(values_.size());
    if (k == 0) return false;
    r = std::clamp(r, 0, k);
    if (r == rank_) return false;
    rank_ = r;
    QVector<double> kx, ky, dx, dy;
    for (int i = 0; i < k; ++i) {
        const double v = values_[static_cast<std::size_t>(i)];
        if (v <= 0) continue;  // a log axis cannot show exact zeros
        (i < r ? kx : dx).push_back(i + 1);
        (i < r ? ky : dy).push_back(v);
    }
    // The kept curve reaches over to the first discarded value so the line is unbroken.
    if (!dx.isEmpty() && !kx.isEmpty()) {
        kx.push_back(dx.front());
        ky.push_back(dy.front());
    }
    graph(0)->setData(kx, ky, true);
    graph(1)->setData(dx, dy, true);
    rankLine_->point1->setCoords(r, 1);
    rankLine_->point2->setCoords(r, 2);
    rankLine_->setVisible(true);
    replot(QCustomPlot::rpQueuedReplot);
    return true;
}

void SpectrumView::setComparison(const std::vector<double>& before, const std::vector<double>& after, int afterRank,
                                 const QString& afterStorage) {
    if (mode_ != Mode::Compare) return;
    QVector<double> xb, yb, xa, ya;
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (std::size_t i = 0; i < before.size(); ++i)
        if (before[i] > 0) {
            xb << double(i + 1);
            yb << before[i];
            lo = std::min(lo, before[i]);
            hi = std::max(hi, before[i]);
        }
    for (int i = 0; i < afterRank && i < static_cast<int>(after.size()); ++i) {
        xa << double(i + 1);
        ya << after[static_cast<std::size_t>(i)];
        lo = std::min(lo, ya.back());
        hi = std::max(hi, ya.back());
    }
    graph(0)->setData(xb, yb, true);
    graph(1)->setData(xa, ya, true);
    graph(1)->setName(tr("compressed (%1)").arg(afterStorage));
    rankLine_->point1->setCoords(afterRank, 1);
    rankLine_->point2->setCoords(afterRank, 2);
    rankLine_->setVisible(afterRank > 0);
    xAxis->setRange(0, double(std::max(before.size(), after.size())) + 1);
    if (hi > 0) fitLogAxis(yAxis, lo, hi);
    replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace qcw::ui
