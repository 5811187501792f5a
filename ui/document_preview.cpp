#include "ui/document_preview.h"

#include "ui/async.h"
#include "ui/format.h"
#include "ui/pane_documents.h"
#include "ui/secret_kinds.h"

#include "data/data.h"

#include <QDir>
#include <QLabel>
#include <QScrollBar>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTextCursor>
#include <QVBoxLayout>

#include <algorithm>

namespace qcw::ui {

namespace {
constexpr std::size_t kPreviewBytes = 256u << 10;  // the preview shows the first 256 KiB of a document
constexpr int kRedactionKindProperty = QTextFormat::UserProperty + 1;
}  // namespace

DocumentPreview::DocumentPreview(QWidget* parent) : QWidget(parent), jobs_(std::make_unique<Jobs>()) {
    auto* pv = new QVBoxLayout(this);
    pv->setContentsMargins(0, 0, 0, 0);
    title_ = new QLabel(tr("Select a document to preview its scrubbed text."));
    title_->setObjectName(QStringLiteral("preview-title"));
    title_->setWordWrap(true);
    title_->setTextFormat(Qt::PlainText);
    text_ = new QTextBrowser;
    text_->setObjectName(QStringLiteral("document-preview"));
    text_->setOpenLinks(false);
    text_->setLineWrapMode(QTextEdit::WidgetWidth);
    text_->setAcceptDrops(false);
    QFont mono(QStringLiteral("monospace"));
    mono.setStyleHint(QFont::TypeWriter);
    text_->setFont(mono);
    pv->addWidget(title_);
    pv->addWidget(text_, 1);
}

DocumentPreview::~DocumentPreview() = default;

void DocumentPreview::drop() { ++generation_; }

void DocumentPreview::showNote(const QString& rel, const QString& note) {
    text_->clear();
    title_->setText(QStringLiteral("%1 \u2014 %2").arg(rel, note));
}

void DocumentPreview::showDocument(const QString& rel, const QString& path, const qcw::DataOptions& options) {
    const quint64 gen = generation_;
    title_->setText(tr("%1 \u2014 reading …").arg(rel));
    const std::string p = QDir::toNativeSeparators(path).toStdString();
    jobs_->run([options, p](qcw::RunContext&) { return qcw::readDocument(p, options); },
               [this, gen, rel](Outcome<qcw::DocumentReport> out) {
                   if (gen != generation_) return;  // another document was selected since
                   if (!out.ok()) {
                       showNote(rel, out.error);
                       return;
                   }
                   if (out.value->skipped()) {  // changed on disk since it was listed
                       text_->clear();
                       title_->setText(tr("%1 \u2014 skipped: %2").arg(rel, QString::fromStdString(out.value->reason)));
                       emit previewReady(rel);
                       return;
                   }
                   render(*out.value, rel);
               });
}

void DocumentPreview::render(const qcw::DocumentReport& doc, const QString& rel) {
    text_->clear();
    QTextDocument* td = text_->document();
    td->setUndoRedoEnabled(false);
    QTextCursor c(td);
    c.beginEditBlock();
    const std::string& t = doc.text;
    std::size_t limit = std::min(t.size(), kPreviewBytes);
    while (limit < t.size() && limit > 0 && (static_cast<unsigned char>(t[limit]) & 0xC0) == 0x80) --limit;
    QTextCharFormat plain;
    std::size_t pos = 0;
    int secretCount = 0, anonCount = 0;
    for (const qcw::RedactionSpan& s : doc.redactions) {
        if (s.offset >= limit || s.offset < pos) continue;
        if (s.offset > pos) c.insertText(QString::fromUtf8(t.data() + pos, static_cast<qsizetype>(s.offset - pos)), plain);
        const bool anon = isAnonymization(s.kind);
        QTextCharFormat f;
        f.setBackground(QColor(QLatin1String(anon ? DocumentsPane::kAnonymizedColor : DocumentsPane::kRedactionColor)));
        f.setForeground(QColor(Qt::black));
        f.setProperty(kRedactionKindProperty, QString::fromStdString(s.kind));
        f.setToolTip(anon ? tr("Anonymised %1 (rule: %2)").arg(secretKindLabel(s.kind), QString::fromStdString(s.kind))
                          : tr("Redacted %1 (rule: %2); the secret never leaves the scrubber")
                                .arg(secretKindLabel(s.kind), QString::fromStdString(s.kind)));
        const std::size_t end = std::min(s.offset + s.length, t.size());
        c.insertText(QString::fromUtf8(t.data() + s.offset, static_cast<qsizetype>(end - s.offset)), f);
        pos = end;
    }
    for (const qcw::RedactionSpan& s : doc.redactions) ++(isAnonymization(s.kind) ? anonCount : secretCount);
    if (pos < limit) c.insertText(QString::fromUtf8(t.data() + pos, static_cast<qsizetype>(limit - pos)), plain);
    c.endEditBlock();
    // Scrolled to the first redaction, the reason to look at a document here.
    QTextCursor first(td);
    for (QTextBlock b = td->begin(); b.isValid() && first.position() == 0; b = b.next())
        for (auto it = b.begin(); !it.atEnd(); ++it)
            if (it.fragment().charFormat().hasProperty(kRedactionKindProperty)) {
                first.setPosition(it.fragment().position());
                break;
            }
    text_->moveCursor(QTextCursor::End);  // scrolling back up puts the redaction near the top
    text_->setTextCursor(first);
    text_->ensureCursorVisible();
    if (first.position() > 0)
        if (QScrollBar* bar = text_->verticalScrollBar())
            bar->setValue(std::max(bar->minimum(), bar->value() - 4 * text_->fontMetrics().lineSpacing()));

    QString title = tr("%1 \u2014 %2, %3, %4 secrets redacted")
                        .arg(rel, QString::fromStdString(doc.type), formatBytes(double(doc.bytes)))
                        .arg(secretCount);
    if (anonCount) title += tr(", %1 values anonymised").arg(anonCount);
    if (limit < t.size()) title += tr(" (first %1 shown)").arg(formatBytes(double(limit)));
    title_->setText(title);
    emit previewReady(rel);
}

}  // namespace qcw::ui
