#include "ui/pane_compression.h"

#include "ui/async.h"
#include "ui/compression_controls.h"
#include "ui/compression_job_runner.h"
#include "ui/compression_results.h"
#include "ui/model_session.h"
#include "ui/rank_heatmap.h"
#include "ui/rank_override_table.h"
#include "ui/search_plot.h"
#include "ui/spectrum_compare.h"

#include "decompose/spectra_api.h"
#include "io/inventory.h"

#include <QDir>
#include <QFileInfo>
#include <QLabel>
#include <QLocale>
#include <QMainWindow>
#include <QMessageBox>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

namespace qcw::ui {

namespace {

QString stageLabel(const std::string& stage) {
    if (stage == "spectra") return CompressionPane::tr("Computing spectra");
    if (stage == "compress") return CompressionPane::tr("Compressing");
    if (stage == "load") return CompressionPane::tr("Loading the model");
    if (stage == "sensitivity") return CompressionPane::tr("Measuring each matrix's loss");
    if (stage == "tokenize") return CompressionPane::tr("Reading the calibration data");
    if (stage.rfind("rank:", 0) == 0)
        return CompressionPane::tr("Searching ranks (%1)").arg(QString::fromStdString(stage.substr(5)));
    return QString::fromStdString(stage);
}

// The two spectra of one layer: the original's and the compressed snapshot's.
struct SpectrumPair {
    qcw::MatrixSpectrum before, after;
};

}  // namespace

struct CompressionPane::Impl {
    CompressionPane* q = nullptr;
    ModelSession* session = nullptr;

    QLabel* hint = nullptr;
    CompressionControls* controls = nullptr;
    SearchPlot* plot = nullptr;
    RankHeatmap* heatmap = nullptr;
    SpectrumCompare* compare = nullptr;
    QTabWidget* views = nullptr;
    CompressionResults* results = nullptr;
    QPointer<QMessageBox> confirmBox;

    bool busy = false;
    QString lastError;
    QString lastOutDir;
    QString lastSourceDir;  // the model lastOutDir was compressed from
    quint64 compareGeneration = 0;
    QString comparedLayer;
    Jobs spectrumJobs;
    std::unique_ptr<CompressionJobRunner> runner;  // destroyed (cancelled and waited for) first

    void build();
    void onModelChanged();
    void updateEnabled();
    void setBusy(bool on);
    bool modelUsable() const;
    void start(bool withCompression, bool replace);
    void applyBatch(const std::vector<qcw::Progress>& batch);
    void applyProgress(const qcw::Progress& p);
    void showAllocation(const qcw::Progress& p);
    void finished(Outcome<qcw::CompressJobResult> out);
    void showSearch(const qcw::RankSearchResult& r);
    void showReport(const qcw::CompressionReport& r, const QString& outDir, double seconds);
    void clearComparison();
    void clearPlot();
    void resetProgress(const QString& text);
    void showError(const QString& message);
    void showStatusBar(const QString& message);
};

CompressionPane::CompressionPane(const PaneContext& context, QWidget* parent)
    : Pane(context, parent), d(std::make_unique<Impl>()) {
    d->q = this;
    d->session = context.session;
    d->runner = std::make_unique<CompressionJobRunner>(this);
    d->build();
    connect(d->session, &ModelSession::modelLoaded, this, [this] { d->onModelChanged(); });
    connect(d->session, &ModelSession::loadingChanged, this, [this] { d->updateEnabled(); });
    connect(d->session, &ModelSession::loadFailed, this, [this] { d->updateEnabled(); });
    d->onModelChanged();
}

CompressionPane::~CompressionPane() = default;

void CompressionPane::setSearchFunction(SearchFn fn) { d->runner->hooks.search = std::move(fn); }
void CompressionPane::setCompressFunction(CompressFn fn) { d->runner->hooks.compress = std::move(fn); }
bool CompressionPane::isBusy() const { return d->busy; }
QString CompressionPane::lastError() const { return d->lastError; }
void CompressionPane::saveSettings(QSettings& s) const { d->controls->save(s); }
void CompressionPane::restoreSettings(QSettings& s) { d->controls->restore(s); }

qcw::CompressJobOptions CompressionPane::jobOptions(bool withCompression) const {
    return d->controls->jobOptions(d->session->directory(), withCompression, false);
}

void CompressionPane::startSearch() {
    if (d->busy || !d->modelUsable()) return;
    d->start(false, false);
}

void CompressionPane::startCompression(bool confirmReplace) {
    if (d->busy || !d->modelUsable()) return;
    const QString out = d->controls->outputDir();
    if (const QString problem = d->controls->problem(true); !problem.isEmpty()) {
        d->showError(problem);
        return;
    }
    const QFileInfo info(out);
    const bool nonEmpty = info.isDir() && !QDir(out).isEmpty(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden);
    if (!nonEmpty || !confirmReplace) {
        d->start(true, nonEmpty);
        return;
    }
    if (d->confirmBox) d->confirmBox->close();
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Replace Folder"),
                                tr("The output folder is not empty:\n%1").arg(QDir::toNativeSeparators(out)),
                                QMessageBox::Yes | QMessageBox::Cancel, this);
    box->setObjectName(QStringLiteral("confirm-replace"));
    box->setInformativeText(tr("Replace its contents with the compressed model?"));
    box->setDefaultButton(QMessageBox::Cancel);
    box->setAttribute(Qt::WA_DeleteOnClose);
    connect(box, &QMessageBox::finished, this, [this](int result) {
        if (result == QMessageBox::Yes && !d->busy && d->modelUsable()) d->start(true, true);
    });
    d->confirmBox = box;
    box->open();  // window-modal, the event loop keeps running
}

void CompressionPane::cancel() {
    if (!d->busy) return;
    d->runner->cancel();  // the worker stops at its next check; its result is dropped
    d->lastError.clear();
    d->setBusy(false);
    d->resetProgress(tr("Cancelled."));
    d->showStatusBar(tr("Compression pane: cancelled"));
    emit jobFinished(false, tr("cancelled"));
}

// ---------------------------------------------------------------------------------------

void CompressionPane::Impl::build() {
    auto* layout = new QVBoxLayout(q);
    hint = new QLabel;
    hint->setObjectName(QStringLiteral("compression-hint"));
    hint->setWordWrap(true);
    hint->setTextFormat(Qt::PlainText);
    layout->addWidget(hint);

    controls = new CompressionControls;
    layout->addWidget(controls);
    QObject::connect(controls, &CompressionControls::settingsChanged, q, [this] { updateEnabled(); });
    QObject::connect(controls->searchButton, &QPushButton::clicked, q, [this] { q->startSearch(); });
    QObject::connect(controls->compressButton, &QPushButton::clicked, q, [this] { q->startCompression(); });
    QObject::connect(controls->cancelButton, &QPushButton::clicked, q, &CompressionPane::cancel);
    QObject::connect(controls->openResult, &QPushButton::clicked, q, [this] {
        if (!lastOutDir.isEmpty()) session->open(lastOutDir);
    });

    auto* split = new QSplitter(Qt::Vertical);
    split->setObjectName(QStringLiteral("compression-results"));
    plot = new SearchPlot;
    heatmap = new RankHeatmap;
    heatmap->setMinimumHeight(160);
    // Before / after: the original's singular values and those of the matrix the compressed
    // layer's factors rebuild, for the layer selected in the results table.
    compare = new SpectrumCompare;
    views = new QTabWidget;
    views->setObjectName(QStringLiteral("result-views"));
    views->addTab(plot, CompressionPane::tr("Search"));
    views->addTab(heatmap, CompressionPane::tr("Ranks per layer"));
    views->addTab(compare, CompressionPane::tr("Spectrum before / after"));
    split->addWidget(views);
    results = new CompressionResults;
    QObject::connect(results, &CompressionResults::layerSelected, q, [this](const QString& layer) {
        if (!busy && layer != comparedLayer) q->compareSpectra(layer);
    });
    split->addWidget(results);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    split->setSizes({300, 300});
    layout->addWidget(split, 1);
}

bool CompressionPane::Impl::modelUsable() const {
    const auto model = session->model();
    return model && !model->compressed && !session->isLoading();
}

void CompressionPane::Impl::onModelChanged() {
    if (busy) q->cancel();  // the model under the job changed
    results->clear();
    controls->error->clear();
    controls->error->setVisible(false);
    clearPlot();
    // The layer names (and the overrides) belong to the previous model.
    const auto model = session->model();
    std::vector<std::pair<QString, int>> layers;
    if (model)
        for (const auto& l : model->layers)
            if (l.compressible && l.shape.size() == 2)
                layers.emplace_back(QString::fromStdString(l.name).chopped(7),  // without ".weight"
                                    static_cast<int>(std::min(l.shape[0], l.shape[1])));
    controls->overrides->setLayers(std::move(layers));
    lastOutDir.clear();
    lastSourceDir.clear();
    clearComparison();
    resetProgress(CompressionPane::tr("Idle."));
    controls->setModel(session->hasModel() ? session->directory() : QString(), model ? model->params : 0);
    updateEnabled();
}

void CompressionPane::Impl::updateEnabled() {
    const auto model = session->model();
    if (session->isLoading() && !model) {
        hint->setText(CompressionPane::tr("Loading the model …"));
    } else if (!model) {
        hint->setText(CompressionPane::tr("No model is open. Open a model snapshot folder with File \u203a Open "
                                          "Model… (Ctrl+O) to compress it."));
    } else if (model->compressed) {
        hint->setText(CompressionPane::tr("%1 is already compressed. Open the original model to compress it.")
                          .arg(QFileInfo(QString::fromStdString(model->dir)).fileName()));
    } else {
        hint->clear();
    }
    hint->setVisible(!hint->text().isEmpty());
    controls->updateEnabled(modelUsable(), busy, !lastOutDir.isEmpty() && QFileInfo::exists(lastOutDir));
}

void CompressionPane::Impl::setBusy(bool on) {
    if (busy == on) return;
    busy = on;
    updateEnabled();
    emit q->busyChanged(on);
}

void CompressionPane::Impl::resetProgress(const QString& text) {
    controls->progress->setRange(0, 1);
    controls->progress->setValue(0);
    controls->status->setText(text);
}

void CompressionPane::Impl::showStatusBar(const QString& message) {
    if (auto* w = qobject_cast<QMainWindow*>(q->window())) w->statusBar()->showMessage(message, 10000);
}

void CompressionPane::Impl::showError(const QString& message) {
    lastError = message;
    controls->error->setText(message);
    controls->error->setVisible(!message.isEmpty());
    if (!message.isEmpty()) showStatusBar(CompressionPane::tr("Compression: %1").arg(message));
}

void CompressionPane::Impl::clearPlot() {
    plot->clear();
    heatmap->clearCells();
    views->setCurrentWidget(plot);
}

void CompressionPane::Impl::start(bool withCompression, bool replace) {
    if (!session->model()) return;
    const bool search = controls->searching();
    if (!withCompression && !search) return;
    if (const QString problem = controls->problem(withCompression); !problem.isEmpty()) {
        showError(problem);
        return;
    }
    qcw::CompressJobOptions options = controls->jobOptions(session->directory(), withCompression, replace);

    lastError.clear();
    controls->error->clear();
    controls->error->setVisible(false);
    if (search) {
        clearPlot();
        plot->setLossObjective(options.weighting == "loss");
    }
    if (withCompression) {
        results->clear();
        lastOutDir.clear();
    }
    controls->progress->setRange(0, 0);
    controls->status->setText(withCompression ? CompressionPane::tr("Starting the compression …")
                                              : CompressionPane::tr("Starting the rank search …"));
    setBusy(true);
    clearComparison();
    if (withCompression) lastSourceDir = session->directory();
    const QString outDir = controls->outputDir();
    runner->start(
        std::move(options), [this](const std::vector<qcw::Progress>& batch) { applyBatch(batch); },
        [this, outDir](Outcome<qcw::CompressJobResult> out) {
            if (out.ok() && out.value->report) lastOutDir = outDir;
            finished(std::move(out));
        });
}

void CompressionPane::Impl::applyBatch(const std::vector<qcw::Progress>& batch) {
    std::vector<SearchPlot::Point> points;
    const qcw::Progress* latest = nullptr;
    const qcw::Progress* allocation = nullptr;
    for (const qcw::Progress& p : batch) {
        if (p.stage == kAllocationStage) {
            allocation = &p;
            continue;
        }
        latest = &p;
        if (p.stage.rfind("rank:", 0) != 0) continue;
        auto e = p.metrics.find("energy");
        auto b = p.metrics.find("best");
        if (e != p.metrics.end())
            points.push_back({double(p.step), e->second,
                              b != p.metrics.end() ? b->second : std::numeric_limits<double>::quiet_NaN()});
    }
    if (!points.empty()) plot->appendPoints(points);
    if (allocation) showAllocation(*allocation);
    if (latest) applyProgress(*latest);
}

void CompressionPane::Impl::showAllocation(const qcw::Progress& p) {
    std::vector<RankCell> cells;
    cells.reserve(p.metrics.size());
    for (const auto& [group, rank] : p.metrics)
        cells.push_back({QString::fromStdString(group), rank, QString::number(static_cast<int>(rank))});
    heatmap->setCells(std::move(cells), CompressionPane::tr("rank, solver's current state (step %1)").arg(p.step));
}

void CompressionPane::Impl::applyProgress(const qcw::Progress& p) {
    QProgressBar* progress = controls->progress;
    if (p.total > 0) {
        const int total = static_cast<int>(std::min<long long>(p.total, 1000000));
        const int step = static_cast<int>(std::min<long long>(p.total, 1000000) * std::min(p.step, p.total) /
                                          std::max<long long>(p.total, 1));
        progress->setRange(0, total);
        progress->setValue(step);
    } else {
        progress->setRange(0, 0);
    }
    QString text = stageLabel(p.stage);
    if (p.total > 0) text += QStringLiteral("  %1 / %2").arg(p.step).arg(p.total);
    auto best = p.metrics.find("best");
    if (best != p.metrics.end() && std::isfinite(best->second))
        text += CompressionPane::tr("  best %1").arg(QLocale().toString(best->second, 'g', 5));
    if (!p.message.empty()) text += QStringLiteral("  \u2014 ") + QString::fromStdString(p.message);
    controls->status->setText(text);
}

void CompressionPane::Impl::finished(Outcome<qcw::CompressJobResult> out) {
    setBusy(false);
    if (out.cancelled) {
        resetProgress(CompressionPane::tr("Cancelled."));
        emit q->jobFinished(false, CompressionPane::tr("cancelled"));
        return;
    }
    if (!out.ok()) {
        const QString message = out.error.isEmpty() ? CompressionPane::tr("unknown error") : out.error;
        resetProgress(CompressionPane::tr("Failed."));
        showError(message);
        emit q->jobFinished(false, message);
        return;
    }
    qcw::CompressJobResult& r = *out.value;
    QProgressBar* progress = controls->progress;
    const int max = std::max(1, progress->maximum());
    progress->setRange(0, max);
    progress->setValue(max);
    if (r.search) showSearch(*r.search);
    if (r.report) showReport(*r.report, lastOutDir, r.seconds);
    updateEnabled();
    QString done;
    if (r.report)
        done = CompressionPane::tr("Compressed in %1 s: %2 kept.")
                   .arg(QLocale().toString(r.seconds, 'f', 1))
                   .arg(QLocale().toString(100.0 * r.report->ratio, 'f', 1) + QStringLiteral(" %"));
    else
        done = CompressionPane::tr("Rank search finished in %1 s.").arg(QLocale().toString(r.seconds, 'f', 2));
    controls->status->setText(done);
    showStatusBar(done);
    emit q->jobFinished(true, done);
}

void CompressionPane::Impl::showSearch(const qcw::RankSearchResult& r) {
    plot->showUniform(r.uniformObjective);
    std::vector<RankCell> cells;
    for (const std::string& g : r.order) {
        auto it = r.ranks.find(g);
        if (it != r.ranks.end())
            cells.push_back({QString::fromStdString(g), double(it->second), QString::number(it->second)});
    }
    heatmap->setCells(std::move(cells), CompressionPane::tr("searched rank"));
    results->showSearch(r);
}

void CompressionPane::Impl::showReport(const qcw::CompressionReport& r, const QString& outDir, double seconds) {
    std::vector<RankCell> cells;
    for (const qcw::LayerReport& l : r.layers)
        if (l.paramsBefore > 0)
            cells.push_back({QString::fromStdString(l.name), double(l.paramsAfter) / double(l.paramsBefore), ranksText(l.ranks)});
    heatmap->setCells(std::move(cells), CompressionPane::tr("parameters kept"));
    views->setCurrentWidget(heatmap);
    results->showReport(r, outDir, seconds);
}

void CompressionPane::compareSpectra(const QString& layer) {
    if (d->lastOutDir.isEmpty() || d->lastSourceDir.isEmpty() || d->busy) return;
    const quint64 gen = ++d->compareGeneration;
    d->spectrumJobs.cancelAll();  // a comparison still computing is dropped
    d->comparedLayer = layer;
    d->compare->showComputing(layer);
    d->views->setCurrentWidget(d->compare);
    const std::string before = QDir::toNativeSeparators(d->lastSourceDir).toStdString();
    const std::string after = QDir::toNativeSeparators(d->lastOutDir).toStdString();
    const std::string tensor = layer.toStdString() + ".weight";
    d->spectrumJobs.run(
        [before, after, tensor](qcw::RunContext& ctx) {
            SpectrumPair pair;
            pair.before = qcw::computeMatrixSpectrum(before, tensor, ctx);
            pair.after = qcw::computeMatrixSpectrum(after, tensor, ctx);
            return pair;
        },
        [this, gen, layer](Outcome<SpectrumPair> out) {
            if (gen != d->compareGeneration) return;  // superseded or cleared
            if (out.cancelled) return;
            if (!out.ok()) {
                d->compare->showFailure(layer, out.error);
                emit comparisonReady(layer, false);
                return;
            }
            d->compare->showSpectra(layer, out.value->before, out.value->after);
            emit comparisonReady(layer, true);
        });
}

QString CompressionPane::comparedLayer() const { return d->comparedLayer; }

void CompressionPane::Impl::clearComparison() {
    ++compareGeneration;
    spectrumJobs.cancelAll();
    comparedLayer.clear();
    compare->clear();
}

bool CompressionPane::setRankOverride(const QString& layer, int rank) {
    return d->controls->overrides->setRank(layer, rank);
}

void CompressionPane::clearRankOverrides() { d->controls->overrides->clearRows(); }

std::map<std::string, int> CompressionPane::rankOverrides() const { return d->controls->overrides->overrides(); }

}  // namespace qcw::ui
