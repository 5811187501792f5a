#include "ui/pane_model.h"

#include "ui/hub_panel.h"
#include "ui/layer_model.h"
#include "ui/layer_tree_view.h"
#include "ui/memory_fit_box.h"
#include "ui/model_session.h"
#include "ui/model_summary_box.h"

#include <QAction>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QRegularExpression>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QToolButton>
#include <QVBoxLayout>

namespace qcw::ui {

namespace {

// In a compressed snapshot, a factor of a factorized layer stands for the matrix the layer's
// factors rebuild ("<layer>.weight"); empty for any other tensor.
QString rebuiltMatrixOf(const QString& tensor) {
    static const QRegularExpression factor(
        QStringLiteral("^(.+)\\.(lowrank_left|lowrank_right|tucker_core|qweight|tt_core_\\d+)$"));
    const auto m = factor.match(tensor);
    return m.hasMatch() ? m.captured(1) + QStringLiteral(".weight") : QString();
}

}  // namespace

struct ModelPane::Impl {
    ModelPane* q;
    ModelSession* session;

    QStackedWidget* stack = nullptr;
    // Page 0: nothing open (or loading the first model).
    QLabel* emptyLabel = nullptr;
    QProgressBar* emptyProgress = nullptr;
    // Page 1: the model.
    QLabel* name = nullptr;
    QLabel* path = nullptr;
    ModelSummaryBox* summary = nullptr;
    MemoryFitBox* memory = nullptr;
    LayerFilterBar* filterBar = nullptr;
    LayerTreeView* tree = nullptr;
    MatrixSpectrumBox* spectrum = nullptr;

    void build();
    QWidget* buildEmptyPage();
    QWidget* buildModelPage();
    void onCurrentChanged(const QModelIndex& current);
    void showModel();
    void updateEmptyPage();
};

ModelPane::ModelPane(const PaneContext& context, QWidget* parent)
    : Pane(context, parent), d(std::make_unique<Impl>()) {
    d->q = this;
    d->session = context.session;
    d->build();
    connect(d->session, &ModelSession::modelLoaded, this, [this] { d->showModel(); });
    connect(d->session, &ModelSession::loadingChanged, this, [this] { d->updateEmptyPage(); });
    connect(d->session, &ModelSession::loadFailed, this, [this] { d->updateEmptyPage(); });
    connect(d->spectrum, &MatrixSpectrumBox::spectrumReady, this, &ModelPane::spectrumReady);
    connect(d->spectrum, &MatrixSpectrumBox::spectrumFailed, this, &ModelPane::spectrumFailed);
    connect(d->spectrum, &MatrixSpectrumBox::keepRankChanged, this, &ModelPane::keepRankChanged);
    if (d->session->hasModel()) d->showModel();
    d->updateEmptyPage();
}

ModelPane::~ModelPane() = default;

void ModelPane::saveSettings(QSettings& s) const {
    s.setValue(QStringLiteral("contextLength"), d->memory->contextLength());
    s.setValue(QStringLiteral("batch"), d->memory->batch());
    s.setValue(QStringLiteral("treeHeader"), d->tree->header()->saveState());
}

void ModelPane::restoreSettings(QSettings& s) {
    d->memory->setContextLength(s.value(QStringLiteral("contextLength"), d->memory->contextLength()).toInt());
    d->memory->setBatch(s.value(QStringLiteral("batch"), d->memory->batch()).toInt());
    const QByteArray header = s.value(QStringLiteral("treeHeader")).toByteArray();
    if (!header.isEmpty()) d->tree->header()->restoreState(header);
}

void ModelPane::Impl::build() {
    stack = new QStackedWidget(q);
    stack->setObjectName(QStringLiteral("model-stack"));
    stack->addWidget(buildEmptyPage());
    stack->addWidget(buildModelPage());
    auto* layout = new QVBoxLayout(q);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(stack);
}

QWidget* ModelPane::Impl::buildEmptyPage() {
    auto* page = new QWidget;
    auto* v = new QVBoxLayout(page);
    v->addStretch(1);
    emptyLabel = new QLabel;
    emptyLabel->setObjectName(QStringLiteral("model-empty"));
    emptyLabel->setAlignment(Qt::AlignCenter);
    emptyLabel->setWordWrap(true);
    v->addWidget(emptyLabel);
    emptyProgress = new QProgressBar;
    emptyProgress->setRange(0, 0);
    emptyProgress->setMaximumWidth(320);
    emptyProgress->setTextVisible(false);
    v->addWidget(emptyProgress, 0, Qt::AlignHCenter);
    if (QAction* open = q->context().openModelAction) {
        auto* button = new QToolButton;
        button->setDefaultAction(open);
        button->setToolButtonStyle(Qt::ToolButtonTextOnly);
        v->addWidget(button, 0, Qt::AlignHCenter);
    }
    // Or from the Hugging Face cache / hub (ui/hub_panel.cpp).
    auto* hub = new HubPanel(session);
    hub->setMaximumWidth(720);
    v->addWidget(hub, 0, Qt::AlignHCenter);
    v->addStretch(2);
    return page;
}

QWidget* ModelPane::Impl::buildModelPage() {
    auto* page = new QWidget;
    auto* v = new QVBoxLayout(page);

    name = selectableValueLabel("summary-name");
    QFont big = name->font();
    big.setPointSizeF(big.pointSizeF() * 1.4);
    big.setBold(true);
    name->setFont(big);
    path = selectableValueLabel("summary-path");
    path->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
    auto* titleRow = new QHBoxLayout;
    titleRow->addWidget(name);
    titleRow->addWidget(path, 1);
    titleRow->addWidget(new GgufExportButton(session));
    v->addLayout(titleRow);

    // Summary and memory fit side by side.
    auto* top = new QHBoxLayout;
    summary = new ModelSummaryBox;
    top->addWidget(summary, 2);
    memory = new MemoryFitBox;
    top->addWidget(memory, 3);
    v->addLayout(top);

    // Filter row, and the layer tree beside the spectrum of the matrix selected in it.
    tree = new LayerTreeView;
    filterBar = new LayerFilterBar(tree);
    v->addWidget(filterBar);
    q->addAction(filterBar->focusAction());  // Ctrl+F anywhere in the pane
    spectrum = new MatrixSpectrumBox;
    auto* split = new QSplitter(Qt::Horizontal);
    split->setObjectName(QStringLiteral("model-split"));
    split->setChildrenCollapsible(false);
    split->addWidget(tree);
    split->addWidget(spectrum);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    v->addWidget(split, 1);
    QObject::connect(tree->selectionModel(), &QItemSelectionModel::currentChanged, q,
                     [this](const QModelIndex& current) { onCurrentChanged(current); });
    return page;
}

void ModelPane::Impl::updateEmptyPage() {
    const bool loading = session->isLoading();
    emptyProgress->setVisible(loading);
    if (loading) {
        emptyLabel->setText(ModelPane::tr("Loading %1 …").arg(QDir::toNativeSeparators(session->loadingDirectory())));
    } else {
        emptyLabel->setText(ModelPane::tr("No model is open.\n\nOpen a model snapshot folder (config.json + "
                                          "*.safetensors) with File \u203a Open Model… (Ctrl+O),\nor drop the "
                                          "folder onto this window."));
    }
    stack->setCurrentIndex(session->hasModel() ? 1 : 0);
}

void ModelPane::Impl::showModel() {
    const auto model = session->model();
    if (!model) return;
    const QString dir = QString::fromStdString(model->dir);
    name->setText(QFileInfo(dir).fileName());
    path->setText(QDir::toNativeSeparators(dir));
    path->setToolTip(path->text());
    summary->showModel(*model);

    spectrum->clear();
    tree->setSummary(model);
    tree->expandDefault(filterBar->isFiltering());
    memory->setModel(model);
    filterBar->updateCount();
    stack->setCurrentIndex(1);
}

void ModelPane::Impl::onCurrentChanged(const QModelIndex& current) {
    if (!current.isValid() || current.data(LayerTreeModel::IsGroupRole).toBool()) return;
    const QString tensor = current.data(LayerTreeModel::TensorNameRole).toString();
    const qcw::ModelSummary* model = tree->summary();
    if (!model) return;
    if (const QString rebuilt = rebuiltMatrixOf(tensor); !rebuilt.isEmpty()) {
        spectrum->compute(session->directory(), rebuilt);
        return;
    }
    for (const auto& l : model->layers) {
        if (QString::fromStdString(l.name) != tensor) continue;
        if (l.shape.size() != 2) {
            QStringList dims;
            for (auto d : l.shape) dims << QString::number(d);
            spectrum->clear(ModelPane::tr("%1 is not a matrix (shape %2): select a weight matrix.")
                                .arg(tensor, dims.isEmpty() ? ModelPane::tr("scalar") : dims.join(QStringLiteral(" \u00d7 "))));
            return;
        }
        break;
    }
    spectrum->compute(session->directory(), tensor);
}

void ModelPane::setSpectrumFunction(SpectrumFn fn) { d->spectrum->setSpectrumFunction(std::move(fn)); }

bool ModelPane::selectMatrix(const QString& tensorName) {
    QModelIndex source = d->tree->sourceIndexOf(tensorName);
    if (!source.isValid()) {
        d->spectrum->showError(d->session->hasModel() ? tr("no tensor '%1' in this model").arg(tensorName)
                                                      : tr("no model is open"));
        return false;
    }
    QModelIndex index = d->tree->proxy()->mapFromSource(source);
    if (!index.isValid()) {  // filtered out: show everything again
        d->filterBar->reset();
        index = d->tree->proxy()->mapFromSource(source);
    }
    d->tree->expand(index.parent());
    d->tree->scrollTo(index);
    if (d->tree->currentIndex() == index) {
        d->onCurrentChanged(index);  // the same row: compute again
    } else {
        d->tree->setCurrentIndex(index);
    }
    return true;
}

QString ModelPane::defaultMatrix() const {
    const qcw::ModelSummary* summary = d->tree->summary();
    if (!summary) return {};
    for (const auto& l : summary->layers)
        if (l.kind == "mlp_fc1" && l.shape.size() == 2) return QString::fromStdString(l.name);
    for (const auto& l : summary->layers)
        if (l.compressible) return QString::fromStdString(l.name);
    return {};
}

QString ModelPane::spectrumMatrix() const { return d->spectrum->matrix(); }
bool ModelPane::isComputingSpectrum() const { return d->spectrum->isComputing(); }
QString ModelPane::spectrumError() const { return d->spectrum->error(); }
std::vector<double> ModelPane::singularValues() const { return d->spectrum->spectrum().singularValues; }
qcw::SpectralStats ModelPane::spectralStats() const { return d->spectrum->spectrum().stats; }
int ModelPane::keepRank() const { return d->spectrum->keepRank(); }
KeepRankSummary ModelPane::keepRankSummary() const { return d->spectrum->keepRankSummary(); }
void ModelPane::setKeepRank(int rank) { d->spectrum->setKeepRank(rank); }

}  // namespace qcw::ui
