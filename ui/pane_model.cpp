#include "ui/pane_model.h"

#include "ui/async.h"
#include "ui/format.h"
#include "ui/log_axis.h"
#include "ui/layer_model.h"
#include "ui/hub_panel.h"
#include "ui/model_session.h"

#include <QAction>
#include <QCheckBox>
#include <QDir>
#include <QElapsedTimer>
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
#include <QMouseEvent>
#include <QRegularExpression>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QTableWidget>
#include <QToolButton>
#include <QTreeView>
#include <QVBoxLayout>

#include <qcustomplot.h>

#include <algorithm>
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

// The keep-rank line starts at this share of the full rank.
constexpr double kDefaultKeepShare = 0.3;
// A press this close to the keep-rank line (pixels) grabs it; elsewhere it jumps there.
constexpr int kGrabPixels = 8;

QString percent(double fraction) { return QLocale().toString(100.0 * fraction, 'f', 1) + QStringLiteral(" %"); }
QString number(double v, int digits = 3) { return QLocale().toString(v, 'g', digits); }
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

    // The spectrum of the selected matrix.
    QLabel* spectrumStatus = nullptr;
    QLabel* spectrumErrorLabel = nullptr;
    QCustomPlot* plot = nullptr;
    QCPItemStraightLine* edgeLine = nullptr;
    QCPItemStraightLine* rankLine = nullptr;
    QCPItemText* statsText = nullptr;
    QSpinBox* keepRankSpin = nullptr;
    QLabel* keepSummary = nullptr;
    SpectrumFn spectrumFn = [](const std::string& dir, const std::string& tensor, qcw::RunContext& ctx) {
        return qcw::computeMatrixSpectrum(dir, tensor, ctx);
    };
    QString matrix;        // shown or being computed
    bool computing = false;
    QString error;
    qcw::MatrixSpectrum spectrum;  // valid when !spectrum.singularValues.empty()
    std::vector<double> tailSq;    // tailSq[r] = sum_{i>=r} s_i^2 (0-based), r = 0..k
    int rank = 0;
    double keepShare = kDefaultKeepShare;
    bool dragging = false;
    quint64 generation = 0;
    QElapsedTimer clock;

    void build();
    QWidget* buildSpectrumBox();
    void onCurrentChanged(const QModelIndex& current);
    void startSpectrum(const QString& tensor);
    void clearSpectrum(const QString& status);
    void showSpectrum(qcw::MatrixSpectrum s, qint64 ms);
    void applyRank(int r);
    KeepRankSummary summaryFor(int r) const;
    int rankAtPixel(double x) const;
    QModelIndex sourceIndexOf(const QString& tensor) const;
    QWidget* buildEmptyPage();
    QWidget* buildModelPage();
    void showModel();
    void updateEmptyPage();
    void updateMemory();
    void updateCount();
    void expandDefault();

    Jobs jobs;  // last: destroyed (cancelled and waited for) first
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
    titleRow->addWidget(new GgufExportButton(session));
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
    auto* split = new QSplitter(Qt::Horizontal);
    split->setObjectName(QStringLiteral("model-split"));
    split->setChildrenCollapsible(false);
    split->addWidget(tree);
    split->addWidget(buildSpectrumBox());
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    tree->header()->setMinimumSectionSize(40);
    tree->setMinimumWidth(560);  // room for the tensor names next to the spectrum
    tree->setTextElideMode(Qt::ElideLeft);  // "…mlp.fc1.weight": the end tells tensors apart
    v->addWidget(split, 1);
    QObject::connect(tree->selectionModel(), &QItemSelectionModel::currentChanged, q,
                     [this](const QModelIndex& current) { onCurrentChanged(current); });

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

    clearSpectrum(ModelPane::tr("Select a weight matrix in the layer tree to see its singular values."));
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

// ---- The spectrum of the selected matrix ----------------------------------------------------

QWidget* ModelPane::Impl::buildSpectrumBox() {
    auto* box = new QGroupBox(ModelPane::tr("Spectrum"));
    box->setObjectName(QStringLiteral("model-spectrum"));
    auto* v = new QVBoxLayout(box);
    spectrumStatus = new QLabel;
    spectrumStatus->setObjectName(QStringLiteral("spectrum-status"));
    spectrumStatus->setTextInteractionFlags(Qt::TextSelectableByMouse);
    spectrumStatus->setMinimumWidth(1);  // long tensor names must not widen the pane
    v->addWidget(spectrumStatus);
    spectrumErrorLabel = new QLabel;
    spectrumErrorLabel->setObjectName(QStringLiteral("spectrum-error"));
    spectrumErrorLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    spectrumErrorLabel->setStyleSheet(QStringLiteral("color: #c62828;"));
    spectrumErrorLabel->setMinimumWidth(1);
    spectrumErrorLabel->hide();
    v->addWidget(spectrumErrorLabel);

    plot = new QCustomPlot;
    plot->setObjectName(QStringLiteral("spectrum-plot"));
    plot->setMinimumSize(240, 180);
    plot->setToolTip(ModelPane::tr("Drag the vertical line (or click) to choose the rank to keep"));
    plot->addGraph();  // kept values
    plot->graph(0)->setName(ModelPane::tr("kept"));
    plot->graph(0)->setPen(QPen(QColor(0x1e, 0x88, 0xe5), 1.6));
    plot->graph(0)->setLineStyle(QCPGraph::lsLine);
    plot->graph(0)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 3));
    plot->addGraph();  // discarded values
    plot->graph(1)->setName(ModelPane::tr("discarded"));
    plot->graph(1)->setPen(QPen(QColor(0x9e, 0x9e, 0x9e), 1.2));
    plot->graph(1)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 3));
    plot->xAxis->setLabel(ModelPane::tr("index i"));
    plot->yAxis->setLabel(ModelPane::tr("singular value s_i"));
    makeLogAxis(plot->yAxis);

    edgeLine = new QCPItemStraightLine(plot);
    edgeLine->setPen(QPen(QColor(0xe5, 0x39, 0x35), 1.2, Qt::DashLine));
    edgeLine->setVisible(false);
    rankLine = new QCPItemStraightLine(plot);
    rankLine->setPen(QPen(QColor(0x43, 0xa0, 0x47), 2.0));
    rankLine->setVisible(false);
    statsText = new QCPItemText(plot);
    statsText->position->setType(QCPItemPosition::ptAxisRectRatio);
    statsText->position->setCoords(0.98, 0.03);
    statsText->setPositionAlignment(Qt::AlignTop | Qt::AlignRight);
    statsText->setTextAlignment(Qt::AlignLeft);
    statsText->setPadding(QMargins(6, 4, 6, 4));
    statsText->setPen(QPen(QColor(0xbd, 0xbd, 0xbd)));
    statsText->setBrush(QBrush(QColor(255, 255, 255, 220)));
    statsText->setColor(QColor(0x21, 0x21, 0x21));
    statsText->setVisible(false);
    plot->legend->setVisible(false);
    v->addWidget(plot, 1);

    QObject::connect(plot, &QCustomPlot::mousePress, q, [this](QMouseEvent* e) {
        if (e->button() != Qt::LeftButton || spectrum.singularValues.empty()) return;
        if (!plot->axisRect()->rect().contains(e->pos())) return;
        dragging = true;
        q->setKeepRank(rankAtPixel(e->position().x()));
    });
    QObject::connect(plot, &QCustomPlot::mouseMove, q, [this](QMouseEvent* e) {
        if (spectrum.singularValues.empty()) return;
        if (dragging && (e->buttons() & Qt::LeftButton)) {
            q->setKeepRank(rankAtPixel(e->position().x()));
            return;
        }
        const double lineX = plot->xAxis->coordToPixel(rank);
        const bool near = std::abs(e->position().x() - lineX) <= kGrabPixels;
        plot->setCursor(near ? Qt::SizeHorCursor : Qt::ArrowCursor);
    });
    QObject::connect(plot, &QCustomPlot::mouseRelease, q, [this](QMouseEvent*) { dragging = false; });

    auto* row = new QHBoxLayout;
    keepRankSpin = new QSpinBox;
    keepRankSpin->setObjectName(QStringLiteral("keep-rank"));
    keepRankSpin->setRange(0, 0);
    keepRankSpin->setEnabled(false);
    auto* keepLabel = new QLabel(ModelPane::tr("&Keep rank:"));
    keepLabel->setBuddy(keepRankSpin);
    row->addWidget(keepLabel);
    row->addWidget(keepRankSpin);
    row->addStretch(1);
    v->addLayout(row);
    keepSummary = new QLabel;
    keepSummary->setObjectName(QStringLiteral("keep-rank-summary"));
    keepSummary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    keepSummary->setWordWrap(true);
    v->addWidget(keepSummary);
    QObject::connect(keepRankSpin, &QSpinBox::valueChanged, q, [this](int r) { q->setKeepRank(r); });

    clearSpectrum(ModelPane::tr("Select a weight matrix in the layer tree to see its singular values."));
    return box;
}

int ModelPane::Impl::rankAtPixel(double x) const {
    const int k = static_cast<int>(spectrum.singularValues.size());
    const double coord = plot->xAxis->pixelToCoord(x);
    return std::clamp(static_cast<int>(std::lround(coord)), 0, k);
}

QModelIndex ModelPane::Impl::sourceIndexOf(const QString& tensor) const {
    for (int g = 0; g < layers->rowCount(); ++g) {
        const QModelIndex group = layers->index(g, 0);
        for (int r = 0; r < layers->rowCount(group); ++r) {
            const QModelIndex idx = layers->index(r, 0, group);
            if (layers->data(idx, LayerTreeModel::TensorNameRole).toString() == tensor) return idx;
        }
    }
    return {};
}

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

void ModelPane::Impl::onCurrentChanged(const QModelIndex& current) {
    if (!current.isValid() || current.data(LayerTreeModel::IsGroupRole).toBool()) return;
    const QString tensor = current.data(LayerTreeModel::TensorNameRole).toString();
    const qcw::ModelSummary* summary = layers->summary();
    if (!summary) return;
    if (const QString rebuilt = rebuiltMatrixOf(tensor); !rebuilt.isEmpty()) {
        startSpectrum(rebuilt);
        return;
    }
    for (const auto& l : summary->layers) {
        if (QString::fromStdString(l.name) != tensor) continue;
        if (l.shape.size() != 2) {
            QStringList dims;
            for (auto d : l.shape) dims << QString::number(d);
            clearSpectrum(ModelPane::tr("%1 is not a matrix (shape %2): select a weight matrix.")
                              .arg(tensor, dims.isEmpty() ? ModelPane::tr("scalar") : dims.join(QStringLiteral(" \u00d7 "))));
            return;
        }
        break;
    }
    startSpectrum(tensor);
}

void ModelPane::Impl::clearSpectrum(const QString& status) {
    ++generation;  // a computation still running is superseded
    jobs.cancelAll();
    computing = false;
    matrix.clear();
    error.clear();
    spectrum = {};
    tailSq.clear();
    rank = 0;
    spectrumStatus->setText(status);
    spectrumStatus->setToolTip(QString());
    spectrumErrorLabel->hide();
    plot->graph(0)->data()->clear();
    plot->graph(1)->data()->clear();
    edgeLine->setVisible(false);
    rankLine->setVisible(false);
    statsText->setVisible(false);
    plot->xAxis->setRange(0, 1);
    plot->yAxis->setRange(0.1, 10);
    plot->replot(QCustomPlot::rpQueuedReplot);
    {
        const QSignalBlocker block(keepRankSpin);
        keepRankSpin->setRange(0, 0);
        keepRankSpin->setEnabled(false);
    }
    keepSummary->clear();
}

void ModelPane::Impl::startSpectrum(const QString& tensor) {
    const QString dir = session->directory();
    if (dir.isEmpty()) return;
    clearSpectrum(ModelPane::tr("Computing the singular values of %1 \u2026").arg(tensor));
    const quint64 gen = generation;
    matrix = tensor;
    computing = true;
    clock.start();
    SpectrumFn fn = spectrumFn;
    const std::string dirStd = dir.toStdString(), tensorStd = tensor.toStdString();
    jobs.run([fn, dirStd, tensorStd](qcw::RunContext& ctx) { return fn(dirStd, tensorStd, ctx); },
             [this, gen, tensor](Outcome<qcw::MatrixSpectrum> out) {
                 if (gen != generation) return;  // superseded by a later selection or model
                 computing = false;
                 if (out.ok()) {
                     showSpectrum(std::move(*out.value), clock.elapsed());
                     emit q->spectrumReady(tensor);
                     return;
                 }
                 error = out.cancelled ? ModelPane::tr("cancelled")
                                       : (out.error.isEmpty() ? ModelPane::tr("unknown error") : out.error);
                 spectrumStatus->setText(ModelPane::tr("No spectrum for %1.").arg(tensor));
                 spectrumErrorLabel->setText(error);
                 spectrumErrorLabel->setToolTip(error);
                 spectrumErrorLabel->show();
                 emit q->spectrumFailed(tensor, error);
             });
}

void ModelPane::Impl::showSpectrum(qcw::MatrixSpectrum s, qint64 ms) {
    spectrum = std::move(s);
    std::vector<double>& sv = spectrum.singularValues;
    std::sort(sv.begin(), sv.end(), std::greater<double>());
    const bool rebuilt = spectrum.storage != "dense";
    // A rebuilt low-rank matrix: the values after its numerical rank are float rounding.
    if (rebuilt && spectrum.numericalRank > 0 && spectrum.numericalRank < static_cast<int>(sv.size()))
        sv.resize(static_cast<std::size_t>(spectrum.numericalRank));
    const int k = static_cast<int>(sv.size());
    tailSq.assign(static_cast<std::size_t>(k) + 1, 0.0);
    for (int i = k - 1; i >= 0; --i) tailSq[i] = tailSq[i + 1] + sv[i] * sv[i];
    const qcw::SpectralStats& st = spectrum.stats;

    spectrumStatus->setText(rebuilt ? ModelPane::tr("%1, rebuilt from its %2 factors: %3 \u00d7 %4, numerical rank %5 "
                                                    "(%6 ms)")
                                          .arg(matrix, QString::fromStdString(spectrum.storage))
                                          .arg(st.rows)
                                          .arg(st.cols)
                                          .arg(k)
                                          .arg(ms)
                                    : ModelPane::tr("%1: %2 \u00d7 %3, %4 singular values (%5 ms)")
                                          .arg(matrix)
                                          .arg(st.rows)
                                          .arg(st.cols)
                                          .arg(k)
                                          .arg(ms));
    spectrumStatus->setToolTip(spectrumStatus->text());
    spectrumErrorLabel->hide();

    double lo = 0, hi = 0;
    for (double v : sv)
        if (v > 0) {
            lo = lo > 0 ? std::min(lo, v) : v;
            hi = std::max(hi, v);
        }
    // Marchenko-Pastur: core gives the edge of the eigenvalues s^2 / N, N = max(m, n).
    const double n = double(std::max(st.rows, st.cols));
    // (Not for a rebuilt low-rank matrix: it has no noise bulk for the edge to bound.)
    const double edge = !rebuilt && st.mpBulkEdge > 0 ? std::sqrt(st.mpBulkEdge * n) : 0.0;
    if (edge > 0 && std::isfinite(edge)) {
        edgeLine->point1->setCoords(0, edge);
        edgeLine->point2->setCoords(1, edge);
        edgeLine->setVisible(true);
        lo = lo > 0 ? std::min(lo, edge) : edge;
        hi = std::max(hi, edge);
    } else {
        edgeLine->setVisible(false);
    }
    QStringList lines;
    lines << ModelPane::tr("entropy %1 nats").arg(number(st.entropy))
          << ModelPane::tr("effective rank %1").arg(number(st.effectiveRank, 4))
          << ModelPane::tr("stable rank %1").arg(number(st.stableRank))
          << (st.alpha > 0 ? ModelPane::tr("power-law alpha %1").arg(number(st.alpha))
                           : ModelPane::tr("power-law alpha: not fitted"))
          << (edge > 0 ? ModelPane::tr("MP edge %1 (dashed), %2 above").arg(number(edge)).arg(st.spikes)
                       : ModelPane::tr("MP edge: none"));
    statsText->setText(lines.join(QLatin1Char('\n')));
    statsText->setVisible(k > 0);
    plot->xAxis->setRange(0, std::max(1, k) + 1);
    if (hi > 0) {
        fitLogAxis(plot->yAxis, lo, hi, 1.6, 3.0);  // headroom for the text box
    }
    {
        const QSignalBlocker block(keepRankSpin);
        keepRankSpin->setRange(0, k);
        keepRankSpin->setEnabled(k > 0);
    }
    rank = -1;  // force the update
    applyRank(static_cast<int>(std::lround(keepShare * k)));
}

KeepRankSummary ModelPane::Impl::summaryFor(int r) const {
    KeepRankSummary out;
    const int k = static_cast<int>(spectrum.singularValues.size());
    if (k == 0) return out;
    out.rank = std::clamp(r, 0, k);
    out.fullRank = k;
    out.rows = spectrum.stats.rows;
    out.cols = spectrum.stats.cols;
    const double total = tailSq[0];
    out.relativeError = total > 0 ? std::sqrt(std::max(0.0, tailSq[static_cast<std::size_t>(out.rank)]) / total) : 0.0;
    out.params = static_cast<long long>(out.rank) * (out.rows + out.cols);
    out.denseParams = out.rows * out.cols;
    out.keptFraction = out.denseParams > 0 ? double(out.params) / double(out.denseParams) : 0.0;
    out.text = ModelPane::tr("Rank %1 of %2: relative Frobenius error %3; parameters r(m+n) = %4 of m\u00b7n = %5 "
                             "(%6 kept%7)")
                   .arg(out.rank)
                   .arg(k)
                   .arg(percent(out.relativeError), formatCount(out.params), formatCount(out.denseParams),
                        percent(out.keptFraction),
                        out.keptFraction > 1 ? ModelPane::tr(", larger than the dense matrix") : QString());
    return out;
}

void ModelPane::Impl::applyRank(int r) {
    const int k = static_cast<int>(spectrum.singularValues.size());
    if (k == 0) return;
    r = std::clamp(r, 0, k);
    if (r == rank) return;
    rank = r;
    keepShare = double(r) / double(k);
    QVector<double> kx, ky, dx, dy;
    for (int i = 0; i < k; ++i) {
        const double v = spectrum.singularValues[static_cast<std::size_t>(i)];
        if (v <= 0) continue;  // a log axis cannot show exact zeros
        (i < r ? kx : dx).push_back(i + 1);
        (i < r ? ky : dy).push_back(v);
    }
    // The kept curve reaches over to the first discarded value so the line is unbroken.
    if (!dx.isEmpty() && !kx.isEmpty()) {
        kx.push_back(dx.front());
        ky.push_back(dy.front());
    }
    plot->graph(0)->setData(kx, ky, true);
    plot->graph(1)->setData(dx, dy, true);
    rankLine->point1->setCoords(r, 1);
    rankLine->point2->setCoords(r, 2);
    rankLine->setVisible(true);
    plot->replot(QCustomPlot::rpQueuedReplot);
    {
        const QSignalBlocker block(keepRankSpin);
        keepRankSpin->setValue(r);
    }
    keepSummary->setText(summaryFor(r).text);
    emit q->keepRankChanged(r);
}

void ModelPane::setSpectrumFunction(SpectrumFn fn) { d->spectrumFn = std::move(fn); }

bool ModelPane::selectMatrix(const QString& tensorName) {
    QModelIndex source = d->sourceIndexOf(tensorName);
    if (!source.isValid()) {
        d->clearSpectrum(tr("Select a weight matrix in the layer tree to see its singular values."));
        d->error = d->session->hasModel() ? tr("no tensor '%1' in this model").arg(tensorName)
                                          : tr("no model is open");
        d->spectrumErrorLabel->setText(d->error);
        d->spectrumErrorLabel->show();
        return false;
    }
    QModelIndex index = d->proxy->mapFromSource(source);
    if (!index.isValid()) {  // filtered out: show everything again
        d->filter->clear();
        d->compressibleOnly->setChecked(false);
        index = d->proxy->mapFromSource(source);
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
    const qcw::ModelSummary* summary = d->layers->summary();
    if (!summary) return {};
    for (const auto& l : summary->layers)
        if (l.kind == "mlp_fc1" && l.shape.size() == 2) return QString::fromStdString(l.name);
    for (const auto& l : summary->layers)
        if (l.compressible) return QString::fromStdString(l.name);
    return {};
}

QString ModelPane::spectrumMatrix() const { return d->matrix; }
bool ModelPane::isComputingSpectrum() const { return d->computing; }
QString ModelPane::spectrumError() const { return d->error; }
std::vector<double> ModelPane::singularValues() const { return d->spectrum.singularValues; }
qcw::SpectralStats ModelPane::spectralStats() const { return d->spectrum.stats; }
int ModelPane::keepRank() const { return d->spectrum.singularValues.empty() ? 0 : d->rank; }
KeepRankSummary ModelPane::keepRankSummary() const { return d->summaryFor(d->rank); }
void ModelPane::setKeepRank(int rank) { d->applyRank(rank); }

}  // namespace qcw::ui
