#include "ui/pareto_report.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>
#include <QLocale>
#include <QStringList>

#include <algorithm>

namespace qcw::ui {

namespace {

// A numeric field: absent or null leaves `value` unmeasured unless it is required.
bool readNumber(const QJsonObject& o, const char* key, bool required, double& value, QString& what) {
    const QJsonValue v = o.value(QLatin1String(key));
    if (v.isUndefined() || v.isNull()) {
        if (required) {
            what = QStringLiteral("missing field \"%1\"").arg(QLatin1String(key));
            return false;
        }
        return true;
    }
    if (!v.isDouble() || !std::isfinite(v.toDouble())) {
        what = QStringLiteral("field \"%1\" is not a number").arg(QLatin1String(key));
        return false;
    }
    value = v.toDouble();
    return true;
}

bool readString(const QJsonObject& o, const char* key, bool required, QString& value, QString& what) {
    const QJsonValue v = o.value(QLatin1String(key));
    if (v.isUndefined() || v.isNull()) {
        if (required) what = QStringLiteral("missing field \"%1\"").arg(QLatin1String(key));
        return !required;
    }
    if (!v.isString()) {
        what = QStringLiteral("field \"%1\" is not a string").arg(QLatin1String(key));
        return false;
    }
    value = v.toString();
    return true;
}

// Non-dominated indices among `candidates`: a point is dominated when another is at least as
// good in both and better in one. Equal points do not dominate each other.
std::vector<int> front(const ParetoReport& r, const std::vector<int>& candidates, double (*x)(const ReportPoint&),
                       bool smallerXBetter) {
    std::vector<int> out;
    for (int i : candidates) {
        const ReportPoint& p = r.points[std::size_t(i)];
        bool dominated = false;
        for (int j : candidates) {
            if (i == j) continue;
            const ReportPoint& q = r.points[std::size_t(j)];
            const double px = smallerXBetter ? -x(p) : x(p), qx = smallerXBetter ? -x(q) : x(q);
            if (qx >= px && q.qualityKept >= p.qualityKept && (qx > px || q.qualityKept > p.qualityKept)) {
                dominated = true;
                break;
            }
        }
        if (!dominated) out.push_back(i);
    }
    std::stable_sort(out.begin(), out.end(), [&](int a, int b) { return x(r.points[std::size_t(a)]) < x(r.points[std::size_t(b)]); });
    return out;
}

double paramsX(const ReportPoint& p) { return p.paramsKept; }
double speedX(const ReportPoint& p) { return p.decodeSpeedup; }

QString fixed(double v, int decimals) { return QLocale::c().toString(v, 'f', decimals); }

}  // namespace

bool loadParetoReport(const QString& dir, ParetoReport& out, QString& error) {
    out = ParetoReport{};
    const QString file = QDir(dir).filePath(QStringLiteral("pareto.json"));
    const QString shown = QDir::toNativeSeparators(file);
    if (!QFileInfo(dir).isDir()) {
        error = QStringLiteral("%1: no such folder").arg(QDir::toNativeSeparators(dir));
        return false;
    }
    QFile f(file);
    if (!f.exists()) {
        error = QStringLiteral("%1: missing (the folder holds no report)").arg(shown);
        return false;
    }
    if (!f.open(QIODevice::ReadOnly)) {
        error = QStringLiteral("%1: %2").arg(shown, f.errorString());
        return false;
    }
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &pe);
    if (pe.error != QJsonParseError::NoError) {
        error = QStringLiteral("%1: not valid JSON (%2 at offset %3)").arg(shown, pe.errorString()).arg(pe.offset);
        return false;
    }
    if (!doc.isObject()) {
        error = QStringLiteral("%1: expected a JSON object").arg(shown);
        return false;
    }
    const QJsonObject root = doc.object();
    QString what;
    auto fail = [&](const QString& where) {
        error = QStringLiteral("%1: %2%3").arg(shown, where, what);
        return false;
    };
    ParetoReport r;
    r.dir = dir;
    r.file = file;
    if (!readString(root, "model", true, r.model, what) || !readString(root, "machine", true, r.machine, what) ||
        !readString(root, "quality", true, r.quality, what) ||
        !readNumber(root, "dense_perplexity", false, r.densePerplexity, what))
        return fail({});
    const QJsonValue targets = root.value(QLatin1String("targets"));
    if (!targets.isObject()) {
        what = targets.isUndefined() ? QStringLiteral("missing field \"targets\"") : QStringLiteral("\"targets\" is not an object");
        return fail({});
    }
    const QJsonObject t = targets.toObject();
    if (!readNumber(t, "params_kept_max", true, r.targets.paramsKeptMax, what) ||
        !readNumber(t, "quality_kept_min", true, r.targets.qualityKeptMin, what) ||
        !readNumber(t, "decode_speedup_min", true, r.targets.decodeSpeedupMin, what))
        return fail(QStringLiteral("targets: "));
    const QJsonValue points = root.value(QLatin1String("points"));
    if (!points.isArray()) {
        what = points.isUndefined() ? QStringLiteral("missing field \"points\"") : QStringLiteral("\"points\" is not an array");
        return fail({});
    }
    const QJsonArray arr = points.toArray();
    if (arr.isEmpty()) {
        what = QStringLiteral("\"points\" is empty");
        return fail({});
    }
    for (int i = 0; i < arr.size(); ++i) {
        const QString where = QStringLiteral("points[%1]: ").arg(i);
        if (!arr.at(i).isObject()) {
            what = QStringLiteral("not an object");
            return fail(where);
        }
        const QJsonObject o = arr.at(i).toObject();
        ReportPoint p;
        if (!readString(o, "name", true, p.name, what) || !readString(o, "group", true, p.group, what) ||
            !readNumber(o, "params_kept", true, p.paramsKept, what) ||
            !readNumber(o, "quality_kept", true, p.qualityKept, what) || !readNumber(o, "params", false, p.params, what) ||
            !readNumber(o, "perplexity", false, p.perplexity, what) ||
            !readNumber(o, "decode_tok_s", false, p.decodeTokS, what) ||
            !readNumber(o, "decode_speedup", false, p.decodeSpeedup, what) ||
            !readNumber(o, "prefill_speedup", false, p.prefillSpeedup, what) ||
            !readNumber(o, "peak_rss_mb", false, p.peakRssMb, what) ||
            !readNumber(o, "bytes_on_disk", false, p.bytesOnDisk, what))
            return fail(where);
        r.points.push_back(std::move(p));
    }
    out = std::move(r);
    error.clear();
    return true;
}

std::vector<int> paretoFrontSize(const ParetoReport& report) {
    std::vector<int> all;
    for (std::size_t i = 0; i < report.points.size(); ++i) all.push_back(int(i));
    return front(report, all, &paramsX, true);
}

std::vector<int> paretoFrontSpeed(const ParetoReport& report) {
    std::vector<int> measured;
    for (std::size_t i = 0; i < report.points.size(); ++i)
        if (report.points[i].hasSpeed()) measured.push_back(int(i));
    return front(report, measured, &speedX, false);
}

TargetsEvaluation evaluateTargets(const ParetoReport& report, const QString& group) {
    TargetsEvaluation e;
    e.group = group;
    const ReportTargets& t = report.targets;
    const Target kinds[] = {Target::ParamsKept, Target::QualityKept, Target::DecodeSpeedup};
    auto value = [](Target k, const ReportPoint& p) {
        switch (k) {
            case Target::ParamsKept: return p.paramsKept;
            case Target::QualityKept: return p.qualityKept;
            case Target::DecodeSpeedup: return p.decodeSpeedup;
        }
        return kNotMeasured;
    };
    auto threshold = [&](Target k) {
        return k == Target::ParamsKept ? t.paramsKeptMax : k == Target::QualityKept ? t.qualityKeptMin : t.decodeSpeedupMin;
    };
    auto meets = [&](Target k, double v) {
        if (!std::isfinite(v)) return false;
        return k == Target::ParamsKept ? v <= threshold(k) : v >= threshold(k);
    };
    for (Target k : kinds) {
        TargetVerdict v;
        v.target = k;
        v.threshold = threshold(k);
        for (std::size_t i = 0; i < report.points.size(); ++i) {
            const ReportPoint& p = report.points[i];
            const double x = value(k, p);
            if (p.group != group || !std::isfinite(x)) continue;
            const bool better = v.best < 0 || (k == Target::ParamsKept ? x < v.value : x > v.value);
            if (better) {
                v.best = int(i);
                v.value = x;
            }
        }
        v.met = v.best >= 0 && meets(k, v.value);
        e.verdicts.push_back(v);
    }
    for (std::size_t i = 0; i < report.points.size(); ++i) {
        const ReportPoint& p = report.points[i];
        if (p.group != group) continue;
        if (std::all_of(std::begin(kinds), std::end(kinds), [&](Target k) { return meets(k, value(k, p)); }))
            e.allMet.push_back(int(i));
    }
    return e;
}

QString targetName(Target target) {
    switch (target) {
        case Target::ParamsKept: return QStringLiteral("parameters kept");
        case Target::QualityKept: return QStringLiteral("quality kept");
        case Target::DecodeSpeedup: return QStringLiteral("decode speed-up");
    }
    return {};
}

QString targetValue(Target target, double value) {
    if (!std::isfinite(value)) return QStringLiteral("not measured");
    return target == Target::DecodeSpeedup ? fixed(value, 2) + QLatin1Char('x') : fixed(value, 3);
}

QString targetCondition(Target target, double threshold) {
    const QString t = target == Target::DecodeSpeedup ? fixed(threshold, 1) + QLatin1Char('x') : fixed(threshold, 2);
    return (target == Target::ParamsKept ? QStringLiteral("\u2264 ") : QStringLiteral("\u2265 ")) + t;
}

QString targetsMarkdown(const ParetoReport& r, const TargetsEvaluation& e) {
    QStringList lines;
    lines << QStringLiteral("# The brief's targets: %1").arg(r.model) << QString()
          << QStringLiteral("From `pareto.json` in this folder (machine: %1). Quality kept = %2. "
                            "Only the points of group \"%3\" count.")
                 .arg(r.machine, r.quality, e.group)
          << QString() << QStringLiteral("| target | best %1 model | value | verdict |").arg(e.group)
          << QStringLiteral("|---|---|---|---|");
    for (const TargetVerdict& v : e.verdicts) {
        const QString name = v.best >= 0 ? r.points[std::size_t(v.best)].name : QStringLiteral("none measured");
        lines << QStringLiteral("| %1 %2 | %3 | %4 | %5 |")
                     .arg(targetName(v.target), targetCondition(v.target, v.threshold), name,
                          targetValue(v.target, v.value), v.met ? QStringLiteral("met") : QStringLiteral("not met"));
    }
    lines << QString();
    if (e.allMet.empty()) {
        lines << QStringLiteral("All three at once: no %1 model meets them together.").arg(e.group);
    } else {
        QStringList names;
        for (int i : e.allMet) {
            const ReportPoint& p = r.points[std::size_t(i)];
            names << QStringLiteral("%1 (%2 parameters kept, quality kept %3, decode %4)")
                         .arg(p.name, targetValue(Target::ParamsKept, p.paramsKept),
                              targetValue(Target::QualityKept, p.qualityKept),
                              targetValue(Target::DecodeSpeedup, p.decodeSpeedup));
        }
        lines << QStringLiteral("All three at once: met by %1.").arg(names.join(QStringLiteral("; ")));
    }
    return lines.join(QLatin1Char('\n')) + QLatin1Char('\n');
}

QString newestReportDir(const QString& resultsDir) {
    if (resultsDir.isEmpty()) return {};
    QString best;
    QDateTime bestTime;
    const QFileInfoList dirs =
        QDir(resultsDir).entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name);
    for (const QFileInfo& d : dirs) {
        const QFileInfo f(QDir(d.absoluteFilePath()).filePath(QStringLiteral("pareto.json")));
        if (!f.isFile()) continue;
        const QDateTime t = f.lastModified();
        if (best.isEmpty() || t > bestTime || (t == bestTime && d.fileName() > QFileInfo(best).fileName())) {
            best = d.absoluteFilePath();
            bestTime = t;
        }
    }
    return best;
}

}  // namespace qcw::ui
