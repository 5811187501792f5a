#include "ui/pane_model.h"

#include "ui/format.h"
#include "ui/layer_model.h"
#include "ui/model_session.h"

#include <QAction>
#include <QCheckBox>
#include <QDir>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QStackedWidget>
#include <QTableWidget>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>

#include <cmath>

#if defined(Q_OS_UNIX)
#include <unistd.h>
#endif

namespace qcw::ui {

namespace {
// Physical memory of this machine in bytes, 0 when unknown.
double physicalMemoryBytes() {
#if defined(Q_OS_UNIX) && defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long pageSize = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && pageSize > 0) return double(pages) * double(pageSize);
#endif
    return 0;
}

QLabel* valueLabel(const char* objectName) {
    auto* l = new QLabel;
    l->setObjectName(QString::fromLatin1(objectName));
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return l;
}

// "yes (12 %)" of the machine's RAM; "<1 %" below one percent.
QString fitText(double share) {
    const long percent = std::lround(100.0 * share);
    return percent < 1 ? ModelPane::tr("yes (<1 %)") : ModelPane::tr("yes (%1 %)").arg(percent);
}

struct Precision {
    const char* name;
    int bytes;
};
const Precision kPrecisions[] = {{"fp32", 4}, {"fp16 / bf16", 2}};
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
    QLabel* architecture = nullptr;
    QLabel* params = nullptr;
    QLabel* compressible = nullptr;
    QLabel* dtype = nullptr;
    QLabel* size = nullptr;
    QLabel* tokenizer = nullptr;
    QLabel* shape = nullptr;
    QSpinBox* contextLength = nullptr;
    QSpinBox* batch = nullptr;
    QTableWidget* memory = nullptr;
    QLabel* memoryNote = nullptr;
    QLineEdit* filter = nullptr;
    QCheckBox* compressibleOnly = nullptr;
    QLabel* count = nullptr;
    QTreeView* tree = nullptr;
    LayerTreeModel* layers = nullptr;
    LayerFilterProxy* proxy = nullptr;

    void build();
    QWidget* buildEmptyPage();
    QWidget* buildModelPage();
    void showModel();
    void updateEmptyPage();
    void updateMemory();
    void updateCount();
    void expandDefault();
};

ModelPane::ModelPane(const PaneContext& context, QWidget* parent)
    : Pane(context, parent), d(std::make_unique<Impl>()) {
    d->q = this;
    d->session = context.session;
    d->build();
    connect(d->session, &ModelSession::modelLoaded, this, [this] { d->showModel(); });
    connect(d->session, &ModelSession::loadingChanged, this, [this] { d->updateEmptyPage(); });
    connect(d->session, &ModelSession::loadFailed, this, [this] { d->updateEmptyPage(); });
    if (d->session->hasModel()) d->showModel();
    d->updateEmptyPage();
}

ModelPane::~ModelPane() = default;

void ModelPane::saveSettings(QSettings& s) const {
    s.setValue(QStringLiteral("contextLength"), d->contextLength->value());
    s.setValue(QStringLiteral("batch"), d->batch->value());
    s.setValue(QStringLiteral("treeHeader"), d->tree->header()->saveState());
}

void ModelPane::restoreSettings(QSettings& s) {
    d->contextLength->setValue(s.value(QStringLiteral("contextLength"), d->contextLength->value()).toInt());
    d->batch->setValue(s.value(QStringLiteral("batch"), d->batch->value()).toInt());
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
    v->addStretch(2);
    return page;
}

QWidget* ModelPane::Impl::buildModelPage() {
    auto* page = new QWidget;
    auto* v = new QVBoxLayout(page);

    name = valueLabel("summary-name");
    QFont big = name->font();
    big.setPointSizeF(big.pointSizeF() * 1.4);
    big.setBold(true);
    name->setFont(big);
    path = valueLabel("summary-path");
    path->setTextInteractionFlags(Qt::TextSelectableByMouse | Qt::TextSelectableByKeyboard);
    auto* titleRow = new QHBoxLayout;
    titleRow->addWidget(name);
    titleRow->addWidget(path, 1);
    v->addLayout(titleRow);

    // Summary and memory fit side by side.
    auto* top = new QHBoxLayout;
    auto* summaryBox = new QGroupBox(ModelPane::tr("Summary"));
    summaryBox->setObjectName(QStringLiteral("model-summary"));
    auto* form = new QFormLayout(summaryBox);
    architecture = valueLabel("summary-architecture");
    params = valueLabel("summary-params");
    compressible = valueLabel("summary-compressible");
    dtype = valueLabel("summary-dtype");
    size = valueLabel("summary-size");
    tokenizer = valueLabel("summary-tokenizer");
    shape = valueLabel("summary-shape");
    form->addRow(ModelPane::tr("Architecture:"), architecture);
    form->addRow(ModelPane::tr("Parameters:"), params);
    form->addRow(ModelPane::tr("Compressible:"), compressible);
    form->addRow(ModelPane::tr("Dtype on disk:"), dtype);
    form->addRow(ModelPane::tr("Size on disk:"), size);
    form->addRow(ModelPane::tr("Tokenizer:"), tokenizer);
    form->addRow(ModelPane::tr("Shape:"), shape);
    top->addWidget(summaryBox, 2);

    auto* memoryBox = new QGroupBox(ModelPane::tr("Memory fit"));
    memoryBox->setObjectName(QStringLiteral("model-memory"));
    auto* mv = new QVBoxLayout(memoryBox);
    auto* controls = new QHBoxLayout;
    contextLength = new QSpinBox;
    contextLength->setObjectName(QStringLiteral("context-length"));
    contextLength->setRange(1, 1 << 20);
    contextLength->setSingleStep(256);
    contextLength->setValue(2048);
    contextLength->setAccelerated(true);
    contextLength->setGroupSeparatorShown(true);
    contextLength->setSuffix(ModelPane::tr(" tokens"));
    batch = new QSpinBox;
    batch->setObjectName(QStringLiteral("batch-size"));
    batch->setRange(1, 4096);
    batch->setValue(1);
    auto* ctxLabel = new QLabel(ModelPane::tr("&Context length:"));
    ctxLabel->setBuddy(contextLength);
    auto* batchLabel = new QLabel(ModelPane::tr("&Batch:"));
    batchLabel->setBuddy(batch);
    controls->addWidget(ctxLabel);
    controls->addWidget(contextLength);
    controls->addSpacing(12);
    controls->addWidget(batchLabel);
    controls->addWidget(batch);
    controls->addStretch(1);
    mv->addLayout(controls);

    memory = new QTableWidget(static_cast<int>(std::size(kPrecisions)), 5);
    memory->setObjectName(QStringLiteral("memory-table"));
    memory->setHorizontalHeaderLabels({ModelPane::tr("Weights"), ModelPane::tr("KV cache"),
                                       ModelPane::tr("Activations"), ModelPane::tr("Total"),
                                       ModelPane::tr("Fits in RAM")});
    QStringList rows;
    for (const auto& p : kPrecisions) rows << QString::fromLatin1(p.name);
    memory->setVerticalHeaderLabels(rows);
    memory->setEditTriggers(QAbstractItemView::NoEditTriggers);
    memory->setSelectionMode(QAbstractItemView::NoSelection);
    memory->setFocusPolicy(Qt::NoFocus);
    memory->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    memory->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    memory->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    memory->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    memory->setSizeAdjustPolicy(QAbstractScrollArea::AdjustToContents);
    memory->setToolTip(ModelPane::tr("Weights at the compute precision, the KV cache of the context (keys and "
                                     "values of every layer) and the largest transient activations"));
    mv->addWidget(memory);
    memoryNote = new QLabel;
    memoryNote->setObjectName(QStringLiteral("memory-note"));
    memoryNote->setWordWrap(true);
    mv->addWidget(memoryNote);
    mv->addStretch(1);
    top->addWidget(memoryBox, 3);
    v->addLayout(top);

    // Filter row and the layer tree.
    auto* filterRow = new QHBoxLayout;
    filter = new QLineEdit;
    filter->setObjectName(QStringLiteral("layer-filter"));
    filter->setPlaceholderText(ModelPane::tr("Filter layers by name or kind (Ctrl+F)"));
    filter->setClearButtonEnabled(true);
    compressibleOnly = new QCheckBox(ModelPane::tr("Compressible &only"));
    compressibleOnly->setObjectName(QStringLiteral("compressible-only"));
    count = new QLabel;
    count->setObjectName(QStringLiteral("layer-count"));
    filterRow->addWidget(filter, 1);
    filterRow->addWidget(compressibleOnly);
    filterRow->addWidget(count);
    v->addLayout(filterRow);

    auto* focusFilter = new QAction(q);
    focusFilter->setShortcut(QKeySequence::Find);
    focusFilter->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    QObject::connect(focusFilter, &QAction::triggered, q, [this] {
        filter->setFocus(Qt::ShortcutFocusReason);
        filter->selectAll();
    });
    q->addAction(focusFilter);

    layers = new LayerTreeModel(q);
    proxy = new LayerFilterProxy(q);
    proxy->setSourceModel(layers);
    tree = new QTreeView;
    tree->setObjectName(QStringLiteral("layer-tree"));
    tree->setModel(proxy);
    tree->setUniformRowHeights(true);
    tree->setAlternatingRowColors(true);
    tree->setSelectionBehavior(QAbstractItemView::SelectRows);
    tree->setSelectionMode(QAbstractItemView::ExtendedSelection);
    tree->header()->setSortIndicator(-1, Qt::AscendingOrder);  // network order until a click
    tree->header()->setSortIndicatorClearable(true);           // third click: network order again
    tree->setSortingEnabled(true);
    tree->header()->setStretchLastSection(false);
    tree->header()->setSectionResizeMode(LayerTreeModel::Name, QHeaderView::Stretch);
    for (int c = LayerTreeModel::Kind; c < LayerTreeModel::ColumnCount; ++c)
        tree->header()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    v->addWidget(tree, 1);

    QObject::connect(filter, &QLineEdit::textChanged, q, [this](const QString& text) {
        proxy->setFilterText(text);
        if (!text.trimmed().isEmpty()) tree->expandAll();
        updateCount();
    });
    QObject::connect(compressibleOnly, &QCheckBox::toggled, q, [this](bool on) {
        proxy->setCompressibleOnly(on);
        updateCount();
    });
    QObject::connect(contextLength, &QSpinBox::valueChanged, q, [this] { updateMemory(); });
    QObject::connect(batch, &QSpinBox::valueChanged, q, [this] { updateMemory(); });
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
    const qcw::ModelSummary& m = *model;
    const QString dir = QString::fromStdString(m.dir);
    name->setText(QFileInfo(dir).fileName());
    path->setText(QDir::toNativeSeparators(dir));
    path->setToolTip(path->text());
    QString arch = QString::fromStdString(m.architecture);
    if (m.compressed) arch += ModelPane::tr(" (compressed)");
    architecture->setText(arch);
    params->setText(formatCount(m.params) + QStringLiteral("  (") + formatCompactCount(m.params) + QLatin1Char(')'));
    const double share = m.params > 0 ? 100.0 * double(m.compressibleParams) / double(m.params) : 0.0;
    compressible->setText(
        ModelPane::tr("%1  (%2 %)").arg(formatCount(m.compressibleParams)).arg(QLocale().toString(share, 'f', 1)));
    dtype->setText(QString::fromStdString(m.dtype));
    size->setText(formatBytes(double(m.bytesOnDisk)));
    tokenizer->setText(m.hasTokenizer ? ModelPane::tr("present") : ModelPane::tr("missing"));
    shape->setText(ModelPane::tr("%1 layers, hidden %2, MLP %3, %4 heads, vocabulary %5")
                       .arg(m.numLayers)
                       .arg(formatCount(m.hiddenSize), formatCount(m.intermediateSize))
                       .arg(m.numHeads)
                       .arg(formatCount(m.vocabSize)));

    layers->setSummary(model);
    proxy->invalidate();
    expandDefault();
    updateMemory();
    updateCount();
    stack->setCurrentIndex(1);
}

void ModelPane::Impl::expandDefault() {
    tree->collapseAll();
    const bool small = layers->summary() && layers->summary()->numLayers <= 4;
    if (small || !filter->text().trimmed().isEmpty()) {
        tree->expandAll();
        return;
    }
    // Large models: the embedding and the first block, enough to see the pattern.
    for (int r = 0; r < proxy->rowCount() && r < 2; ++r) tree->expand(proxy->index(r, 0));
}

void ModelPane::Impl::updateMemory() {
    const auto model = session->model();
    const double ram = physicalMemoryBytes();
    for (int r = 0; r < static_cast<int>(std::size(kPrecisions)); ++r) {
        QStringList cells(5);
        if (model) {
            const qcw::MemoryEstimate e =
                qcw::estimateMemory(*model, kPrecisions[r].bytes, contextLength->value(), batch->value());
            cells = {formatBytes(e.weightsBytes), formatBytes(e.kvCacheBytes), formatBytes(e.activationBytes),
                     formatBytes(e.total()),
                     ram <= 0 ? QStringLiteral("?")
                              : (e.total() <= ram ? fitText(e.total() / ram)
                                                  : ModelPane::tr("no (%1×)").arg(e.total() / ram, 0, 'f', 1))};
        }
        for (int c = 0; c < cells.size(); ++c) {
            auto* item = memory->item(r, c);
            if (!item) {
                item = new QTableWidgetItem;
                item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
                memory->setItem(r, c, item);
            }
            item->setText(cells[c]);
        }
    }
    // Exactly as tall as its rows: no empty band under a two-row table.
    int height = memory->horizontalHeader()->height() + 2 * memory->frameWidth();
    for (int r = 0; r < memory->rowCount(); ++r) height += memory->rowHeight(r);
    memory->setFixedHeight(height);
    memoryNote->setText(ram > 0 ? ModelPane::tr("This machine has %1 of RAM.").arg(formatBytes(ram))
                                : ModelPane::tr("This machine's RAM is unknown."));
}

void ModelPane::Impl::updateCount() {
    const int total = layers->tensorCount();
    const int shown = proxy->visibleTensorCount();
    const QString tensors = total == 1 ? ModelPane::tr("1 tensor") : ModelPane::tr("%1 tensors").arg(total);
    count->setText(shown == total ? tensors : ModelPane::tr("%1 of %2").arg(shown).arg(tensors));
}

}  // namespace qcw::ui
