#include "ui/model_summary_box.h"

#include "ui/format.h"

#include <QFormLayout>
#include <QLabel>
#include <QLocale>

namespace qcw::ui {

QLabel* selectableValueLabel(const char* objectName) {
    auto* l = new QLabel;
    l->setObjectName(QString::fromLatin1(objectName));
    l->setTextInteractionFlags(Qt::TextSelectableByMouse);
    return l;
}

ModelSummaryBox::ModelSummaryBox(QWidget* parent) : QGroupBox(tr("Summary"), parent) {
    setObjectName(QStringLiteral("model-summary"));
    auto* form = new QFormLayout(this);
    architecture_ = selectableValueLabel("summary-architecture");
    params_ = selectableValueLabel("summary-params");
    compressible_ = selectableValueLabel("summary-compressible");
    dtype_ = selectableValueLabel("summary-dtype");
    size_ = selectableValueLabel("summary-size");
    tokenizer_ = selectableValueLabel("summary-tokenizer");
    shape_ = selectableValueLabel("summary-shape");
    form->addRow(tr("Architecture:"), architecture_);
    form->addRow(tr("Parameters:"), params_);
    form->addRow(tr("Compressible:"), compressible_);
    form->addRow(tr("Dtype on disk:"), dtype_);
    form->addRow(tr("Size on disk:"), size_);
    form->addRow(tr("Tokenizer:"), tokenizer_);
    form->addRow(tr("Shape:"), shape_);
}

void ModelSummaryBox::showModel(const qcw::ModelSummary& m) {
    QString arch = QString::fromStdString(m.architecture);
    if (m.compressed) arch += tr(" (compressed)");
    architecture_->setText(arch);
    params_->setText(formatCount(m.params) + QStringLiteral("  (") + formatCompactCount(m.params) + QLatin1Char(')'));
    const double share = m.params > 0 ? 100.0 * double(m.compressibleParams) / double(m.params) : 0.0;
    compressible_->setText(tr("%1  (%2 %)").arg(formatCount(m.compressibleParams)).arg(QLocale().toString(share, 'f', 1)));
    dtype_->setText(QString::fromStdString(m.dtype));
    size_->setText(formatBytes(double(m.bytesOnDisk)));
    tokenizer_->setText(m.hasTokenizer ? tr("present") : tr("missing"));
    shape_->setText(tr("%1 layers, hidden %2, MLP %3, %4 heads, vocabulary %5")
                        .arg(m.numLayers)
                        .arg(formatCount(m.hiddenSize), formatCount(m.intermediateSize))
                        .arg(m.numHeads)
                        .arg(formatCount(m.vocabSize)));
}

}  // namespace qcw::ui
