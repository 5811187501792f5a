#include "ui/memory_fit_box.h"

#include "ui/format.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>
#include <iterator>

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

// "yes (12 %)" of the machine's RAM; "<1 %" below one percent.
QString fitText(double share) {
    const long percent = std::lround(100.0 * share);
    return percent < 1 ? MemoryFitBox::tr("yes (<1 %)") : MemoryFitBox::tr("yes (%1 %)").arg(percent);
}

struct Precision {
    const char* name;
    int bytes;
};
const Precision kPrecisions[] = {{"fp32", 4}, {"fp16 / bf16", 2}};
}  // namespace

MemoryFitBox::MemoryFitBox(QWidget* parent) : QGroupBox(tr("Memory fit"), parent) {
    setObjectName(QStringLiteral("model-memory"));
    auto* mv = new QVBoxLayout(this);
    auto* controls = new QHBoxLayout;
    contextLength_ = new QSpinBox;
    contextLength_->setObjectName(QStringLiteral("context-length"));
    contextLength_->setRange(1, 1 << 20);
    contextLength_->setSingleStep(256);
    contextLength_->setValue(2048);
    contextLength_->setAccelerated(true);
    contextLength_->setGroupSeparatorShown(true);
    contextLength_->setSuffix(tr(" tokens"));
    batch_ = new QSpinBox;
    batch_->setObjectName(QStringLiteral("batch-size"));
    batch_->setRange(1, 4096);
    batch_->setValue(1);
    auto* ctxLabel = new QLabel(tr("&Context length:"));
    ctxLabel->setBuddy(contextLength_);
    auto* batchLabel = new QLabel(tr("&Batch:"));
    batchLabel->setBuddy(batch_);
    controls->addWidget(ctxLabel);
    controls->addWidget(contextLength_);
    controls->addSpacing(12);
    controls->addWidget(batchLabel);
    controls->addWidget(batch_);
    controls->addStretch(1);
    mv->addLayout(controls);

    table_ = new QTableWidget(static_cast<int>(std::size(kPrecisions)), 5);
    table_->setObjectName(QStringLiteral("memory-table"));
    table_->setHorizontalHeaderLabels({tr("Weights"), tr("KV cache"), tr("Activations"), tr("Total"), tr("Fits in RAM")});
    QStringList rows;
    for (const auto& p : kPrecisions) rows << QString::fromLatin1(p.name);
    table_->setVerticalHeaderLabels(rows);
    table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
    table_->setSelectionMode(QAbstractItemView::NoSelection);
    table_->setFocusPolicy(Qt::NoFocus);
    table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    table_->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    table_->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    table_->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    table_->setSizeAdjustPolicy(QAbstractScrollArea::AdjustToContents);
    table_->setToolTip(tr("Weights at the compute precision, the KV cache of the context (keys and "
                          "values of every layer) and the largest transient activations"));
    mv->addWidget(table_);
    note_ = new QLabel;
    note_->setObjectName(QStringLiteral("memory-note"));
    note_->setWordWrap(true);
    mv->addWidget(note_);
    mv->addStretch(1);

    connect(contextLength_, &QSpinBox::valueChanged, this, [this] { refresh(); });
    connect(batch_, &QSpinBox::valueChanged, this, [this] { refresh(); });
}

void MemoryFitBox::setModel(std::shared_ptr<const qcw::ModelSummary> model) {
    model_ = std::move(model);
    refresh();
}

int MemoryFitBox::contextLength() const { return contextLength_->value(); }
void MemoryFitBox::setContextLength(int tokens) { contextLength_->setValue(tokens); }
int MemoryFitBox::batch() const { return batch_->value(); }
void MemoryFitBox::setBatch(int n) { batch_->setValue(n); }

void MemoryFitBox::refresh() {
    const double ram = physicalMemoryBytes();
    for (int r = 0; r < static_cast<int>(std::size(kPrecisions)); ++r) {
        QStringList cells(5);
        if (model_) {
            const qcw::MemoryEstimate e =
                qcw::estimateMemory(*model_, kPrecisions[r].bytes, contextLength_->value(), batch_->value());
            cells = {formatBytes(e.weightsBytes), formatBytes(e.kvCacheBytes), formatBytes(e.activationBytes),
                     formatBytes(e.total()),
                     ram <= 0 ? QStringLiteral("?")
                              : (e.total() <= ram ? fitText(e.total() / ram)
                                                  : tr("no (%1×)").arg(e.total() / ram, 0, 'f', 1))};
        }
        for (int c = 0; c < cells.size(); ++c) {
            auto* item = table_->item(r, c);
            if (!item) {
                item = new QTableWidgetItem;
                item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
                table_->setItem(r, c, item);
            }
            item->setText(cells[c]);
        }
    }
    // Exactly as tall as its rows: no empty band under a two-row table.
    int height = table_->horizontalHeader()->height() + 2 * table_->frameWidth();
    for (int r = 0; r < table_->rowCount(); ++r) height += table_->rowHeight(r);
    table_->setFixedHeight(height);
    note_->setText(ram > 0 ? tr("This machine has %1 of RAM.").arg(formatBytes(ram))
                           : tr("This machine's RAM is unknown."));
}

}  // namespace qcw::ui
