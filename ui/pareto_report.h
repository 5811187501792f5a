#pragma once
// A size/quality/speed report: DIR/pareto.json as benchmarks/demo_report_tables.py writes it
// (one point per model or method sweep, with the brief's targets). Reading it, its Pareto
// fronts and the verdict on the targets; Qt only, no drawing (report_plots.h draws).
#include <QString>

#include <cmath>
#include <limits>
#include <vector>

namespace qcw::ui {

constexpr double kNotMeasured = std::numeric_limits<double>::quiet_NaN();

struct ReportPoint {
    QString name;
    QString group;  // "baselines", "product" or a method sweep ("svd", "tucker", ...)
    double params = kNotMeasured;
    double paramsKept = kNotMeasured;    // required
    double perplexity = kNotMeasured;
    double qualityKept = kNotMeasured;   // required: dense perplexity / model perplexity
    double decodeTokS = kNotMeasured;
    double decodeSpeedup = kNotMeasured;
    double prefillSpeedup = kNotMeasured;
    double peakRssMb = kNotMeasured;
    double bytesOnDisk = kNotMeasured;
    bool hasSpeed() const { return std::isfinite(decodeSpeedup); }
};

struct ReportTargets {
    double paramsKeptMax = kNotMeasured;
    double qualityKeptMin = kNotMeasured;
    double decodeSpeedupMin = kNotMeasured;
};

struct ParetoReport {
    QString dir;
    QString file;  // DIR/pareto.json
    QString model, machine, quality;
    double densePerplexity = kNotMeasured;
    ReportTargets targets;
    std::vector<ReportPoint> points;
};

// Reads DIR/pareto.json. On failure returns false and sets `error` to one line naming the
// file and what is wrong (missing, not JSON, a missing or non-numeric field).
bool loadParetoReport(const QString& dir, ParetoReport& out, QString& error);

// Indices of the non-dominated points, in increasing x. Size: fewer parameters kept and more
// quality kept is better. Speed: higher decode speed-up and more quality kept, over the
// points whose speed was measured.
std::vector<int> paretoFrontSize(const ParetoReport& report);
std::vector<int> paretoFrontSpeed(const ParetoReport& report);

enum class Target { ParamsKept, QualityKept, DecodeSpeedup };

struct TargetVerdict {
    Target target;
    double threshold = kNotMeasured;
    int best = -1;  // the group's best point for this target (-1: none measured)
    double value = kNotMeasured;
    bool met = false;
};

struct TargetsEvaluation {
    QString group;
    std::vector<TargetVerdict> verdicts;  // params, quality, decode
    std::vector<int> allMet;              // points of the group meeting all three at once
};

TargetsEvaluation evaluateTargets(const ParetoReport& report, const QString& group = QStringLiteral("product"));
QString targetName(Target target);                             // "parameters kept"
QString targetCondition(Target target, double threshold);      // "≤ 0.30"
QString targetValue(Target target, double value);              // "0.298", "2.91x"

// The targets as a short Markdown document (targets.md).
QString targetsMarkdown(const ParetoReport& report, const TargetsEvaluation& eval);

// The newest subfolder of `resultsDir` holding a pareto.json (by the file's modification
// time, then by name); empty when there is none.
QString newestReportDir(const QString& resultsDir);

}  // namespace qcw::ui
