#include "ui/report_plots.h"

#include <QDir>
#include <QFileInfo>
#include <QLocale>
#include <QSaveFile>

#include <qcustomplot.h>

#include <algorithm>
#include <functional>
#include <map>

namespace qcw::ui {

namespace {

struct GroupStyle {
    QColor color;
    QCPScatterStyle::ScatterShape shape;
    double size;
};

GroupStyle styleFor(const QString& group, int index) {
    static const std::map<QString, GroupStyle> known = {
        {QStringLiteral("baselines"), {QColor(0x54, 0x6e, 0x7a), QCPScatterStyle::ssSquare, 9}},
        {QStringLiteral("product"), {QColor(0xd8, 0x1b, 0x60), QCPScatterStyle::ssDiamond, 12}},
        {QStringLiteral("svd"), {QColor(0x1e, 0x88, 0xe5), QCPScatterStyle::ssCircle, 7}},
        {QStringLiteral("asvd"), {QColor(0x00, 0x89, 0x7b), QCPScatterStyle::ssCircle, 7}},
        {QStringLiteral("tucker"), {QColor(0xfb, 0x8c, 0x00), QCPScatterStyle::ssTriangle, 8}},
        {QStringLiteral("tucker-xl"), {QColor(0x6d, 0x4c, 0x41), QCPScatterStyle::ssTriangleInverted, 8}},
        {QStringLiteral("tt"), {QColor(0x8e, 0x24, 0xaa), QCPScatterStyle::ssCross, 8}},
    };
    const auto it = known.find(group);
    if (it != known.end()) return it->second;
    static const QColor others[] = {QColor(0x39, 0x49, 0xab), QColor(0xc0, 0xca, 0x33), QColor(0x5d, 0x40, 0x37)};
    return {others[index % 3], QCPScatterStyle::ssPlus, 8};
}

QString groupLabel(const QString& group) {
    if (group == QLatin1String("baselines")) return QStringLiteral("baselines (dense, int8, SVD)");
    if (group == QLatin1String("product")) return QStringLiteral("product");
    return group + QStringLiteral(" sweep");
}

double xOf(const ReportPoint& p, ReportChart c) {
    return c == ReportChart::QualityVsParams ? p.paramsKept : p.decodeSpeedup;
}

void addText(QCustomPlot* plot, double x, double y, const QString& text, Qt::Alignment align, const QColor& color,
             int pointSize) {
    auto* t = new QCPItemText(plot);
    t->position->setType(QCPItemPosition::ptPlotCoords);
    t->position->setCoords(x, y);
    t->setPositionAlignment(align);
    t->setText(text);
    t->setColor(color);
    QFont f = plot->font();
    f.setPointSize(pointSize);
    t->setFont(f);
    t->setClipToAxisRect(true);
}

}  // namespace

void clearReportChart(QCustomPlot* plot, const QString& message) {
    plot->clearGraphs();
    plot->clearItems();
    plot->clearPlottables();
    if (plot->plotLayout()->rowCount() > 1) {
        plot->plotLayout()->removeAt(0);
        plot->plotLayout()->simplify();
    }
    plot->legend->setVisible(false);
    plot->xAxis->setLabel({});
    plot->yAxis->setLabel({});
    plot->xAxis->setRange(0, 1);
    plot->yAxis->setRange(0, 1);
    if (!message.isEmpty()) addText(plot, 0.5, 0.5, message, Qt::AlignCenter, QColor(0x75, 0x75, 0x75), 10);
    plot->replot(QCustomPlot::rpQueuedReplot);
}

void drawReportChart(QCustomPlot* plot, const ParetoReport& r, ReportChart chart, bool compact) {
    clearReportChart(plot);
    const bool params = chart == ReportChart::QualityVsParams;
    const ReportTargets& t = r.targets;
    const double xTarget = params ? t.paramsKeptMax : t.decodeSpeedupMin;

    // Ranges from the data and the targets, padded.
    double xMax = xTarget, yMin = t.qualityKeptMin, yMax = t.qualityKeptMin;
    bool any = false;
    for (const ReportPoint& p : r.points) {
        const double x = xOf(p, chart);
        if (!std::isfinite(x)) continue;
        any = true;
        xMax = std::max(xMax, x);
        yMin = std::min(yMin, p.qualityKept);
        yMax = std::max(yMax, p.qualityKept);
    }
    const double yPad = std::max(0.02, 0.08 * (yMax - yMin));
    const QCPRange xr(0, xMax * (params ? 1.08 : 1.15)), yr(std::max(0.0, yMin - yPad), yMax + yPad);
    plot->xAxis->setRange(xr);
    plot->yAxis->setRange(yr);
    plot->xAxis->setLabel(params ? QStringLiteral("parameters kept (fraction of the dense model)")
                                 : QStringLiteral("decode speed-up against dense (batch 1)"));
    plot->yAxis->setLabel(compact ? QStringLiteral("quality kept") : QStringLiteral("quality kept (%1)").arg(r.quality));
    if (compact) plot->xAxis->setLabel(params ? QStringLiteral("parameters kept") : QStringLiteral("decode speed-up"));

    // Title: what, which model, which machine.
    plot->plotLayout()->insertRow(0);
    QFont tf = plot->font();
    tf.setPointSize(10);
    tf.setBold(true);
    QString heading = QStringLiteral("%1 \u2014 %2\n%3")
                          .arg(params ? QStringLiteral("Quality kept against parameters kept")
                                      : QStringLiteral("Quality kept against decode speed-up"),
                               r.model, r.machine);
    int unmeasured = 0;
    for (const ReportPoint& p : r.points) unmeasured += std::isfinite(xOf(p, chart)) ? 0 : 1;
    if (unmeasured > 0)
        heading += QStringLiteral("\n(%1 of %2 points have no measured decode speed and are not drawn)")
                       .arg(unmeasured)
                       .arg(r.points.size());
    if (compact) {
        heading = params ? QStringLiteral("Quality kept against parameters kept")
                         : QStringLiteral("Quality kept against decode speed-up");
        if (unmeasured > 0) heading += QStringLiteral(" (%1 points without a speed not drawn)").arg(unmeasured);
        tf.setPointSize(9);
    }
    auto* title = new QCPTextElement(plot, heading, tf);
    plot->plotLayout()->addElement(0, 0, title);

    // The region that meets the brief (on this chart's two axes), then the target lines.
    const QColor green(0x2e, 0x7d, 0x32);
    auto* region = new QCPItemRect(plot);
    const double far = 10 * (xr.size() + yr.size());
    region->topLeft->setCoords(params ? xr.lower - far : xTarget, yr.upper + far);
    region->bottomRight->setCoords(params ? xTarget : xr.upper + far, t.qualityKeptMin);
    region->setPen(Qt::NoPen);
    region->setBrush(QColor(green.red(), green.green(), green.blue(), 34));
    QPen dash(green, 1.4, Qt::DashLine);
    auto* vline = new QCPItemStraightLine(plot);
    vline->point1->setCoords(xTarget, 0);
    vline->point2->setCoords(xTarget, 1);
    vline->setPen(dash);
    auto* hline = new QCPItemStraightLine(plot);
    hline->point1->setCoords(0, t.qualityKeptMin);
    hline->point2->setCoords(1, t.qualityKeptMin);
    hline->setPen(dash);
    const QString xName = params ? QStringLiteral("parameters kept ") : QStringLiteral("decode ");
    const Target xKind = params ? Target::ParamsKept : Target::DecodeSpeedup;
    // At the foot of the line, or at its head where the legend sits below it.
    addText(plot, xTarget, params ? yr.lower + 0.01 * yr.size() : yr.upper,
            QStringLiteral(" ") + xName + targetCondition(xKind, xTarget),
            Qt::AlignLeft | (params ? Qt::AlignBottom : Qt::AlignTop), green, 8);
    addText(plot, params ? xr.upper : xr.lower, t.qualityKeptMin,
            QStringLiteral(" quality kept %1 ").arg(targetCondition(Target::QualityKept, t.qualityKeptMin)),
            (params ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignTop, green, 8);
    addText(plot, params ? xr.lower + 0.005 * xr.size() : xr.upper - 0.005 * xr.size(), yr.upper,
            QStringLiteral("meets the brief"), (params ? Qt::AlignLeft : Qt::AlignRight) | Qt::AlignTop, green, 9);

    // One graph per group, in the file's order of first appearance.
    std::vector<QString> groups;
    for (const ReportPoint& p : r.points)
        if (std::find(groups.begin(), groups.end(), p.group) == groups.end()) groups.push_back(p.group);
    plot->legend->setVisible(true);
    QFont lf = plot->font();
    lf.setPointSize(compact ? 7 : 8);
    plot->legend->setFont(lf);
    if (compact) plot->legend->setRowSpacing(0);
    plot->legend->setBrush(QColor(255, 255, 255, 220));
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | (params ? Qt::AlignRight : Qt::AlignHCenter));
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const GroupStyle s = styleFor(groups[g], int(g));
        QCPGraph* graph = plot->addGraph();
        graph->setName(groupLabel(groups[g]));
        graph->setLineStyle(QCPGraph::lsNone);
        graph->setScatterStyle(QCPScatterStyle(s.shape, s.color, s.color, s.size));
        graph->setPen(QPen(s.color, 1.5));
        for (const ReportPoint& p : r.points) {
            if (p.group != groups[g]) continue;
            const double x = xOf(p, chart);
            if (std::isfinite(x)) graph->addData(x, p.qualityKept);
        }
        if (graph->dataCount() == 0) graph->removeFromLegend();
    }

    // The Pareto front.
    const std::vector<int> front = params ? paretoFrontSize(r) : paretoFrontSpeed(r);
    QCPGraph* fg = plot->addGraph();
    fg->setName(QStringLiteral("Pareto front"));
    fg->setLineStyle(QCPGraph::lsLine);
    fg->setPen(QPen(QColor(0x21, 0x21, 0x21), 1.3));
    for (int i : front) fg->addData(xOf(r.points[std::size_t(i)], chart), r.points[std::size_t(i)].qualityKept);

    // Names for the baselines and the product (the sweeps are in the legend): to the right of
    // the point, or to its left in the right part of the chart; pushed apart vertically.
    struct Label {
        double x, y;
        QString text;
        QColor color;
    };
    std::vector<Label> labels;
    for (std::size_t i = 0; i < r.points.size(); ++i) {
        const ReportPoint& p = r.points[i];
        const double x = xOf(p, chart);
        if (!std::isfinite(x) || (p.group != QLatin1String("baselines") && p.group != QLatin1String("product"))) continue;
        const int g = int(std::find(groups.begin(), groups.end(), p.group) - groups.begin());
        labels.push_back({x, p.qualityKept, p.name, styleFor(p.group, g).color.darker(130)});
    }
    std::sort(labels.begin(), labels.end(), [](const Label& a, const Label& b) { return a.y > b.y; });
    const double sep = 0.035 * yr.size(), near = 0.3 * xr.size();
    std::vector<Label> placed;
    for (Label l : labels) {
        const double pointY = l.y;
        for (const Label& o : placed)
            if (std::abs(o.x - l.x) < near && l.y > o.y - sep) l.y = o.y - sep;
        placed.push_back(l);
        const bool left = l.x > xr.lower + 0.6 * xr.size();
        const double dx = (left ? -0.012 : 0.012) * xr.size();
        addText(plot, l.x + dx, l.y, l.text, (left ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignVCenter, l.color, 8);
        if (std::abs(l.y - pointY) > 1e-12) {
            auto* leader = new QCPItemLine(plot);
            leader->start->setCoords(l.x, pointY);
            leader->end->setCoords(l.x + dx, l.y);
            leader->setPen(QPen(l.color, 0.8));
        }
    }
    if (!any) addText(plot, xr.center(), yr.center(), QStringLiteral("no point has this measurement"), Qt::AlignCenter,
                      QColor(0x75, 0x75, 0x75), 10);
    plot->replot(QCustomPlot::rpQueuedReplot);
}

ReportOutputs renderReportOutputs(const ParetoReport& report) {
    ReportOutputs out;
    QCustomPlot plot;
    plot.resize(kReportPlotWidth, kReportPlotHeight);
    drawReportChart(&plot, report, ReportChart::QualityVsParams);
    out.params = plot.toPixmap(kReportPlotWidth, kReportPlotHeight, 1.0).toImage();
    drawReportChart(&plot, report, ReportChart::QualityVsDecode);
    out.decode = plot.toPixmap(kReportPlotWidth, kReportPlotHeight, 1.0).toImage();
    out.markdown = targetsMarkdown(report, evaluateTargets(report));
    return out;
}

bool writeReportOutputs(const ReportOutputs& o, const QString& dir, QString& error, QStringList* written) {
    const QDir d(dir);
    if (!QFileInfo(dir).isDir()) {
        error = QStringLiteral("%1: no such folder").arg(QDir::toNativeSeparators(dir));
        return false;
    }
    auto save = [&](const QString& name, const std::function<bool(QSaveFile&)>& write) {
        const QString path = d.filePath(name);
        QSaveFile f(path);  // a temporary file beside it, renamed on commit
        if (!f.open(QIODevice::WriteOnly)) {
            error = QStringLiteral("%1: %2").arg(QDir::toNativeSeparators(path), f.errorString());
            return false;
        }
        if (!write(f)) {
            f.cancelWriting();
            error = QStringLiteral("%1: could not write").arg(QDir::toNativeSeparators(path));
            return false;
        }
        if (!f.commit()) {
            error = QStringLiteral("%1: %2").arg(QDir::toNativeSeparators(path), f.errorString());
            return false;
        }
        if (written) written->append(path);
        return true;
    };
    if (o.params.isNull() || o.decode.isNull()) {
        error = QStringLiteral("the charts could not be rendered");
        return false;
    }
    return save(QStringLiteral("quality_vs_params.png"), [&](QSaveFile& f) { return o.params.save(&f, "PNG"); }) &&
           save(QStringLiteral("quality_vs_decode.png"), [&](QSaveFile& f) { return o.decode.save(&f, "PNG"); }) &&
           save(QStringLiteral("targets.md"), [&](QSaveFile& f) {
               const QByteArray bytes = o.markdown.toUtf8();
               return f.write(bytes) == bytes.size();
           });
}

}  // namespace qcw::ui
