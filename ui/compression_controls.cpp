#include "ui/compression_controls.h"

#include "decompose/strategies/registry.h"
#include "ui/decomposition_plugin.h"
#include "ui/format.h"
#include "ui/plugins.h"
#include "ui/rank_override_table.h"

#include <QCheckBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSlider>
#include <QStackedWidget>
#include <QToolButton>

#include <cmath>

namespace qcw::ui {

namespace {

struct Item {
    const char* id;  // a solver's empty id: uniform ranks, no search
    const char* label;
    const char* tip;
};
const Item kSolvers[] = {
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

QString trItem(const char* text) { return QCoreApplication::translate("qcw::ui::CompressionPane", text); }

QString native(const QString& path) { return QDir::toNativeSeparators(path); }

}  // namespace

CompressionControls::CompressionControls(QWidget* parent) : QGroupBox(tr("Settings"), parent) {
    setObjectName(QStringLiteral("compression-settings"));
    auto* form = new QFormLayout(this);

    keep_ = new QSlider(Qt::Horizontal);
    keep_->setObjectName(QStringLiteral("keep-slider"));
    keep_->setRange(5, 100);
    keep_->setValue(30);
    keep_->setSingleStep(1);
    keep_->setPageStep(5);
    keep_->setTickPosition(QSlider::TicksBelow);
    keep_->setTickInterval(5);
    keep_->setToolTip(tr("Fraction of all parameters the compressed model keeps"));
    keepLabel_ = new QLabel;
    keepLabel_->setObjectName(QStringLiteral("keep-target"));
    keepLabel_->setMinimumWidth(keepLabel_->fontMetrics().horizontalAdvance(
        QStringLiteral("Keep 100 % \u2192 0,000,000,000 of 0,000,000,000 parameters")));
    auto* keepRow = new QHBoxLayout;
    keepRow->addWidget(keep_, 1);
    keepRow->addWidget(keepLabel_);
    auto* keepTitle = new QLabel(tr("&Keep:"));
    keepTitle->setBuddy(keep_);
    form->addRow(keepTitle, keepRow);

    method_ = new QComboBox;
    method_->setObjectName(QStringLiteral("method-combo"));
    pluginSettings_ = new QStackedWidget;
    pluginSettings_->setObjectName(QStringLiteral("plugin-settings"));
    pluginSettings_->addWidget(new QWidget);  // page 0: no plugin chosen
    populateMethods();
    solver_ = new QComboBox;
    solver_->setObjectName(QStringLiteral("solver-combo"));
    for (const auto& s : kSolvers) {
        solver_->addItem(trItem(s.label), QString::fromLatin1(s.id));
        solver_->setItemData(solver_->count() - 1, trItem(s.tip), Qt::ToolTipRole);
    }
    auto* methodRow = new QHBoxLayout;
    methodRow->addWidget(method_, 1);
    auto* solverTitle = new QLabel(tr("Ranks &by:"));
    solverTitle->setBuddy(solver_);
    methodRow->addSpacing(12);
    methodRow->addWidget(solverTitle);
    methodRow->addWidget(solver_, 1);
    objective_ = new QComboBox;
    objective_->setObjectName(QStringLiteral("objective-combo"));
    objective_->addItem(tr("Spectral error"), QStringLiteral("spectral"));
    objective_->setItemData(0, tr("Minimise the summed discarded singular-value weight, every matrix alike"),
                            Qt::ToolTipRole);
    objective_->addItem(tr("Measured loss"), QStringLiteral("loss"));
    objective_->setItemData(1,
                            tr("Minimise the calibration-loss increase measured per matrix at 1/2, 1 and 2 times its "
                               "uniform rank (3 forward passes per matrix; needs calibration)"),
                            Qt::ToolTipRole);
    auto* objectiveTitle = new QLabel(tr("&Objective:"));
    objectiveTitle->setBuddy(objective_);
    methodRow->addSpacing(12);
    methodRow->addWidget(objectiveTitle);
    methodRow->addWidget(objective_);
    auto* methodTitle = new QLabel(tr("&Method:"));
    methodTitle->setBuddy(method_);
    form->addRow(methodTitle, methodRow);
    pluginTitle_ = new QLabel(tr("Plugin settings:"));
    form->addRow(pluginTitle_, pluginSettings_);
    // The first entry may already carry a wrapping plugin's settings (the SVD plugin's under svd).
    const auto initialPlugin = plugins_.find(methodId());
    if (initialPlugin != plugins_.end()) pluginSettings_->setCurrentWidget(initialPlugin->second.second);
    pluginTitle_->setVisible(initialPlugin != plugins_.end());
    pluginSettings_->setVisible(initialPlugin != plugins_.end());

    calibrate_ = new QCheckBox(tr("Calibrate on random tokens"));
    calibrate_->setObjectName(QStringLiteral("calibrate-random"));
    calibrate_->setToolTip(tr("%1 windows of %2 random token ids (as qcompress compress --calib-random %1 "
                              "--calib-length %2): enough for activation-aware SVD and output errors on synthetic "
                              "models without text")
                               .arg(kRandomWindows)
                               .arg(kRandomLength));
    randomized_ = new QCheckBox(tr("Randomized SVD"));
    randomized_->setObjectName(QStringLiteral("randomized-svd"));
    randomized_->setToolTip(tr("Faster on big matrices, slightly less accurate"));
    storeSource_ = new QCheckBox(tr("Store in the model's dtype"));
    storeSource_->setObjectName(QStringLiteral("store-source-dtype"));
    storeSource_->setChecked(true);
    storeSource_->setToolTip(tr("Write the factors in the dtype the model is stored in (F16 for phi-1.5: half the "
                                "file of F32); unchecked: F32"));
    auto* optionRow = new QHBoxLayout;
    optionRow->addWidget(calibrate_);
    optionRow->addWidget(randomized_);
    optionRow->addWidget(storeSource_);
    optionRow->addStretch(1);
    form->addRow(tr("Options:"), optionRow);

    // A folder field: line edit, Browse button, labelled row.
    auto folderRow = [form](const QString& title, const char* editName, const char* buttonName,
                            const QString& placeholder, QLineEdit*& edit, QToolButton*& button) {
        edit = new QLineEdit;
        edit->setObjectName(QString::fromLatin1(editName));
        edit->setPlaceholderText(placeholder);
        edit->setClearButtonEnabled(true);
        button = new QToolButton;
        button->setObjectName(QString::fromLatin1(buttonName));
        button->setText(tr("Browse…"));
        auto* row = new QHBoxLayout;
        row->addWidget(edit, 1);
        row->addWidget(button);
        auto* label = new QLabel(title);
        label->setBuddy(edit);
        form->addRow(label, row);
    };
    folderRow(tr("C&alibration:"), "calibration-data", "browse-calibration",
              tr("Dataset folder (Documents \u203a Build dataset): calibrates activation-aware SVD and the "
                 "measured-loss objective"),
              calibData_, calibBrowse_);
    connect(calibBrowse_, &QToolButton::clicked, this, [this] {
        QString start = calibData_->text().trimmed();
        if (start.isEmpty() || !QFileInfo(start).isDir()) start = QDir::homePath();
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Calibration Dataset"), start);
        if (!dir.isEmpty()) calibData_->setText(native(dir));
    });

    overrides = new RankOverrideTable;
    form->addRow(tr("Per-layer ranks:"), overrides);

    folderRow(tr("&Output:"), "output-dir", "browse-output", tr("Folder for the compressed model"), output_, browse_);

    searchButton = new QPushButton(tr("&Search ranks"));
    searchButton->setObjectName(QStringLiteral("search-button"));
    searchButton->setToolTip(tr("Search a rank allocation with the chosen solver (nothing is written)"));
    compressButton = new QPushButton(tr("&Compress"));
    compressButton->setObjectName(QStringLiteral("compress-button"));
    compressButton->setDefault(true);
    cancelButton = new QPushButton(tr("Cancel"));
    cancelButton->setObjectName(QStringLiteral("cancel-button"));
    openResult = new QPushButton(tr("Open Result"));
    openResult->setObjectName(QStringLiteral("open-result"));
    openResult->setToolTip(tr("Open the compressed model in the workbench"));
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
    status = new QLabel(tr("Idle."));
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

    connect(keep_, &QSlider::valueChanged, this, [this] {
        updateTarget();
        updateDefaultOutput();
    });
    connect(method_, &QComboBox::currentIndexChanged, this, [this] {
        auto it = plugins_.find(methodId());
        pluginSettings_->setCurrentWidget(it == plugins_.end() ? pluginSettings_->widget(0) : it->second.second);
        pluginTitle_->setVisible(it != plugins_.end());
        pluginSettings_->setVisible(it != plugins_.end());
        emit settingsChanged();
    });
    connect(solver_, &QComboBox::currentIndexChanged, this, &CompressionControls::settingsChanged);
    connect(objective_, &QComboBox::currentIndexChanged, this, &CompressionControls::settingsChanged);
    connect(overrides, &RankOverrideTable::rowsChanged, this, &CompressionControls::settingsChanged);
    connect(output_, &QLineEdit::textEdited, this, [this](const QString& text) {
        outputEdited_ = !text.trimmed().isEmpty();
        if (!outputEdited_) updateDefaultOutput();
    });
    connect(browse_, &QToolButton::clicked, this, [this] {
        QString start = output_->text().trimmed();
        if (start.isEmpty() || !QFileInfo(start).isDir())
            start = !modelDir_.isEmpty() ? QFileInfo(modelDir_).absolutePath() : QDir::homePath();
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Output Folder"), start);
        if (dir.isEmpty()) return;
        output_->setText(native(dir));
        outputEdited_ = true;
    });
}

// The method list: the core's table of strategies (decompose/strategies/registry.h), in its
// order, then the decomposition plugins (decomposition_plugin.h). A plugin that wraps a core
// strategy (its metadata's "strategy") gives that entry its settings widget; one with its own
// factorizer follows the table as an entry of its own.
void CompressionControls::populateMethods() {
    for (const auto& st : qcw::strategyInfos()) {
        if (!st.listed) continue;
        method_->addItem(QString::fromStdString(st.name), QString::fromStdString(st.id));
        method_->setItemData(method_->count() - 1, QString::fromStdString(st.description), Qt::ToolTipRole);
    }
    for (const auto& p : installedPlugins()) {
        if (!p.plugin) continue;
        const bool wraps = !p.strategy.isEmpty() && method_->findData(p.strategy) >= 0;
        const QString id = wraps ? p.strategy : QStringLiteral("plugin:") + p.id;
        if (plugins_.count(id)) continue;  // one settings widget per entry
        if (!wraps) {
            method_->addItem(tr("%1 (plugin)").arg(p.name), id);
            method_->setItemData(method_->count() - 1, p.description, Qt::ToolTipRole);
        }
        QWidget* w = p.plugin->createSettingsWidget(pluginSettings_);
        if (!w) w = new QWidget(pluginSettings_);
        pluginSettings_->addWidget(w);
        plugins_[id] = {p.plugin, w};
    }
}

QString CompressionControls::methodId() const { return method_->currentData().toString(); }
QString CompressionControls::solverId() const { return solver_->currentData().toString(); }
QString CompressionControls::objectiveId() const { return objective_->currentData().toString(); }
int CompressionControls::keepPercent() const { return keep_->value(); }

bool CompressionControls::searchable() const {
    return qcw::strategySearchable(methodId().toStdString());
}

bool CompressionControls::overridable() const {
    const QString m = methodId();
    const qcw::StrategyInfo* st = qcw::findStrategyInfo(m.toStdString());
    return (st && st->perMatrixRanks) || m.startsWith(QLatin1String("plugin:"));
}

bool CompressionControls::searching() const { return searchable() && !solverId().isEmpty(); }

void CompressionControls::setModel(const QString& dir, std::int64_t params) {
    modelDir_ = dir;
    params_ = params;
    outputEdited_ = false;
    updateTarget();
    updateDefaultOutput();
}

void CompressionControls::updateTarget() {
    const int pct = keepPercent();
    if (modelDir_.isEmpty()) {
        keepLabel_->setText(tr("Keep %1 %").arg(pct));
        return;
    }
    const auto target = static_cast<std::int64_t>(std::llround(double(params_) * pct / 100.0));
    keepLabel_->setText(tr("Keep %1 % \u2192 %2 of %3 parameters").arg(pct).arg(formatCount(target), formatCount(params_)));
    keepLabel_->setToolTip(formatCompactCount(target));
}

void CompressionControls::updateDefaultOutput() {
    if (outputEdited_) return;
    if (modelDir_.isEmpty()) {
        output_->clear();
        return;
    }
    output_->setText(native(QStringLiteral("%1-compressed-%2").arg(QDir::cleanPath(modelDir_)).arg(keepPercent())));
}

QString CompressionControls::outputDir() const {
    return QDir::cleanPath(QDir::fromNativeSeparators(output_->text().trimmed()));
}

QString CompressionControls::problem(bool withCompression) const {
    if (withCompression && output_->text().trimmed().isEmpty()) return tr("Choose an output folder.");
    if (searching() && objectiveId() == QLatin1String("loss") && calibData_->text().trimmed().isEmpty() &&
        !calibrate_->isChecked())
        return tr("The measured-loss objective needs calibration: choose a calibration dataset or check “Calibrate "
                  "on random tokens”.");
    return {};
}

qcw::CompressJobOptions CompressionControls::jobOptions(const QString& modelDir, bool withCompression,
                                                        bool replace) const {
    qcw::CompressJobOptions o;
    o.modelDir = native(modelDir).toStdString();
    o.outDir = withCompression ? native(outputDir()).toStdString() : std::string();
    o.replace = replace;
    o.searchOnly = !withCompression;
    if (searching()) {
        o.solver = solverId().toStdString();
        o.weighting = objectiveId().toStdString();
    }
    qcw::CompressOptions& co = o.compress;
    co.keepFraction = keepPercent() / 100.0;
    co.method = methodId().toStdString();
    co.randomized = randomized_->isChecked();
    co.storeDtype = storeSource_->isChecked() ? "source" : "F32";
    if (auto it = plugins_.find(methodId()); it != plugins_.end()) {
        // Sets the method (a variant of the wrapped strategy, or custom with a factorizer) and its
        // settings; the pane's own Randomized SVD box stays in force.
        const bool randomizedHere = co.randomized;
        it->second.first->configure(it->second.second, co);
        co.randomized = co.randomized || randomizedHere;
    }
    if (overridable()) o.overrides = overrides->overrides();
    const QString calibDir = calibData_->text().trimmed();
    if (!calibDir.isEmpty()) {
        o.calibration.dataDir = native(QDir::cleanPath(QDir::fromNativeSeparators(calibDir))).toStdString();
        o.calibration.windows = kDataWindows;
    } else if (calibrate_->isChecked()) {
        o.calibration.random = kRandomWindows;
        o.calibration.length = kRandomLength;
    }
    return o;
}

void CompressionControls::updateEnabled(bool usable, bool busy, bool canOpenResult) {
    const bool idle = usable && !busy;
    keep_->setEnabled(idle);
    method_->setEnabled(idle);
    solver_->setEnabled(idle && searchable());
    solver_->setToolTip(searchable() ? QString()
                                     : tr("Searched ranks apply to the per-matrix methods (SVD, activation-aware SVD)"));
    calibrate_->setEnabled(idle);
    objective_->setEnabled(idle && searching());
    calibData_->setEnabled(idle);
    calibBrowse_->setEnabled(idle);
    randomized_->setEnabled(idle);
    storeSource_->setEnabled(idle);
    overrides->setEditable(idle && overridable());
    output_->setEnabled(idle);
    browse_->setEnabled(idle);
    searchButton->setEnabled(idle && searching());
    compressButton->setEnabled(idle);
    cancelButton->setEnabled(busy);
    openResult->setEnabled(!busy && canOpenResult);
    setEnabled(usable || busy);
}

void CompressionControls::save(QSettings& s) const {
    s.setValue(QStringLiteral("keepPercent"), keep_->value());
    s.setValue(QStringLiteral("method"), methodId());
    s.setValue(QStringLiteral("solver"), solverId());
    s.setValue(QStringLiteral("calibrate"), calibrate_->isChecked());
    s.setValue(QStringLiteral("objective"), objectiveId());
    s.setValue(QStringLiteral("calibrationData"), calibData_->text());
    s.setValue(QStringLiteral("randomized"), randomized_->isChecked());
    s.setValue(QStringLiteral("storeSourceDtype"), storeSource_->isChecked());
}

void CompressionControls::restore(QSettings& s) {
    keep_->setValue(s.value(QStringLiteral("keepPercent"), keep_->value()).toInt());
    const int m = method_->findData(s.value(QStringLiteral("method"), methodId()).toString());
    if (m >= 0) method_->setCurrentIndex(m);
    const int so = solver_->findData(s.value(QStringLiteral("solver"), solverId()).toString());
    if (so >= 0) solver_->setCurrentIndex(so);
    calibrate_->setChecked(s.value(QStringLiteral("calibrate"), false).toBool());
    const int ob = objective_->findData(s.value(QStringLiteral("objective"), objectiveId()).toString());
    if (ob >= 0) objective_->setCurrentIndex(ob);
    calibData_->setText(s.value(QStringLiteral("calibrationData")).toString());
    randomized_->setChecked(s.value(QStringLiteral("randomized"), false).toBool());
    storeSource_->setChecked(s.value(QStringLiteral("storeSourceDtype"), true).toBool());
}

}  // namespace qcw::ui
