#include "ui/pane_compression.h"

#include "ui/async.h"
#include "ui/format.h"
#include "ui/log_axis.h"
#include "ui/model_session.h"
#include "ui/plugins.h"
#include "ui/progress_feed.h"
#include "ui/rank_heatmap.h"
#include "ui/decomposition_plugin.h"

#include "common/error.h"
#include "data/train_data.h"
#include "decompose/spectra_api.h"
#include "decompose/strategies/registry.h"
#include "io/inventory.h"

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMainWindow>
#include <QMessageBox>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSlider>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QTableWidget>
#include <QTabWidget>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <vector>

namespace qcw::ui {

namespace {

// The stage of the feed's entries that carry the solver's current allocation (group -> rank in
// the metrics); the pane makes them, they never reach the core's progress.
const char* const kAllocationStage = "allocation";

struct SolverItem {
    const char* id;  // empty: uniform ranks, no search
    const char* label;
    const char* tip;
};
const SolverItem kSolvers[] = {
    {"", QT_TRANSLATE_NOOP("qcw::ui::CompressionPane", "Uniform (no search)"),
     QT_TRANSLATE_NOOP("qcw::ui::CompressionPane", "Every matrix keeps the same fraction of its parameters")},
    {"exact", QT_TRANSLATE_NOOP("qcw::ui::CompressionPane", "Exact (dynamic programming)"),
     QT_TRANSLATE_NOOP("qcw::ui::CompressionPane", "Optimal allocation by dynamic programming over the budget")},
    {"greedy", QT_TRANSLATE_NOOP("qcw::ui::CompressionPane", "Greedy"),
     QT_TRANSLATE_NOOP("qcw::ui::CompressionPane", "Best error reduction per parameter first")},
    {"anneal", QT_TRANSLATE_NOOP("qcw::ui::CompressionPane", "Simulated annealing"),
     QT_TRANSLATE_NOOP("qcw::ui::CompressionPane", "Simulated annealing on the allocation QUBO")},
    {"sqa", QT_TRANSLATE_NOOP("qcw::ui::CompressionPane", "Simulated quantum annealing"),
     QT_TRANSLATE_NOOP("qcw::ui::CompressionPane", "Path-integral quantum annealing with coupled replicas")},
};

QString tr(const char* text) { return QCoreApplication::translate("qcw::ui::CompressionPane", text); }

bool searchableMethod(const QString& method) { return qcw::strategySearchable(method.toStdString()); }

QString stageLabel(const std::string& stage) {
    if (stage == "spectra") return tr("Computing spectra");
    if (stage == "compress") return tr("Compressing");
    if (stage == "load") return tr("Loading the model");
    if (stage == "sensitivity") return tr("Measuring each matrix's loss");
    if (stage == "tokenize") return tr("Reading the calibration data");
    if (stage.rfind("rank:", 0) == 0)
        return tr("Searching ranks (%1)").arg(QString::fromStdString(stage.substr(5)));
    return QString::fromStdString(stage);
}

QString errorText(double e) {
    if (!(e >= 0) || !std::isfinite(e)) return QStringLiteral("\u2014");
    return QLocale().toString(e, 'g', 4);
}

QString ranksText(const std::vector<int>& ranks) {
    QStringList parts;
    for (int r : ranks) parts << QString::number(r);
    return parts.join(QStringLiteral(", "));
}

// One point of the rank search's live plot.
struct PlotPoint {
    double iteration = 0, energy = 0, best = 0;
};

// What a job hands back.
struct JobResult {
    std::optional<qcw::RankSearchResult> search;
    std::optional<qcw::CompressionReport> report;
    QString outDir;
    double seconds = 0;
};

// The two spectra of one layer: the original's and the compressed snapshot's.
struct SpectrumPair {
    qcw::MatrixSpectrum before, after;
};

}  // namespace

struct CompressionPane::Impl {
    CompressionPane* q = nullptr;
    ModelSession* session = nullptr;
    SearchFn searchFn = [](const std::string& dir, const qcw::RankSearchOptions& o, qcw::RunContext& ctx) {
        return qcw::searchRanks(dir, o, ctx);
    };
    CompressFn compressFn = [](const std::string& dir, const std::string& out, const qcw::CompressOptions& o,
                               qcw::RunContext& ctx, bool replace) {
        return qcw::compressModelDir(dir, out, o, ctx, replace);
    };

    QLabel* hint = nullptr;
    QWidget* controls = nullptr;
    QSlider* keep = nullptr;
    QLabel* keepLabel = nullptr;
    QComboBox* method = nullptr;
    QComboBox* solver = nullptr;
    QLabel* pluginTitle = nullptr;
    QStackedWidget* pluginSettings = nullptr;
    std::map<QString, std::pair<qcw::DecompositionPlugin*, QWidget*>> plugins;  // "plugin:<id>" -> plugin, settings
    QCheckBox* calibrate = nullptr;
    QComboBox* objective = nullptr;
    QLineEdit* calibData = nullptr;
    QToolButton* calibBrowse = nullptr;
    QTableWidget* overrides = nullptr;
    QPushButton* addOverride = nullptr;
    QPushButton* removeOverride = nullptr;
    QCheckBox* randomized = nullptr;
    QCheckBox* storeSource = nullptr;
    QLineEdit* output = nullptr;
    QToolButton* browse = nullptr;
    QPushButton* searchButton = nullptr;
    QPushButton* compressButton = nullptr;
    QPushButton* cancelButton = nullptr;
    QPushButton* openResult = nullptr;
    QProgressBar* progress = nullptr;
    QLabel* status = nullptr;
    QLabel* error = nullptr;
    QCustomPlot* plot = nullptr;
    RankHeatmap* heatmap = nullptr;
    QTabWidget* views = nullptr;
    QCPItemStraightLine* uniformLine = nullptr;
    QTableWidget* table = nullptr;
    QLabel* summary = nullptr;
    QWidget* compareTab = nullptr;
    QCustomPlot* compare = nullptr;
    QCPItemStraightLine* compareRankLine = nullptr;
    QLabel* compareSummary = nullptr;
    QPointer<QMessageBox> confirmBox;

    bool busy = false;
    bool outputEdited = false;  // the user typed or chose a folder: keep it
    quint64 generation = 0;
    QString lastError;
    QString lastOutDir;
    QString lastSourceDir;   // the model lastOutDir was compressed from
    quint64 compareGeneration = 0;
    QString comparedLayer;
    std::shared_ptr<ProgressFeed> feed;  // of the running job
    QElapsedTimer jobClock;
    double plotMin = std::numeric_limits<double>::infinity();
    double plotMax = -std::numeric_limits<double>::infinity();
    double plotLastX = 0;
    Jobs spectrumJobs;
    Jobs jobs;  // last: destroyed (cancelled and waited for) first

    void build();
    QWidget* buildControls();
    QWidget* buildResults();
    void onModelChanged();
    void updateTarget();
    void updateDefaultOutput();
    void updateEnabled();
    // Overrides: one row per layer, a combo box of compressible layers and a rank spin box.
    int addOverrideRow(const QString& layer, int rank);
    std::map<std::string, int> overrideMap() const;
    int maxRankOf(const QString& layer) const;
    bool overridable() const;
    void setBusy(bool on);
    QString methodId() const { return method->currentData().toString(); }
    QString solverId() const { return solver->currentData().toString(); }
    QString objectiveId() const { return objective->currentData().toString(); }
    int keepPercent() const { return keep->value(); }
    bool modelUsable() const;

    void start(bool withCompression, bool replace);
    void applyBatch(const std::vector<qcw::Progress>& batch);
    void applyProgress(const qcw::Progress& p);
    void showAllocation(const qcw::Progress& p);
    void clearComparison();
    void showComparison(const QString& layer, const SpectrumPair& pair);
    void appendPoints(const std::vector<PlotPoint>& points);
    void clearPlot();
    void finished(quint64 gen, Outcome<JobResult> out);
    void showSearch(const qcw::RankSearchResult& r);
    void showReport(const qcw::CompressionReport& r, const QString& outDir, double seconds);
    void showError(const QString& message);
    void showStatusBar(const QString& message);
};

CompressionPane::CompressionPane(const PaneContext& context, QWidget* parent)
    : Pane(context, parent), d(std::make_unique<Impl>()) {
    d->q = this;
    d->session = context.session;
    d->build();
    connect(d->session, &ModelSession::modelLoaded, this, [this] { d->onModelChanged(); });
    connect(d->session, &ModelSession::loadingChanged, this, [this] { d->updateEnabled(); });
    connect(d->session, &ModelSession::loadFailed, this, [this] { d->updateEnabled(); });
    d->onModelChanged();
}

CompressionPane::~CompressionPane() = default;

void CompressionPane::setSearchFunction(SearchFn fn) { d->searchFn = std::move(fn); }
void CompressionPane::setCompressFunction(CompressFn fn) { d->compressFn = std::move(fn); }
bool CompressionPane::isBusy() const { return d->busy; }
QString CompressionPane::lastError() const { return d->lastError; }

void CompressionPane::saveSettings(QSettings& s) const {
    s.setValue(QStringLiteral("keepPercent"), d->keep->value());
    s.setValue(QStringLiteral("method"), d->methodId());
    s.setValue(QStringLiteral("solver"), d->solverId());
    s.setValue(QStringLiteral("calibrate"), d->calibrate->isChecked());
    s.setValue(QStringLiteral("objective"), d->objectiveId());
    s.setValue(QStringLiteral("calibrationData"), d->calibData->text());
    s.setValue(QStringLiteral("randomized"), d->randomized->isChecked());
    s.setValue(QStringLiteral("storeSourceDtype"), d->storeSource->isChecked());
}

void CompressionPane::restoreSettings(QSettings& s) {
    d->keep->setValue(s.value(QStringLiteral("keepPercent"), d->keep->value()).toInt());
    const int m = d->method->findData(s.value(QStringLiteral("method"), d->methodId()).toString());
    if (m >= 0) d->method->setCurrentIndex(m);
    const int so = d->solver->findData(s.value(QStringLiteral("solver"), d->solverId()).toString());
    if (so >= 0) d->solver->setCurrentIndex(so);
    d->calibrate->setChecked(s.value(QStringLiteral("calibrate"), false).toBool());
    const int ob = d->objective->findData(s.value(QStringLiteral("objective"), d->objectiveId()).toString());
    if (ob >= 0) d->objective->setCurrentIndex(ob);
    d->calibData->setText(s.value(QStringLiteral("calibrationData")).toString());
    d->randomized->setChecked(s.value(QStringLiteral("randomized"), false).toBool());
    d->storeSource->setChecked(s.value(QStringLiteral("storeSourceDtype"), true).toBool());
}

void CompressionPane::startSearch() {
    if (d->busy || !d->modelUsable()) return;
    d->start(false, false);
}

void CompressionPane::startCompression(bool confirmReplace) {
    if (d->busy || !d->modelUsable()) return;
    const QString out = d->output->text().trimmed();
    if (out.isEmpty()) {
        d->showError(tr("Choose an output folder."));
        return;
    }
    const QFileInfo info(out);
    const bool nonEmpty = info.isDir() && !QDir(out).isEmpty(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden);
    if (!nonEmpty) {
        d->start(true, false);
        return;
    }
    if (!confirmReplace) {
        d->start(true, true);
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
    d->jobs.cancelAll();  // the worker stops at its next check; its result is dropped
    if (d->feed) d->feed->close();
    ++d->generation;
    d->lastError.clear();
    d->setBusy(false);
    d->progress->setRange(0, 1);
    d->progress->setValue(0);
    d->status->setText(tr("Cancelled."));
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

    controls = buildControls();
    layout->addWidget(controls);

    auto* results = buildResults();
    layout->addWidget(results, 1);
}

QWidget* CompressionPane::Impl::buildControls() {
    auto* box = new QGroupBox(CompressionPane::tr("Settings"));
    box->setObjectName(QStringLiteral("compression-settings"));
    auto* form = new QFormLayout(box);

    keep = new QSlider(Qt::Horizontal);
    keep->setObjectName(QStringLiteral("keep-slider"));
    keep->setRange(5, 100);
    keep->setValue(30);
    keep->setSingleStep(1);
    keep->setPageStep(5);
    keep->setTickPosition(QSlider::TicksBelow);
    keep->setTickInterval(5);
    keep->setToolTip(CompressionPane::tr("Fraction of all parameters the compressed model keeps"));
    keepLabel = new QLabel;
    keepLabel->setObjectName(QStringLiteral("keep-target"));
    keepLabel->setMinimumWidth(keepLabel->fontMetrics().horizontalAdvance(QStringLiteral("Keep 100 % \u2192 0,000,000,000 of 0,000,000,000 parameters")));
    auto* keepRow = new QHBoxLayout;
    keepRow->addWidget(keep, 1);
    keepRow->addWidget(keepLabel);
    auto* keepTitle = new QLabel(CompressionPane::tr("&Keep:"));
    keepTitle->setBuddy(keep);
    form->addRow(keepTitle, keepRow);

    method = new QComboBox;
    method->setObjectName(QStringLiteral("method-combo"));
    // The core's table of strategies (decompose/strategies/registry.h), in its order.
    for (const auto& st : qcw::strategyInfos()) {
        if (!st.listed) continue;
        method->addItem(QString::fromStdString(st.name), QString::fromStdString(st.id));
        method->setItemData(method->count() - 1, QString::fromStdString(st.description), Qt::ToolTipRole);
    }
    // Decomposition plugins (see decomposition_plugin.h): one that wraps a core strategy (its
    // metadata's "strategy") gives that entry its settings widget; one with its own factorizer
    // follows the table as an entry of its own.
    pluginSettings = new QStackedWidget;
    pluginSettings->setObjectName(QStringLiteral("plugin-settings"));
    pluginSettings->addWidget(new QWidget);  // page 0: no plugin chosen
    for (const auto& p : installedPlugins()) {
        if (!p.plugin) continue;
        const bool wraps = !p.strategy.isEmpty() && method->findData(p.strategy) >= 0;
        const QString id = wraps ? p.strategy : QStringLiteral("plugin:") + p.id;
        if (plugins.count(id)) continue;  // one settings widget per entry
        if (!wraps) {
            method->addItem(CompressionPane::tr("%1 (plugin)").arg(p.name), id);
            method->setItemData(method->count() - 1, p.description, Qt::ToolTipRole);
        }
        QWidget* w = p.plugin->createSettingsWidget(pluginSettings);
        if (!w) w = new QWidget(pluginSettings);
        pluginSettings->addWidget(w);
        plugins[id] = {p.plugin, w};
    }
    solver = new QComboBox;
    solver->setObjectName(QStringLiteral("solver-combo"));
    for (const auto& s : kSolvers) {
        solver->addItem(tr(s.label), QString::fromLatin1(s.id));
        solver->setItemData(solver->count() - 1, tr(s.tip), Qt::ToolTipRole);
    }
    auto* methodRow = new QHBoxLayout;
    methodRow->addWidget(method, 1);
    auto* solverTitle = new QLabel(CompressionPane::tr("Ranks &by:"));
    solverTitle->setBuddy(solver);
    methodRow->addSpacing(12);
    methodRow->addWidget(solverTitle);
    methodRow->addWidget(solver, 1);
    objective = new QComboBox;
    objective->setObjectName(QStringLiteral("objective-combo"));
    objective->addItem(CompressionPane::tr("Spectral error"), QStringLiteral("spectral"));
    objective->setItemData(0, CompressionPane::tr("Minimise the summed discarded singular-value weight, every matrix alike"),
                           Qt::ToolTipRole);
    objective->addItem(CompressionPane::tr("Measured loss"), QStringLiteral("loss"));
    objective->setItemData(1,
                           CompressionPane::tr("Minimise the calibration-loss increase measured per matrix at 1/2, 1 "
                                               "and 2 times its uniform rank (3 forward passes per matrix; needs "
                                               "calibration)"),
                           Qt::ToolTipRole);
    auto* objectiveTitle = new QLabel(CompressionPane::tr("&Objective:"));
    objectiveTitle->setBuddy(objective);
    methodRow->addSpacing(12);
    methodRow->addWidget(objectiveTitle);
    methodRow->addWidget(objective);
    auto* methodTitle = new QLabel(CompressionPane::tr("&Method:"));
    methodTitle->setBuddy(method);
    form->addRow(methodTitle, methodRow);
    pluginTitle = new QLabel(CompressionPane::tr("Plugin settings:"));
    form->addRow(pluginTitle, pluginSettings);
    // The first entry may already carry a wrapping plugin's settings (the SVD plugin's under svd).
    const auto initialPlugin = plugins.find(methodId());
    if (initialPlugin != plugins.end()) pluginSettings->setCurrentWidget(initialPlugin->second.second);
    pluginTitle->setVisible(initialPlugin != plugins.end());
    pluginSettings->setVisible(initialPlugin != plugins.end());

    calibrate = new QCheckBox(CompressionPane::tr("Calibrate on random tokens"));
    calibrate->setObjectName(QStringLiteral("calibrate-random"));
    calibrate->setToolTip(CompressionPane::tr("8 windows of 32 random token ids: enough for activation-aware SVD and "
                                              "output errors on synthetic models without text"));
    randomized = new QCheckBox(CompressionPane::tr("Randomized SVD"));
    randomized->setObjectName(QStringLiteral("randomized-svd"));
    randomized->setToolTip(CompressionPane::tr("Faster on big matrices, slightly less accurate"));
    storeSource = new QCheckBox(CompressionPane::tr("Store in the model's dtype"));
    storeSource->setObjectName(QStringLiteral("store-source-dtype"));
    storeSource->setChecked(true);
    storeSource->setToolTip(CompressionPane::tr("Write the factors in the dtype the model is stored in (F16 for "
                                                "phi-1.5: half the file of F32); unchecked: F32"));
    auto* optionRow = new QHBoxLayout;
    optionRow->addWidget(calibrate);
    optionRow->addWidget(randomized);
    optionRow->addWidget(storeSource);
    optionRow->addStretch(1);
    form->addRow(CompressionPane::tr("Options:"), optionRow);

    // A folder field: line edit, Browse button, labelled row.
    auto folderRow = [form](const QString& title, const char* editName, const char* buttonName,
                            const QString& placeholder, QLineEdit*& edit, QToolButton*& button) {
        edit = new QLineEdit;
        edit->setObjectName(QString::fromLatin1(editName));
        edit->setPlaceholderText(placeholder);
        edit->setClearButtonEnabled(true);
        button = new QToolButton;
        button->setObjectName(QString::fromLatin1(buttonName));
        button->setText(CompressionPane::tr("Browse…"));
        auto* row = new QHBoxLayout;
        row->addWidget(edit, 1);
        row->addWidget(button);
        auto* label = new QLabel(title);
        label->setBuddy(edit);
        form->addRow(label, row);
    };
    folderRow(CompressionPane::tr("C&alibration:"), "calibration-data", "browse-calibration",
              CompressionPane::tr("Dataset folder (Documents \u203a Build dataset): calibrates activation-aware SVD and "
                                  "the measured-loss objective"),
              calibData, calibBrowse);
    QObject::connect(calibBrowse, &QToolButton::clicked, q, [this] {
        QString start = calibData->text().trimmed();
        if (start.isEmpty() || !QFileInfo(start).isDir()) start = QDir::homePath();
        const QString dir = QFileDialog::getExistingDirectory(q, CompressionPane::tr("Calibration Dataset"), start);
        if (!dir.isEmpty()) calibData->setText(QDir::toNativeSeparators(dir));
    });

    overrides = new QTableWidget(0, 2);
    overrides->setObjectName(QStringLiteral("rank-overrides"));
    overrides->setHorizontalHeaderLabels({CompressionPane::tr("Layer"), CompressionPane::tr("Rank")});
    overrides->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    overrides->horizontalHeader()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    overrides->verticalHeader()->setVisible(false);
    overrides->setSelectionBehavior(QAbstractItemView::SelectRows);
    overrides->setMaximumHeight(96);
    overrides->setToolTip(CompressionPane::tr("Ranks for chosen layers (per-matrix methods). The other layers keep "
                                              "their searched or uniform ranks, so the total moves."));
    addOverride = new QPushButton(CompressionPane::tr("Add"));
    addOverride->setObjectName(QStringLiteral("add-override"));
    removeOverride = new QPushButton(CompressionPane::tr("Remove"));
    removeOverride->setObjectName(QStringLiteral("remove-override"));
    auto* overrideButtons = new QVBoxLayout;
    overrideButtons->addWidget(addOverride);
    overrideButtons->addWidget(removeOverride);
    overrideButtons->addStretch(1);
    auto* overrideRow = new QHBoxLayout;
    overrideRow->addWidget(overrides, 1);
    overrideRow->addLayout(overrideButtons);
    form->addRow(CompressionPane::tr("Per-layer ranks:"), overrideRow);
    QObject::connect(addOverride, &QPushButton::clicked, q, [this] {
        const auto model = session->model();
        if (!model) return;
        for (const auto& l : model->layers)
            if (l.compressible) {
                const QString name = QString::fromStdString(l.name).chopped(7);  // without ".weight"
                const int row = addOverrideRow(name, std::max(1, maxRankOf(name) / 4));
                overrides->selectRow(row);
                return;
            }
    });
    QObject::connect(removeOverride, &QPushButton::clicked, q, [this] {
        const int row = overrides->currentRow();
        if (row >= 0) overrides->removeRow(row);
        updateEnabled();
    });

    folderRow(CompressionPane::tr("&Output:"), "output-dir", "browse-output",
              CompressionPane::tr("Folder for the compressed model"), output, browse);

    searchButton = new QPushButton(CompressionPane::tr("&Search ranks"));
    searchButton->setObjectName(QStringLiteral("search-button"));
    searchButton->setToolTip(CompressionPane::tr("Search a rank allocation with the chosen solver (nothing is written)"));
    compressButton = new QPushButton(CompressionPane::tr("&Compress"));
    compressButton->setObjectName(QStringLiteral("compress-button"));
    compressButton->setDefault(true);
    cancelButton = new QPushButton(CompressionPane::tr("Cancel"));
    cancelButton->setObjectName(QStringLiteral("cancel-button"));
    openResult = new QPushButton(CompressionPane::tr("Open Result"));
    openResult->setObjectName(QStringLiteral("open-result"));
    openResult->setToolTip(CompressionPane::tr("Open the compressed model in the workbench"));
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(searchButton);
    buttons->addWidget(compressButton);
    buttons->addWidget(cancelButton);
    buttons->addStretch(1);
    buttons->addWidget(openResult);
    form->addRow(buttons);

    progress = new QProgressBar;
    progress->setObjectName(QStringLiteral("job-progress"));
    progress->setRange(0, 1);
    progress->setValue(0);
    status = new QLabel(CompressionPane::tr("Idle."));
    status->setObjectName(QStringLiteral("job-status"));
    status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    form->addRow(progress);
    form->addRow(status);
    error = new QLabel;
    error->setObjectName(QStringLiteral("compression-error"));
    error->setWordWrap(true);
    error->setTextInteractionFlags(Qt::TextSelectableByMouse);
    error->setStyleSheet(QStringLiteral("color: #c62828;"));
    error->setVisible(false);
    form->addRow(error);

    QObject::connect(keep, &QSlider::valueChanged, q, [this] {
        updateTarget();
        updateDefaultOutput();
    });
    QObject::connect(method, &QComboBox::currentIndexChanged, q, [this] {
        auto it = plugins.find(methodId());
        pluginSettings->setCurrentWidget(it == plugins.end() ? pluginSettings->widget(0) : it->second.second);
        pluginTitle->setVisible(it != plugins.end());
        pluginSettings->setVisible(it != plugins.end());
        updateEnabled();
    });
    QObject::connect(solver, &QComboBox::currentIndexChanged, q, [this] { updateEnabled(); });
    QObject::connect(objective, &QComboBox::currentIndexChanged, q, [this] { updateEnabled(); });
    QObject::connect(output, &QLineEdit::textEdited, q, [this](const QString& text) {
        outputEdited = !text.trimmed().isEmpty();
        if (!outputEdited) updateDefaultOutput();
    });
    QObject::connect(browse, &QToolButton::clicked, q, [this] {
        QString start = output->text().trimmed();
        if (start.isEmpty() || !QFileInfo(start).isDir())
            start = session->hasModel() ? QFileInfo(session->directory()).absolutePath() : QDir::homePath();
        const QString dir = QFileDialog::getExistingDirectory(q, CompressionPane::tr("Output Folder"), start);
        if (dir.isEmpty()) return;
        output->setText(QDir::toNativeSeparators(dir));
        outputEdited = true;
    });
    QObject::connect(searchButton, &QPushButton::clicked, q, [this] { q->startSearch(); });
    QObject::connect(compressButton, &QPushButton::clicked, q, [this] { q->startCompression(); });
    QObject::connect(cancelButton, &QPushButton::clicked, q, &CompressionPane::cancel);
    QObject::connect(openResult, &QPushButton::clicked, q, [this] {
        if (!lastOutDir.isEmpty()) session->open(lastOutDir);
    });
    return box;
}

QWidget* CompressionPane::Impl::buildResults() {
    auto* split = new QSplitter(Qt::Vertical);
    split->setObjectName(QStringLiteral("compression-results"));

    plot = new QCustomPlot;
    plot->setObjectName(QStringLiteral("rank-plot"));
    plot->setMinimumHeight(160);
    plot->setNoAntialiasingOnDrag(true);
    plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    plot->addGraph();
    plot->graph(0)->setName(CompressionPane::tr("energy"));
    plot->graph(0)->setPen(QPen(QColor(0x1e, 0x88, 0xe5), 1.2));
    plot->graph(0)->setAdaptiveSampling(true);
    plot->addGraph();
    plot->graph(1)->setName(CompressionPane::tr("best objective"));
    plot->graph(1)->setPen(QPen(QColor(0xe5, 0x39, 0x35), 2.0));
    plot->graph(1)->setLineStyle(QCPGraph::lsStepLeft);
    plot->xAxis->setLabel(CompressionPane::tr("iteration"));
    plot->yAxis->setLabel(CompressionPane::tr("discarded weight"));
    plot->legend->setVisible(true);
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    uniformLine = new QCPItemStraightLine(plot);
    uniformLine->setPen(QPen(QColor(0x75, 0x75, 0x75), 1.0, Qt::DashLine));
    uniformLine->setVisible(false);
    plot->xAxis->setRange(0, 1);
    plot->yAxis->setRange(0, 1);
    heatmap = new RankHeatmap;
    heatmap->setMinimumHeight(160);
    views = new QTabWidget;
    views->setObjectName(QStringLiteral("result-views"));
    views->addTab(plot, CompressionPane::tr("Search"));
    views->addTab(heatmap, CompressionPane::tr("Ranks per layer"));

    // Before / after: the original's singular values and those of the matrix the compressed
    // layer's factors rebuild, for the layer selected in the results table.
    compareTab = new QWidget;
    compareTab->setObjectName(QStringLiteral("spectrum-compare-tab"));
    auto* cv = new QVBoxLayout(compareTab);
    cv->setContentsMargins(0, 0, 0, 0);
    compare = new QCustomPlot;
    compare->setObjectName(QStringLiteral("spectrum-compare"));
    compare->setMinimumHeight(160);
    compare->setNoAntialiasingOnDrag(true);
    compare->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    compare->addGraph();
    compare->graph(0)->setName(CompressionPane::tr("original"));
    compare->graph(0)->setPen(QPen(QColor(0x9e, 0x9e, 0x9e), 1.6));
    compare->graph(0)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 3));
    compare->addGraph();
    compare->graph(1)->setName(CompressionPane::tr("compressed"));
    compare->graph(1)->setPen(QPen(QColor(0x1e, 0x88, 0xe5), 1.6));
    compare->graph(1)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 3));
    compare->xAxis->setLabel(CompressionPane::tr("index i"));
    compare->yAxis->setLabel(CompressionPane::tr("singular value s_i"));
    makeLogAxis(compare->yAxis);
    compare->legend->setVisible(true);
    compare->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    compareRankLine = new QCPItemStraightLine(compare);
    compareRankLine->setPen(QPen(QColor(0x43, 0xa0, 0x47), 1.4, Qt::DashLine));
    compareRankLine->setVisible(false);
    cv->addWidget(compare, 1);
    compareSummary = new QLabel;
    compareSummary->setObjectName(QStringLiteral("spectrum-compare-summary"));
    compareSummary->setWordWrap(true);
    compareSummary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    cv->addWidget(compareSummary);
    views->addTab(compareTab, CompressionPane::tr("Spectrum before / after"));
    split->addWidget(views);

    auto* bottom = new QWidget;
    auto* v = new QVBoxLayout(bottom);
    v->setContentsMargins(0, 0, 0, 0);
    summary = new QLabel;
    summary->setObjectName(QStringLiteral("compression-summary"));
    summary->setWordWrap(true);
    summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    v->addWidget(summary);
    table = new QTableWidget(0, 7);
    table->setObjectName(QStringLiteral("layer-results"));
    table->setHorizontalHeaderLabels({CompressionPane::tr("Layer"), CompressionPane::tr("Method"),
                                      CompressionPane::tr("Ranks"), CompressionPane::tr("Params before"),
                                      CompressionPane::tr("Params after"), CompressionPane::tr("Rel. error"),
                                      CompressionPane::tr("Out error")});
    table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table->setSelectionBehavior(QAbstractItemView::SelectRows);
    table->setAlternatingRowColors(true);
    table->verticalHeader()->setVisible(false);
    table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    for (int c = 1; c < table->columnCount(); ++c)
        table->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    v->addWidget(table, 1);
    QObject::connect(table, &QTableWidget::currentCellChanged, q, [this](int row) {
        if (row < 0 || busy || !table->item(row, 0)) return;
        const QString layer = table->item(row, 0)->text();
        if (layer != comparedLayer) q->compareSpectra(layer);
    });
    split->addWidget(bottom);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 1);
    split->setSizes({300, 300});
    return split;
}

bool CompressionPane::Impl::modelUsable() const {
    const auto model = session->model();
    return model && !model->compressed && !session->isLoading();
}

void CompressionPane::Impl::onModelChanged() {
    if (busy) q->cancel();  // the model under the job changed
    outputEdited = false;
    table->setRowCount(0);
    summary->clear();
    error->clear();
    error->setVisible(false);
    clearPlot();
    overrides->setRowCount(0);  // layer names belong to the previous model
    lastOutDir.clear();
    lastSourceDir.clear();
    clearComparison();
    status->setText(CompressionPane::tr("Idle."));
    progress->setRange(0, 1);
    progress->setValue(0);
    updateTarget();
    updateDefaultOutput();
    updateEnabled();
}

void CompressionPane::Impl::updateTarget() {
    const auto model = session->model();
    const int pct = keepPercent();
    if (!model) {
        keepLabel->setText(CompressionPane::tr("Keep %1 %").arg(pct));
        return;
    }
    const auto target = static_cast<std::int64_t>(std::llround(double(model->params) * pct / 100.0));
    keepLabel->setText(CompressionPane::tr("Keep %1 % \u2192 %2 of %3 parameters")
                           .arg(pct)
                           .arg(formatCount(target), formatCount(model->params)));
    keepLabel->setToolTip(formatCompactCount(target));
}

void CompressionPane::Impl::updateDefaultOutput() {
    if (outputEdited) return;
    if (!session->hasModel()) {
        output->clear();
        return;
    }
    const QString dir = QDir::cleanPath(session->directory());
    output->setText(QDir::toNativeSeparators(QStringLiteral("%1-compressed-%2").arg(dir).arg(keepPercent())));
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
    const bool usable = modelUsable();
    const bool idle = usable && !busy;
    const bool searchable = searchableMethod(methodId());
    keep->setEnabled(idle);
    method->setEnabled(idle);
    solver->setEnabled(idle && searchable);
    solver->setToolTip(searchable ? QString()
                                  : CompressionPane::tr("Searched ranks apply to the per-matrix methods (SVD, "
                                                        "activation-aware SVD)"));
    calibrate->setEnabled(idle);
    objective->setEnabled(idle && searchable && !solverId().isEmpty());
    calibData->setEnabled(idle);
    calibBrowse->setEnabled(idle);
    randomized->setEnabled(idle);
    storeSource->setEnabled(idle);
    overrides->setEnabled(idle && overridable());
    addOverride->setEnabled(idle && overridable());
    removeOverride->setEnabled(idle && overridable() && overrides->rowCount() > 0);
    output->setEnabled(idle);
    browse->setEnabled(idle);
    searchButton->setEnabled(idle && searchable && !solverId().isEmpty());
    compressButton->setEnabled(idle);
    cancelButton->setEnabled(busy);
    openResult->setEnabled(!busy && !lastOutDir.isEmpty() && QFileInfo::exists(lastOutDir));
    controls->setEnabled(usable || busy);
}

void CompressionPane::Impl::setBusy(bool on) {
    if (busy == on) return;
    busy = on;
    updateEnabled();
    emit q->busyChanged(on);
}

void CompressionPane::Impl::showStatusBar(const QString& message) {
    if (auto* w = qobject_cast<QMainWindow*>(q->window())) w->statusBar()->showMessage(message, 10000);
}

void CompressionPane::Impl::showError(const QString& message) {
    lastError = message;
    error->setText(message);
    error->setVisible(!message.isEmpty());
    if (!message.isEmpty()) showStatusBar(CompressionPane::tr("Compression: %1").arg(message));
}

void CompressionPane::Impl::clearPlot() {
    plot->graph(0)->data()->clear();
    plot->graph(1)->data()->clear();
    uniformLine->setVisible(false);
    plotMin = std::numeric_limits<double>::infinity();
    plotMax = -std::numeric_limits<double>::infinity();
    plotLastX = 0;
    plot->xAxis->setRange(0, 1);
    plot->yAxis->setRange(0, 1);
    plot->replot(QCustomPlot::rpQueuedReplot);
    heatmap->clearCells();
    views->setCurrentWidget(plot);
}

void CompressionPane::Impl::start(bool withCompression, bool replace) {
    const auto model = session->model();
    if (!model) return;
    const QString solverName = searchableMethod(methodId()) ? solverId() : QString();
    const bool search = !solverName.isEmpty();
    if (!withCompression && !search) return;

    // Everything the worker needs, copied: it never touches widgets.
    const std::string dir = QDir::toNativeSeparators(session->directory()).toStdString();
    const QString outDir = QDir::cleanPath(QDir::fromNativeSeparators(output->text().trimmed()));
    const std::string out = QDir::toNativeSeparators(outDir).toStdString();
    qcw::RankSearchOptions ro;
    ro.keepFraction = keepPercent() / 100.0;
    ro.solver = solverName.toStdString();
    const std::map<std::string, int> chosenRanks = overridable() ? overrideMap() : std::map<std::string, int>{};
    qcw::CompressOptions co;
    co.keepFraction = ro.keepFraction;
    co.ranks = chosenRanks;
    co.method = methodId().toStdString();
    co.randomized = randomized->isChecked();
    co.storeDtype = storeSource->isChecked() ? "source" : "F32";
    co.solver = ro.solver;
    if (auto it = plugins.find(methodId()); it != plugins.end()) {
        // Sets the method (a variant of the wrapped strategy, or custom with a factorizer) and its
        // settings; the pane's own Randomized SVD box stays in force.
        const bool randomizedHere = co.randomized;
        it->second.first->configure(it->second.second, co);
        co.randomized = co.randomized || randomizedHere;
    }
    const QString calibDir = QDir::cleanPath(QDir::fromNativeSeparators(calibData->text().trimmed()));
    const bool haveCalibData = !calibData->text().trimmed().isEmpty();
    ro.weighting = search ? objectiveId().toStdString() : std::string("spectral");
    if (ro.weighting == "loss" && !haveCalibData && !calibrate->isChecked()) {
        showError(CompressionPane::tr("The measured-loss objective needs calibration: choose a calibration dataset or "
                                      "check “Calibrate on random tokens”."));
        return;
    }
    const std::string calibDirStd = QDir::toNativeSeparators(calibDir).toStdString();
    if (calibrate->isChecked() && !haveCalibData && model->vocabSize > 0) {
        std::mt19937_64 rng(17);
        const auto vocab = static_cast<std::uint64_t>(model->vocabSize);
        co.calibration.assign(8, std::vector<std::int64_t>(32));
        for (auto& w : co.calibration)
            for (auto& t : w) t = static_cast<std::int64_t>(rng() % vocab);
    }

    const quint64 gen = ++generation;
    lastError.clear();
    error->clear();
    error->setVisible(false);
    if (search) {
        clearPlot();
        plot->yAxis->setLabel(ro.weighting == "loss" ? CompressionPane::tr("predicted loss increase (nats/token)")
                                                     : CompressionPane::tr("discarded weight"));
    }
    if (withCompression) {
        table->setRowCount(0);
        summary->clear();
        lastOutDir.clear();
    }
    progress->setRange(0, 0);
    status->setText(withCompression ? CompressionPane::tr("Starting the compression …")
                                    : CompressionPane::tr("Starting the rank search …"));
    jobClock.start();
    setBusy(true);
    clearComparison();
    if (withCompression) lastSourceDir = session->directory();

    // Every report of the worker reaches applyBatch in order, in batches at most ~30 times a
    // second (ProgressFeed). A superseded or cancelled job's feed is closed.
    if (feed) feed->close();
    feed = ProgressFeed::create(q, [this, gen](const std::vector<qcw::Progress>& batch) {
        if (gen == generation) applyBatch(batch);
    });
    std::shared_ptr<ProgressFeed> jobFeed = feed;
    ro.onAllocation = [jobFeed](const std::map<std::string, int>& ranks, long long iteration) {
        qcw::Progress p;
        p.stage = kAllocationStage;
        p.step = iteration;
        for (const auto& [group, rank] : ranks) p.metrics[group] = rank;
        jobFeed->push(p);
    };
    // The pane outlives the job: its Jobs cancels and waits for it on destruction, and Qt drops
    // queued calls to a deleted receiver.
    SearchFn searchFnCopy = searchFn;
    CompressFn compressFnCopy = compressFn;
    jobs.run(
        [=](qcw::RunContext& ctx) {
            ctx.setCallback(jobFeed->callback());
            const auto t0 = std::chrono::steady_clock::now();
            JobResult r;
            qcw::CompressOptions opts = co;
            qcw::RankSearchOptions searchOpts = ro;
            if (haveCalibData) {
                ctx.report("tokenize", 0, 0);
                opts.calibration = qcw::calibrationWindows(calibDirStd, dir, 128, 16, "calibration data");
            }
            searchOpts.calibration = opts.calibration;
            if (search) {
                r.search = searchFnCopy(dir, searchOpts, ctx);
                if (ctx.isCancelled()) throw qcw::Cancelled();
                if (r.search->weighting == "loss") opts.solver += "+loss";
                opts.ranks = r.search->ranks;
                for (const auto& [name, rank] : chosenRanks) opts.ranks[name] = rank;  // overrides win
            }
            if (withCompression) {
                r.report = compressFnCopy(dir, out, opts, ctx, replace);
                r.outDir = outDir;
            }
            r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            return r;
        },
        [this, gen, jobFeed](Outcome<JobResult> result) {
            // The last reports are shown before the job is marked done.
            if (gen == generation) jobFeed->flushNow();
            finished(gen, std::move(result));
        });
}

void CompressionPane::Impl::applyBatch(const std::vector<qcw::Progress>& batch) {
    std::vector<PlotPoint> points;
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
    if (!points.empty()) appendPoints(points);
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
    status->setText(text);
}

void CompressionPane::Impl::appendPoints(const std::vector<PlotPoint>& points) {
    for (const PlotPoint& pt : points) {
        // A later restart or a new solver run counts from 1 again: keep x increasing.
        double x = pt.iteration;
        if (x <= plotLastX && !plot->graph(0)->data()->isEmpty()) x = plotLastX + 1;
        plotLastX = x;
        if (std::isfinite(pt.energy)) {
            plot->graph(0)->addData(x, pt.energy);
            plotMin = std::min(plotMin, pt.energy);
            plotMax = std::max(plotMax, pt.energy);
        }
        if (std::isfinite(pt.best)) {
            plot->graph(1)->addData(x, pt.best);
            plotMin = std::min(plotMin, pt.best);
            plotMax = std::max(plotMax, pt.best);
        }
    }
    if (std::isfinite(plotMin)) {
        const double pad = std::max(1e-12, 0.05 * (plotMax - plotMin));
        plot->yAxis->setRange(plotMin - pad, plotMax + pad);
    }
    plot->xAxis->setRange(0, std::max(1.0, plotLastX));
    plot->replot(QCustomPlot::rpQueuedReplot);
}

void CompressionPane::Impl::finished(quint64 gen, Outcome<JobResult> out) {
    if (gen != generation) return;  // cancelled from the pane (already idle) or superseded
    setBusy(false);
    if (out.cancelled) {
        progress->setRange(0, 1);
        progress->setValue(0);
        status->setText(CompressionPane::tr("Cancelled."));
        emit q->jobFinished(false, CompressionPane::tr("cancelled"));
        return;
    }
    if (!out.ok()) {
        const QString message = out.error.isEmpty() ? CompressionPane::tr("unknown error") : out.error;
        progress->setRange(0, 1);
        progress->setValue(0);
        status->setText(CompressionPane::tr("Failed."));
        showError(message);
        emit q->jobFinished(false, message);
        return;
    }
    JobResult& r = *out.value;
    const int max = std::max(1, progress->maximum());
    progress->setRange(0, max);
    progress->setValue(max);
    if (r.search) showSearch(*r.search);
    if (r.report) showReport(*r.report, r.outDir, r.seconds);
    updateEnabled();
    QString done;
    if (r.report)
        done = CompressionPane::tr("Compressed in %1 s: %2 kept.")
                   .arg(QLocale().toString(r.seconds, 'f', 1))
                   .arg(QLocale().toString(100.0 * r.report->ratio, 'f', 1) + QStringLiteral(" %"));
    else
        done = CompressionPane::tr("Rank search finished in %1 s.").arg(QLocale().toString(r.seconds, 'f', 2));
    status->setText(done);
    showStatusBar(done);
    emit q->jobFinished(true, done);
}

void CompressionPane::Impl::showSearch(const qcw::RankSearchResult& r) {
    uniformLine->point1->setCoords(0, r.uniformObjective);
    uniformLine->point2->setCoords(1, r.uniformObjective);
    uniformLine->setVisible(std::isfinite(r.uniformObjective));
    if (std::isfinite(r.uniformObjective)) {
        plotMin = std::min(plotMin, r.uniformObjective);
        plotMax = std::max(plotMax, r.uniformObjective);
        const double pad = std::max(1e-12, 0.05 * (plotMax - plotMin));
        plot->yAxis->setRange(plotMin - pad, plotMax + pad);
    }
    plot->replot(QCustomPlot::rpQueuedReplot);
    std::vector<RankCell> cells;
    for (const std::string& g : r.order) {
        auto it = r.ranks.find(g);
        if (it != r.ranks.end())
            cells.push_back({QString::fromStdString(g), double(it->second), QString::number(it->second)});
    }
    heatmap->setCells(std::move(cells), CompressionPane::tr("searched rank"));
    const double gain = r.uniformObjective > 0 ? 100.0 * (1.0 - r.objective / r.uniformObjective) : 0.0;
    if (r.weighting == "loss") {
        summary->setText(CompressionPane::tr("Rank search (%1, measured loss): predicted loss increase %2 vs. %3 "
                                             "nats/token for uniform ranks (%4 % lower, dashed line), from a dense "
                                             "calibration loss of %5; %6 \u2192 %7 parameters.")
                             .arg(QString::fromStdString(r.solver))
                             .arg(QLocale().toString(r.objective, 'g', 4), QLocale().toString(r.uniformObjective, 'g', 4),
                                  QLocale().toString(gain, 'f', 1), QLocale().toString(r.baseLoss, 'f', 3))
                             .arg(formatCount(r.paramsBefore), formatCount(r.paramsAfter)));
        return;
    }
    summary->setText(CompressionPane::tr("Rank search (%1): discarded weight %2 vs. %3 for uniform ranks (%4 % "
                                         "lower, dashed line); %5 \u2192 %6 parameters.")
                         .arg(QString::fromStdString(r.solver))
                         .arg(QLocale().toString(r.objective, 'g', 5), QLocale().toString(r.uniformObjective, 'g', 5),
                              QLocale().toString(gain, 'f', 1))
                         .arg(formatCount(r.paramsBefore), formatCount(r.paramsAfter)));
}

void CompressionPane::Impl::showReport(const qcw::CompressionReport& r, const QString& outDir, double seconds) {
    std::vector<RankCell> cells;
    for (const qcw::LayerReport& l : r.layers)
        if (l.paramsBefore > 0)
            cells.push_back({QString::fromStdString(l.name), double(l.paramsAfter) / double(l.paramsBefore), ranksText(l.ranks)});
    heatmap->setCells(std::move(cells), CompressionPane::tr("parameters kept"));
    views->setCurrentWidget(heatmap);
    table->setSortingEnabled(false);
    table->setRowCount(static_cast<int>(r.layers.size()));
    for (int i = 0; i < static_cast<int>(r.layers.size()); ++i) {
        const qcw::LayerReport& l = r.layers[static_cast<std::size_t>(i)];
        const QString cells[] = {QString::fromStdString(l.name), QString::fromStdString(l.method), ranksText(l.ranks),
                                 formatCount(l.paramsBefore),    formatCount(l.paramsAfter),       errorText(l.relError),
                                 errorText(l.outError)};
        for (int c = 0; c < 7; ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            if (c >= 3) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            if (c == 0 && !l.group.empty() && l.group != l.name)
                item->setToolTip(CompressionPane::tr("group %1").arg(QString::fromStdString(l.group)));
            table->setItem(i, c, item);
        }
    }
    QString text = CompressionPane::tr("Parameters %1 \u2192 %2 (ratio %3, %4 % kept) by %5")
                       .arg(formatCount(r.paramsBefore), formatCount(r.paramsAfter),
                            QLocale().toString(r.ratio, 'f', 3), QLocale().toString(100.0 * r.ratio, 'f', 1),
                            QString::fromStdString(r.method));
    if (!r.solver.empty()) text += CompressionPane::tr(", ranks by %1").arg(QString::fromStdString(r.solver));
    if (r.calibrated)
        text += CompressionPane::tr(", calibrated on %1 tokens").arg(formatCount(r.calibrationTokens));
    text += CompressionPane::tr(" in %1 s (compression %2 s). Written to %3")
                .arg(QLocale().toString(seconds, 'f', 1), QLocale().toString(r.seconds, 'f', 1),
                     QDir::toNativeSeparators(outDir));
    if (summary->text().isEmpty() || r.solver.empty()) summary->setText(text);
    else summary->setText(summary->text() + QLatin1Char('\n') + text);
    lastOutDir = outDir;
}

void CompressionPane::compareSpectra(const QString& layer) {
    if (d->lastOutDir.isEmpty() || d->lastSourceDir.isEmpty() || d->busy) return;
    const quint64 gen = ++d->compareGeneration;
    d->spectrumJobs.cancelAll();  // a comparison still computing is dropped
    d->comparedLayer = layer;
    d->compareSummary->setText(tr("Computing the spectra of %1 before and after …").arg(layer));
    d->views->setCurrentWidget(d->compareTab);
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
                d->compareSummary->setText(tr("Could not compare the spectra of %1: %2").arg(layer, out.error));
                emit comparisonReady(layer, false);
                return;
            }
            d->showComparison(layer, *out.value);
            emit comparisonReady(layer, true);
        });
}

QString CompressionPane::comparedLayer() const { return d->comparedLayer; }

void CompressionPane::Impl::clearComparison() {
    ++compareGeneration;
    spectrumJobs.cancelAll();
    comparedLayer.clear();
    compare->graph(0)->data()->clear();
    compare->graph(1)->data()->clear();
    compareRankLine->setVisible(false);
    compare->xAxis->setRange(0, 1);
    compare->yAxis->setRange(0.1, 10);
    compare->replot(QCustomPlot::rpQueuedReplot);
    compareSummary->setText(CompressionPane::tr("After a compression, select a layer in the table to compare its "
                                                "singular values before and after."));
}

void CompressionPane::Impl::showComparison(const QString& layer, const SpectrumPair& pair) {
    const auto& b = pair.before;
    const auto& a = pair.after;
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
    compare->graph(0)->setData(xb, yb, true);
    compare->graph(1)->setData(xa, ya, true);
    compare->graph(1)->setName(CompressionPane::tr("compressed (%1)").arg(QString::fromStdString(a.storage)));
    compareRankLine->point1->setCoords(a.numericalRank, 1);
    compareRankLine->point2->setCoords(a.numericalRank, 2);
    compareRankLine->setVisible(a.numericalRank > 0);
    compare->xAxis->setRange(0, double(std::max(b.singularValues.size(), a.singularValues.size())) + 1);
    if (hi > 0) fitLogAxis(compare->yAxis, lo, hi);
    compare->replot(QCustomPlot::rpQueuedReplot);

    const double energy = b.stats.frobeniusSq > 0 ? a.stats.frobeniusSq / b.stats.frobeniusSq : 0.0;
    auto number = [](double v, int digits = 3) { return QLocale().toString(v, 'g', digits); };
    compareSummary->setText(
        CompressionPane::tr("%1, %2 x %3, stored as %4: numerical rank %5 of %6 (dashed). Squared norm kept "
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
                 number(a.stats.effectiveRank, 4), number(b.stats.stableRank), number(a.stats.stableRank)));
}

bool CompressionPane::Impl::overridable() const {
    const QString m = methodId();
    const qcw::StrategyInfo* st = qcw::findStrategyInfo(m.toStdString());
    return (st && st->perMatrixRanks) || m.startsWith(QLatin1String("plugin:"));
}

int CompressionPane::Impl::maxRankOf(const QString& layer) const {
    const auto model = session->model();
    if (!model) return 0;
    const std::string name = layer.toStdString() + ".weight";
    for (const auto& l : model->layers)
        if (l.compressible && l.name == name && l.shape.size() == 2)
            return static_cast<int>(std::min(l.shape[0], l.shape[1]));
    return 0;
}

int CompressionPane::Impl::addOverrideRow(const QString& layer, int rank) {
    const auto model = session->model();
    const int row = overrides->rowCount();
    overrides->insertRow(row);
    auto* names = new QComboBox;
    names->setObjectName(QStringLiteral("override-layer"));
    if (model)
        for (const auto& l : model->layers)
            if (l.compressible) names->addItem(QString::fromStdString(l.name).chopped(7));
    names->setCurrentText(layer);
    auto* ranks = new QSpinBox;
    ranks->setObjectName(QStringLiteral("override-rank"));
    ranks->setRange(1, std::max(1, maxRankOf(layer)));
    ranks->setValue(rank);
    QObject::connect(names, &QComboBox::currentTextChanged, ranks, [this, ranks](const QString& name) {
        ranks->setMaximum(std::max(1, maxRankOf(name)));
    });
    overrides->setCellWidget(row, 0, names);
    overrides->setCellWidget(row, 1, ranks);
    updateEnabled();
    return row;
}

std::map<std::string, int> CompressionPane::Impl::overrideMap() const {
    std::map<std::string, int> out;
    for (int r = 0; r < overrides->rowCount(); ++r) {
        auto* names = qobject_cast<QComboBox*>(overrides->cellWidget(r, 0));
        auto* ranks = qobject_cast<QSpinBox*>(overrides->cellWidget(r, 1));
        if (names && ranks && !names->currentText().isEmpty()) out[names->currentText().toStdString()] = ranks->value();
    }
    return out;
}

bool CompressionPane::setRankOverride(const QString& layer, int rank) {
    const int max = d->maxRankOf(layer);
    if (max == 0 || rank < 1 || rank > max) return false;
    for (int r = 0; r < d->overrides->rowCount(); ++r) {
        auto* names = qobject_cast<QComboBox*>(d->overrides->cellWidget(r, 0));
        if (names && names->currentText() == layer) {
            qobject_cast<QSpinBox*>(d->overrides->cellWidget(r, 1))->setValue(rank);
            return true;
        }
    }
    d->addOverrideRow(layer, rank);
    return true;
}

void CompressionPane::clearRankOverrides() {
    d->overrides->setRowCount(0);
    d->updateEnabled();
}

std::map<std::string, int> CompressionPane::rankOverrides() const { return d->overrideMap(); }

}  // namespace qcw::ui
