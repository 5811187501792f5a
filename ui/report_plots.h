#pragma once
// The two charts of a size/quality/speed report (pareto_report.h), drawn with QCustomPlot:
// quality kept against parameters kept, and against decode speed-up. Each point is in the
// legend by group (baselines and product points also labelled by name), the Pareto front is a
// line, the brief's targets are dashed lines around a shaded "meets the brief" region.
// `qcw --report-plots DIR` and the evaluation pane's "Export PNGs" write the same files.
#include "ui/pareto_report.h"

#include <QImage>
#include <QString>
#include <QStringList>

class QCustomPlot;

namespace qcw::ui {

enum class ReportChart { QualityVsParams, QualityVsDecode };

// The exported images' size in pixels.
constexpr int kReportPlotWidth = 1000;
constexpr int kReportPlotHeight = 650;

// Replaces whatever `plot` shows with `chart` of `report`. GUI thread.
// `compact`: for a small widget (the pane shows the machine and the definitions beside it):
// a one-line title, short axis labels and a smaller legend.
void drawReportChart(QCustomPlot* plot, const ParetoReport& report, ReportChart chart, bool compact = false);
void clearReportChart(QCustomPlot* plot, const QString& message = {});

// What an export writes: DIR/quality_vs_params.png, DIR/quality_vs_decode.png, DIR/targets.md.
struct ReportOutputs {
    QImage params, decode;
    QString markdown;
};
// Renders both charts at kReportPlotWidth x kReportPlotHeight. GUI thread.
ReportOutputs renderReportOutputs(const ParetoReport& report);
// Writes the three files into `dir`, each atomically (a temporary file, then a rename). Any
// thread. On failure false with a one-line `error` naming the file; `written`: paths written.
bool writeReportOutputs(const ReportOutputs& outputs, const QString& dir, QString& error, QStringList* written = nullptr);

}  // namespace qcw::ui
