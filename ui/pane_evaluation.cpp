#include "ui/pane_evaluation.h"

#include "ui/async.h"
#include "ui/format.h"
#include "ui/report_plots.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QMainWindow>
#include <QPushButton>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTableWidget>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <stdexcept>

namespace qcw::ui {

namespace {

const QString kReportKey = QStringLiteral("panes/evaluation/reportDir");
const QString kMet = QStringLiteral("#2e7d32"), kNotMet = QStringLiteral("#c62828");

QString cell(double v, int decimals, const QString& suffix = {}) {
    if (!std::isfinite(v)) return {};
    return QLocale().toString(v, 'f', decimals) + suffix;
}

}  // namespace

struct EvaluationPane::Impl {
    EvaluationPane* q = nullptr;
    QString resultsDir;
    QString remembered;
    QString dir;  // shown or being read
    bool busy = false;
    bool loaded = false;
    bool triedDefault = false;
    quint64 generation = 0;
    ParetoReport report;
    TargetsEvaluation targets;
    QString lastError;

    QLabel* folder = nullptr;
    QPushButton* openButton = nullptr;
    QPushButton* exportButton = nullptr;
    QLabel* model = nullptr;
    QLabel* machine = nullptr;
    QLabel* quality = nullptr;
    QGroupBox* targetsBox = nullptr;
    QLabel* targetLabels[3] = {};
    QLabel* allLabel = nullptr;
    QCustomPlot* paramsPlot = nullptr;
    QCustomPlot* decodePlot = nullptr;
    QTableWidget* table = nullptr;
    QLabel* status = nullptr;
    QLabel* error = nullptr;
    Jobs jobs;  // last: destroyed (waited for) first

    void build();
    void show();
    void clear(const QString& hint);
    void showError(const QString& message);
    void statusBar(const QString& message);
    void updateEnabled();
};

EvaluationPane::EvaluationPane(const PaneContext& context, QWidget* parent)
    : Pane(context, parent), d(std::make_unique<Impl>()) {
    d->q = this;
    d->build();
    d->clear(tr("Open a report folder (one holding pareto.json)."));
}

EvaluationPane::~EvaluationPane() = default;

void EvaluationPane::setResultsDir(const QString& dir) { d->resultsDir = dir; }
QString EvaluationPane::resultsDir() const { return d->resultsDir; }
QString EvaluationPane::reportDir() const { return d->dir; }
bool EvaluationPane::hasReport() const { return d->loaded; }
bool EvaluationPane::isBusy() const { return d->busy; }
const ParetoReport& EvaluationPane::report() const { return d->report; }
const TargetsEvaluation& EvaluationPane::targets() const { return d->targets; }
QString EvaluationPane::lastError() const { return d->lastError; }

QString EvaluationPane::defaultReportDir() const {
    QString r = d->remembered;
    if (r.isEmpty()) r = QSettings().value(kReportKey).toString();
    if (!r.isEmpty()) return r;
    return newestReportDir(d->resultsDir);
}

void EvaluationPane::saveSettings(QSettings& s) const {
    if (!d->remembered.isEmpty()) s.setValue(QStringLiteral("reportDir"), d->remembered);
}

void EvaluationPane::restoreSettings(QSettings& s) { d->remembered = s.value(QStringLiteral("reportDir")).toString(); }

void EvaluationPane::showEvent(QShowEvent* event) {
    // The first time the pane shows with nothing read: the remembered or the newest report.
    if (!d->loaded && !d->busy && !d->triedDefault && d->dir.isEmpty()) {
        d->triedDefault = true;
        const QString dir = defaultReportDir();
        if (!dir.isEmpty()) openReport(dir);
    }
    Pane::showEvent(event);
}

void EvaluationPane::openReportDialog() {
    QString start = d->dir.isEmpty() ? defaultReportDir() : d->dir;
    if (start.isEmpty()) start = d->resultsDir;
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Open report folder (pareto.json)"), start);
    if (dir.isEmpty()) return;
    d->remembered = QDir::cleanPath(dir);
    QSettings().setValue(kReportKey, d->remembered);
    openReport(d->remembered);
}

void EvaluationPane::openReport(const QString& dirIn) {
    const QString dir = QDir::cleanPath(dirIn);
    const quint64 gen = ++d->generation;
    d->dir = dir;
    d->busy = true;
    d->loaded = false;
    d->showError(QString());
    d->folder->setText(QDir::toNativeSeparators(dir));
    d->status->setText(tr("Reading %1 …").arg(QDir::toNativeSeparators(dir + QStringLiteral("/pareto.json"))));
    d->updateEnabled();
    d->jobs.run(
        [dir](qcw::RunContext&) {
            ParetoReport r;
            QString error;
            if (!loadParetoReport(dir, r, error)) throw std::runtime_error(error.toStdString());
            return r;
        },
        [this, gen](Outcome<ParetoReport> out) {
            if (gen != d->generation) return;
            d->busy = false;
            if (!out.ok()) {
                const QString message = out.error.isEmpty() ? tr("reading the report was cancelled") : out.error;
                d->clear(tr("No report shown."));
                d->showError(message);
                d->updateEnabled();
                emit reportLoaded(false, message);
                return;
            }
            d->report = std::move(*out.value);
            d->targets = evaluateTargets(d->report);
            d->loaded = true;
            d->show();
            d->updateEnabled();
            const QString message = tr("%n point(s) from %1", nullptr, int(d->report.points.size()))
                                        .arg(QDir::toNativeSeparators(d->report.file));
            d->status->setText(message);
            emit reportLoaded(true, message);
        });
}

void EvaluationPane::exportPngs() {
    if (d->loaded) exportTo(d->report.dir);
}

void EvaluationPane::exportTo(const QString& dir) {
    if (!d->loaded) {
        const QString message = tr("Open a report first.");
        d->showError(message);
        emit exportFinished(false, message);
        return;
    }
    // Drawing is the GUI thread's (a fraction of a second); encoding and writing are not.
    ReportOutputs outputs = renderReportOutputs(d->report);
    d->busy = true;
    d->updateEnabled();
    d->status->setText(tr("Writing the charts and targets.md to %1 …").arg(QDir::toNativeSeparators(dir)));
    d->jobs.run(
        [outputs = std::move(outputs), dir](qcw::RunContext&) {
            QString error;
            QStringList written;
            if (!writeReportOutputs(outputs, dir, error, &written)) throw std::runtime_error(error.toStdString());
            return written;
        },
        [this, dir](Outcome<QStringList> out) {
            d->busy = false;
            d->updateEnabled();
            if (!out.ok()) {
                const QString message = out.error.isEmpty() ? tr("export cancelled") : out.error;
                d->showError(message);
                emit exportFinished(false, message);
                return;
            }
            d->showError(QString());
            QStringList names;
            for (const QString& p : *out.value) names << QFileInfo(p).fileName();
            const QString message =
                tr("Wrote %1 to %2").arg(names.join(QStringLiteral(", ")), QDir::toNativeSeparators(dir));
            d->status->setText(message);
            d->statusBar(message);
            emit exportFinished(true, message);
        });
}

// ---------------------------------------------------------------------------------------

void EvaluationPane::Impl::build() {
    auto* layout = new QVBoxLayout(q);

    auto* top = new QHBoxLayout;
    openButton = new QPushButton(EvaluationPane::tr("Open report…"));
    openButton->setObjectName(QStringLiteral("eval-open"));
    openButton->setToolTip(EvaluationPane::tr("Choose a folder holding pareto.json (benchmarks/demo_report_tables.py writes one)"));
    top->addWidget(openButton);
    folder = new QLabel;
    folder->setObjectName(QStringLiteral("eval-folder"));
    folder->setTextInteractionFlags(Qt::TextSelectableByMouse);
    top->addWidget(folder, 1);
    exportButton = new QPushButton(EvaluationPane::tr("Export PNGs"));
    exportButton->setObjectName(QStringLiteral("eval-export"));
    exportButton->setToolTip(EvaluationPane::tr("Write quality_vs_params.png, quality_vs_decode.png and targets.md "
                                                "into the report folder, as `qcw --report-plots` does"));
    top->addWidget(exportButton);
    layout->addLayout(top);
    QObject::connect(openButton, &QPushButton::clicked, q, &EvaluationPane::openReportDialog);
    QObject::connect(exportButton, &QPushButton::clicked, q, &EvaluationPane::exportPngs);

    auto* info = new QHBoxLayout;
    auto* about = new QVBoxLayout;
    auto label = [&](const char* name) {
        auto* l = new QLabel;
        l->setObjectName(QString::fromLatin1(name));
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
        l->setWordWrap(true);
        return l;
    };
    model = label("eval-model");
    machine = label("eval-machine");
    quality = label("eval-quality");
    about->addWidget(model);
    about->addWidget(machine);
    about->addWidget(quality);
    about->addStretch(1);
    info->addLayout(about, 1);
    targetsBox = new QGroupBox(EvaluationPane::tr("The brief's targets"));
    targetsBox->setObjectName(QStringLiteral("eval-targets"));
    auto* tv = new QVBoxLayout(targetsBox);
    const char* names[] = {"eval-target-params", "eval-target-quality", "eval-target-decode"};
    for (int i = 0; i < 3; ++i) {
        targetLabels[i] = label(names[i]);
        targetLabels[i]->setWordWrap(false);
        tv->addWidget(targetLabels[i]);
    }
    allLabel = label("eval-target-all");
    tv->addWidget(allLabel);
    info->addWidget(targetsBox, 1);
    layout->addLayout(info);

    auto* split = new QSplitter(Qt::Vertical);
    split->setObjectName(QStringLiteral("eval-split"));
    auto* charts = new QSplitter(Qt::Horizontal);
    auto plot = [&](const char* name) {
        auto* p = new QCustomPlot;
        p->setObjectName(QString::fromLatin1(name));
        p->setMinimumSize(280, 220);
        p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
        charts->addWidget(p);
        return p;
    };
    paramsPlot = plot("eval-plot-params");
    decodePlot = plot("eval-plot-decode");
    split->addWidget(charts);
    table = new QTableWidget(0, 11);
    table->setObjectName(QStringLiteral("eval-table"));
    table->setHorizontalHeaderLabels({EvaluationPane::tr("name"), EvaluationPane::tr("group"),
                                      EvaluationPane::tr("parameters"), EvaluationPane::tr("kept"),
                                      EvaluationPane::tr("perplexity"), EvaluationPane::tr("quality kept"),
                                      EvaluationPane::tr("decode tok/s"), EvaluationPane::tr("decode speed-up"),
                                      EvaluationPane::tr("prefill speed-up"), EvaluationPane::tr("peak RSS MB"),
                                      EvaluationPane::tr("on disk MB")});
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->verticalHeader()->setVisible(false);
    table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table->horizontalHeader()->setStretchLastSection(true);
    split->addWidget(table);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 1);
    split->setSizes({420, 200});
    layout->addWidget(split, 1);

    status = label("eval-status");
    layout->addWidget(status);
    error = label("eval-error");
    error->setWordWrap(false);
    error->setStyleSheet(QStringLiteral("color: %1;").arg(kNotMet));
    error->setVisible(false);
    layout->addWidget(error);
}

void EvaluationPane::Impl::updateEnabled() {
    openButton->setEnabled(true);  // a new choice supersedes a read in progress
    exportButton->setEnabled(loaded && !busy);
}

void EvaluationPane::Impl::statusBar(const QString& message) {
    if (auto* w = qobject_cast<QMainWindow*>(q->window())) w->statusBar()->showMessage(message, 10000);
}

void EvaluationPane::Impl::showError(const QString& message) {
    lastError = message;
    error->setText(message);
    error->setToolTip(message);
    error->setVisible(!message.isEmpty());
    if (!message.isEmpty()) statusBar(EvaluationPane::tr("Evaluation: %1").arg(message));
}

void EvaluationPane::Impl::clear(const QString& hint) {
    report = ParetoReport{};
    targets = TargetsEvaluation{};
    model->setText(hint);
    machine->clear();
    quality->clear();
    for (QLabel* l : targetLabels) {
        l->clear();
        l->setProperty("met", QVariant());
    }
    allLabel->clear();
    allLabel->setProperty("met", QVariant());
    table->setRowCount(0);
    clearReportChart(paramsPlot);
    clearReportChart(decodePlot);
    status->clear();
    updateEnabled();
}

void EvaluationPane::Impl::show() {
    const ParetoReport& r = report;
    model->setText(EvaluationPane::tr("<b>Model:</b> %1 (dense perplexity %2)")
                       .arg(r.model.toHtmlEscaped(), cell(r.densePerplexity, 2)));
    machine->setText(EvaluationPane::tr("<b>Machine:</b> %1").arg(r.machine.toHtmlEscaped()));
    quality->setText(EvaluationPane::tr("<b>Quality kept:</b> %1").arg(r.quality.toHtmlEscaped()));
    targetsBox->setTitle(EvaluationPane::tr("The brief's targets, for the \"%1\" models").arg(targets.group));
    for (std::size_t i = 0; i < targets.verdicts.size() && i < 3; ++i) {
        const TargetVerdict& v = targets.verdicts[i];
        const QString best = v.best >= 0 ? r.points[std::size_t(v.best)].name.toHtmlEscaped()
                                         : EvaluationPane::tr("no model measured");
        targetLabels[i]->setText(QStringLiteral("<span style=\"color:%1\">%2 <b>%3</b></span> %4 %5: best %6, %7")
                                     .arg(v.met ? kMet : kNotMet, v.met ? QStringLiteral("\u2714") : QStringLiteral("\u2718"),
                                          v.met ? EvaluationPane::tr("met") : EvaluationPane::tr("not met"),
                                          targetName(v.target), targetCondition(v.target, v.threshold).toHtmlEscaped(),
                                          best, targetValue(v.target, v.value)));
        targetLabels[i]->setProperty("met", v.met);
    }
    const bool all = !targets.allMet.empty();
    QStringList names;
    for (int i : targets.allMet) names << r.points[std::size_t(i)].name.toHtmlEscaped();
    allLabel->setText(QStringLiteral("<span style=\"color:%1\"><b>%2</b></span>")
                          .arg(all ? kMet : kNotMet,
                               all ? EvaluationPane::tr("All three at once: %1").arg(names.join(QStringLiteral(", ")))
                                   : EvaluationPane::tr("All three at once: no %1 model").arg(targets.group)));
    allLabel->setProperty("met", all);

    table->setRowCount(int(r.points.size()));
    for (int row = 0; row < int(r.points.size()); ++row) {
        const ReportPoint& p = r.points[std::size_t(row)];
        const QString texts[] = {p.name,
                                 p.group,
                                 std::isfinite(p.params) ? formatCount(std::llround(p.params)) : QString(),
                                 cell(p.paramsKept, 3),
                                 cell(p.perplexity, 2),
                                 cell(p.qualityKept, 3),
                                 cell(p.decodeTokS, 1),
                                 cell(p.decodeSpeedup, 2, QStringLiteral("x")),
                                 cell(p.prefillSpeedup, 2, QStringLiteral("x")),
                                 cell(p.peakRssMb, 1),
                                 cell(p.bytesOnDisk / 1e6, 1)};
        for (int c = 0; c < 11; ++c) {
            auto* item = new QTableWidgetItem(texts[c]);
            if (c >= 2) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            if (p.group == QLatin1String("product")) {
                QFont f = item->font();
                f.setBold(true);
                item->setFont(f);
            }
            table->setItem(row, c, item);
        }
    }
    drawReportChart(paramsPlot, r, ReportChart::QualityVsParams, true);
    drawReportChart(decodePlot, r, ReportChart::QualityVsDecode, true);
}

}  // namespace qcw::ui
