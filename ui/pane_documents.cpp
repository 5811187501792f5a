#include "ui/pane_documents.h"

#include "ui/async.h"
#include "ui/dataset_report.h"
#include "ui/document_list.h"
#include "ui/document_preview.h"
#include "ui/documents_job.h"
#include "ui/documents_options.h"
#include "ui/format.h"
#include "ui/model_session.h"

#include "common/error.h"
#include "data/data.h"

#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMainWindow>
#include <QMessageBox>
#include <QMimeData>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSplitter>
#include <QStatusBar>
#include <QTimer>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>

namespace qcw::ui {

const char* const DocumentsPane::kRedactionColor = "#ffcc80";
const char* const DocumentsPane::kAnonymizedColor = "#b3e5fc";

namespace {

const QString kLastInputKey = QStringLiteral("panes/documents/lastInputFolder");
const QString kLastOutputKey = QStringLiteral("panes/documents/lastOutputFolder");
const QString kLastDatasetKey = QStringLiteral("panes/documents/lastDataset");  // read by the fine-tuning pane

}  // namespace

struct DocumentsPane::Impl {
    DocumentsPane* q = nullptr;
    ModelSession* session = nullptr;
    BuildFn buildFn = [](const std::vector<std::string>& in, const qcw::DataOptions& o, qcw::RunContext& ctx) {
        return qcw::buildDataset(in, o, ctx);
    };

    QStringList inputs;
    QLabel* hint = nullptr;
    QPushButton* addFilesButton = nullptr;
    QPushButton* addFolderButton = nullptr;
    QPushButton* clearButton = nullptr;
    QPushButton* buildButton = nullptr;
    QPushButton* cancelButton = nullptr;
    DocumentsOptionsBar* options = nullptr;
    DocumentList* list = nullptr;
    DocumentPreview* preview = nullptr;
    DatasetReport* report = nullptr;
    QProgressBar* progress = nullptr;
    QLabel* status = nullptr;
    QLabel* error = nullptr;
    QTimer* restartTimer = nullptr;
    QPointer<QMessageBox> confirmBox;

    bool busy = false;
    quint64 generation = 0;  // of the reading/building job
    QString lastError;
    QString previewRel;

    // Last: its destructor cancels and waits for the workers before the rest goes.
    Jobs jobs;

    void build();
    void updateEnabled();
    void setBusy(bool on);
    void showError(const QString& message);
    void showStatusBar(const QString& message);
    DocumentsRequest request() const;
    void scheduleRestart();
    void startReading();
    void runJob(const DocumentsRequest& r, bool building);
    void showListing(quint64 gen, const qcw::InputListing& listing);
    void applyProgress(quint64 gen, const qcw::Progress& p);
    void finished(quint64 gen, bool building, Outcome<DocumentsAnalysis> out);
    void onCurrentChanged(QTreeWidgetItem* item);
    QString checkOutput(const QString& outDir, bool& replace) const;
};

DocumentsPane::DocumentsPane(const PaneContext& context, QWidget* parent)
    : Pane(context, parent), d(std::make_unique<Impl>()) {
    d->q = this;
    d->session = context.session;
    setAcceptDrops(true);
    d->build();
    // Token counts follow the open model's tokenizer.
    connect(d->session, &ModelSession::modelLoaded, this, [this] {
        if (!d->inputs.isEmpty()) d->scheduleRestart();
    });
    d->updateEnabled();
}

DocumentsPane::~DocumentsPane() = default;

void DocumentsPane::setBuildFunction(BuildFn fn) { d->buildFn = std::move(fn); }
QStringList DocumentsPane::inputs() const { return d->inputs; }
bool DocumentsPane::isBusy() const { return d->busy; }
QString DocumentsPane::lastError() const { return d->lastError; }

QStringList DocumentsPane::excludePatterns() const { return d->options->excludePatterns(); }

void DocumentsPane::setExcludePatterns(const QStringList& globs) {
    d->options->setExcludePatterns(globs);
    if (!d->inputs.isEmpty()) d->startReading();
}

void DocumentsPane::saveSettings(QSettings& s) const { d->options->saveSettings(s); }
void DocumentsPane::restoreSettings(QSettings& s) { d->options->restoreSettings(s); }

QStringList DocumentsPane::pathsFromMime(const QMimeData* mime) {
    QStringList paths;
    if (!mime || !mime->hasUrls()) return paths;
    for (const QUrl& url : mime->urls())
        if (url.isLocalFile() && QFileInfo::exists(url.toLocalFile())) paths << url.toLocalFile();
    return paths;
}

void DocumentsPane::dragEnterEvent(QDragEnterEvent* event) {
    if (!pathsFromMime(event->mimeData()).isEmpty()) event->acceptProposedAction();
    else event->ignore();
}

void DocumentsPane::dragMoveEvent(QDragMoveEvent* event) {
    if (!pathsFromMime(event->mimeData()).isEmpty()) event->acceptProposedAction();
    else event->ignore();
}

void DocumentsPane::dropEvent(QDropEvent* event) {
    const QStringList paths = pathsFromMime(event->mimeData());
    if (paths.isEmpty()) {
        event->ignore();
        return;
    }
    event->acceptProposedAction();
    addPaths(paths);
}

void DocumentsPane::addPaths(const QStringList& paths) {
    QStringList added, missing;
    for (const QString& p : paths) {
        if (p.trimmed().isEmpty()) continue;
        const QFileInfo info(p);
        if (!info.exists()) {
            missing << p;
            continue;
        }
        const QString abs = QDir::cleanPath(info.absoluteFilePath());
        if (!d->inputs.contains(abs) && !added.contains(abs)) added << abs;
    }
    if (!missing.isEmpty()) d->showError(tr("%1: no such file or folder").arg(QDir::toNativeSeparators(missing.first())));
    if (added.isEmpty()) return;
    if (missing.isEmpty()) d->showError(QString());
    d->inputs << added;
    d->startReading();
}

void DocumentsPane::clear() {
    cancel();
    d->inputs.clear();
    d->report->clear();
    d->list->clearRows();
    d->status->setText(tr("Drop documents here."));
    d->showError(QString());
    d->updateEnabled();
}

void DocumentsPane::cancel() {
    d->restartTimer->stop();
    if (!d->busy) return;
    d->jobs.cancelAll();  // the worker stops at its next check; its result is dropped
    ++d->generation;
    d->list->cancelQueued();
    d->lastError.clear();
    d->setBusy(false);
    d->progress->setRange(0, 1);
    d->progress->setValue(0);
    d->status->setText(tr("Cancelled."));
    emit readingFinished(false, tr("cancelled"));
}

bool DocumentsPane::showDocument(const QString& relPath) {
    QTreeWidgetItem* row = d->list->rowFor(relPath);
    if (!row) return false;
    d->list->setCurrentItem(row);
    d->list->scrollToItem(row);
    return true;
}

void DocumentsPane::addFilesDialog() {
    QSettings s;
    const QStringList files = QFileDialog::getOpenFileNames(this, tr("Add Documents"), s.value(kLastInputKey).toString());
    if (files.isEmpty()) return;
    s.setValue(kLastInputKey, QFileInfo(files.first()).absolutePath());
    addPaths(files);
}

void DocumentsPane::addFolderDialog() {
    QSettings s;
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Add a Folder of Documents"), s.value(kLastInputKey).toString());
    if (dir.isEmpty()) return;
    s.setValue(kLastInputKey, dir);
    addPaths({dir});
}

void DocumentsPane::buildDatasetDialog() {
    if (d->inputs.isEmpty()) return;
    QSettings s;
    QString start = s.value(kLastOutputKey).toString();
    if (start.isEmpty()) start = QDir::homePath();
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Dataset Folder (new or empty)"), start);
    if (dir.isEmpty()) return;
    s.setValue(kLastOutputKey, QFileInfo(dir).absolutePath());
    bool replace = false;
    const QString problem = d->checkOutput(dir, replace);
    if (!problem.isEmpty()) {
        d->showError(problem);
        return;
    }
    if (!replace) {
        buildDataset(dir);
        return;
    }
    if (d->confirmBox) d->confirmBox->close();
    auto* box = new QMessageBox(QMessageBox::Warning, tr("Replace Dataset"),
                                tr("%1 holds an earlier dataset.").arg(QDir::toNativeSeparators(dir)),
                                QMessageBox::Yes | QMessageBox::Cancel, this);
    box->setObjectName(QStringLiteral("confirm-replace-dataset"));
    box->setInformativeText(tr("Replace it with the new dataset?"));
    box->setDefaultButton(QMessageBox::Cancel);
    box->setAttribute(Qt::WA_DeleteOnClose);
    connect(box, &QMessageBox::finished, this, [this, dir](int result) {
        if (result == QMessageBox::Yes) buildDataset(dir);
    });
    d->confirmBox = box;
    box->open();  // window-modal, the event loop keeps running
}

void DocumentsPane::buildDataset(const QString& outDir) {
    if (d->inputs.isEmpty()) {
        d->showError(tr("Add documents first."));
        return;
    }
    bool replace = false;
    const QString problem = d->checkOutput(outDir, replace);
    if (!problem.isEmpty()) {
        d->showError(problem);
        emit datasetWritten(false, problem);
        return;
    }
    if (d->busy) cancel();  // a build reads everything again anyway
    d->restartTimer->stop();
    DocumentsRequest r = d->request();
    r.outDir = QDir::toNativeSeparators(QDir::cleanPath(QFileInfo(outDir).absoluteFilePath())).toStdString();
    r.replace = replace;
    d->runJob(r, true);
}

// ---------------------------------------------------------------------------------------

void DocumentsPane::Impl::build() {
    auto* layout = new QVBoxLayout(q);
    hint = new QLabel(DocumentsPane::tr("Drop files or folders of documents here (text, Markdown, HTML, PDF, JSON and "
                                        "ARM templates, Terraform, YAML, FortiGate configs, CSV, JSONL pairs). They "
                                        "are only read: secrets are replaced by placeholders before anything else "
                                        "sees the text."));
    hint->setObjectName(QStringLiteral("documents-hint"));
    hint->setWordWrap(true);
    layout->addWidget(hint);

    auto* buttons = new QHBoxLayout;
    addFilesButton = new QPushButton(DocumentsPane::tr("Add &files…"));
    addFilesButton->setObjectName(QStringLiteral("add-files"));
    addFolderButton = new QPushButton(DocumentsPane::tr("Add f&older…"));
    addFolderButton->setObjectName(QStringLiteral("add-folder"));
    clearButton = new QPushButton(DocumentsPane::tr("C&lear"));
    clearButton->setObjectName(QStringLiteral("clear-documents"));
    buildButton = new QPushButton(DocumentsPane::tr("&Build dataset…"));
    buildButton->setObjectName(QStringLiteral("build-dataset"));
    buildButton->setToolTip(DocumentsPane::tr("Write dataset.jsonl, eval.jsonl and manifest.json into a new folder"));
    cancelButton = new QPushButton(DocumentsPane::tr("Cancel"));
    cancelButton->setObjectName(QStringLiteral("cancel-documents"));
    buttons->addWidget(addFilesButton);
    buttons->addWidget(addFolderButton);
    buttons->addWidget(clearButton);
    buttons->addStretch(1);
    buttons->addWidget(buildButton);
    buttons->addWidget(cancelButton);
    layout->addLayout(buttons);

    options = new DocumentsOptionsBar;
    layout->addWidget(options);

    auto* vsplit = new QSplitter(Qt::Vertical);
    vsplit->setObjectName(QStringLiteral("documents-split"));
    auto* hsplit = new QSplitter(Qt::Horizontal);
    list = new DocumentList;
    hsplit->addWidget(list);
    preview = new DocumentPreview;
    hsplit->addWidget(preview);
    hsplit->setStretchFactor(0, 1);
    hsplit->setStretchFactor(1, 1);
    hsplit->setSizes({560, 500});
    vsplit->addWidget(hsplit);
    report = new DatasetReport;
    vsplit->addWidget(report);
    vsplit->setStretchFactor(0, 3);
    vsplit->setStretchFactor(1, 2);
    layout->addWidget(vsplit, 1);

    progress = new QProgressBar;
    progress->setObjectName(QStringLiteral("documents-progress"));
    progress->setRange(0, 1);
    progress->setValue(0);
    status = new QLabel(DocumentsPane::tr("Drop documents here."));
    status->setObjectName(QStringLiteral("documents-status"));
    status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    error = new QLabel;
    error->setObjectName(QStringLiteral("documents-error"));
    error->setTextInteractionFlags(Qt::TextSelectableByMouse);
    error->setStyleSheet(QStringLiteral("color: #c62828;"));
    error->setVisible(false);
    auto* bottom = new QHBoxLayout;
    bottom->addWidget(progress);
    bottom->addWidget(status, 1);
    layout->addLayout(bottom);
    layout->addWidget(error);

    restartTimer = new QTimer(q);
    restartTimer->setSingleShot(true);
    restartTimer->setInterval(400);
    QObject::connect(restartTimer, &QTimer::timeout, q, [this] {
        if (!inputs.isEmpty()) startReading();
    });
    QObject::connect(options, &DocumentsOptionsBar::changed, q, [this] { scheduleRestart(); });
    QObject::connect(addFilesButton, &QPushButton::clicked, q, &DocumentsPane::addFilesDialog);
    QObject::connect(addFolderButton, &QPushButton::clicked, q, &DocumentsPane::addFolderDialog);
    QObject::connect(clearButton, &QPushButton::clicked, q, &DocumentsPane::clear);
    QObject::connect(buildButton, &QPushButton::clicked, q, &DocumentsPane::buildDatasetDialog);
    QObject::connect(cancelButton, &QPushButton::clicked, q, &DocumentsPane::cancel);
    QObject::connect(list, &QTreeWidget::currentItemChanged, q,
                     [this](QTreeWidgetItem* item) { onCurrentChanged(item); });
    QObject::connect(preview, &DocumentPreview::previewReady, q, &DocumentsPane::previewReady);
}

void DocumentsPane::Impl::updateEnabled() {
    const bool any = !inputs.isEmpty();
    hint->setVisible(!any);
    clearButton->setEnabled(any);
    buildButton->setEnabled(any && !busy);
    cancelButton->setEnabled(busy);
}

void DocumentsPane::Impl::setBusy(bool on) {
    if (busy == on) return;
    busy = on;
    updateEnabled();
    emit q->busyChanged(on);
}

void DocumentsPane::Impl::showStatusBar(const QString& message) {
    if (auto* w = qobject_cast<QMainWindow*>(q->window())) w->statusBar()->showMessage(message, 10000);
}

void DocumentsPane::Impl::showError(const QString& message) {
    lastError = message;
    error->setText(message);
    error->setToolTip(message);
    error->setVisible(!message.isEmpty());
    if (!message.isEmpty()) showStatusBar(DocumentsPane::tr("Documents: %1").arg(message));
}

DocumentsRequest DocumentsPane::Impl::request() const {
    DocumentsRequest r;
    for (const QString& in : inputs) r.inputs.push_back(QDir::toNativeSeparators(in).toStdString());
    options->fill(r);
    if (session->hasModel()) r.modelDir = QDir::toNativeSeparators(session->directory()).toStdString();
    return r;
}

void DocumentsPane::Impl::scheduleRestart() {
    if (!inputs.isEmpty()) restartTimer->start();
}

void DocumentsPane::Impl::startReading() {
    restartTimer->stop();
    if (inputs.isEmpty()) return;
    runJob(request(), false);
}

QString DocumentsPane::Impl::checkOutput(const QString& outDir, bool& replace) const {
    replace = false;
    if (outDir.trimmed().isEmpty()) return DocumentsPane::tr("Choose a folder for the dataset.");
    const QString out = QDir::cleanPath(QFileInfo(outDir).absoluteFilePath());
    const QString shown = QDir::toNativeSeparators(out);
    auto inside = [](const QString& path, const QString& dir) {
        return path == dir || path.startsWith(dir.endsWith(QLatin1Char('/')) ? dir : dir + QLatin1Char('/'));
    };
    for (const QString& in : inputs) {
        if (QFileInfo(in).isDir() && inside(out, in))
            return DocumentsPane::tr("%1: lies inside the documents folder %2; choose a folder outside it")
                .arg(shown, QDir::toNativeSeparators(in));
        if (inside(in, out))
            return DocumentsPane::tr("%1: holds the document %2; choose another folder").arg(shown, QDir::toNativeSeparators(in));
    }
    const QFileInfo info(out);
    if (info.exists() && !info.isDir()) return DocumentsPane::tr("%1: is a file, not a folder").arg(shown);
    if (info.isDir() && !QDir(out).isEmpty(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::Hidden)) {
        // Only an earlier dataset is ever replaced; any other folder of the user's is left alone.
        if (!QFileInfo::exists(out + QStringLiteral("/manifest.json")) ||
            !QFileInfo::exists(out + QStringLiteral("/dataset.jsonl")))
            return DocumentsPane::tr("%1: is not empty and holds no dataset; choose a new or empty folder").arg(shown);
        replace = true;
    }
    return {};
}

void DocumentsPane::Impl::runJob(const DocumentsRequest& r, bool building) {
    jobs.cancelAll();  // a reading still running is superseded
    const quint64 gen = ++generation;
    showError(QString());
    progress->setRange(0, 0);
    status->setText(building ? DocumentsPane::tr("Building the dataset …") : DocumentsPane::tr("Listing the documents …"));
    setBusy(true);

    Impl* self = this;
    BuildFn fn = buildFn;
    jobs.run(
        [r, fn, self, gen, target = q](qcw::RunContext& ctx) {
            return runDocumentsJob(r, fn, ctx, [self, gen, target](const qcw::InputListing& listing) {
                QMetaObject::invokeMethod(
                    target, [self, gen, listing] { self->showListing(gen, listing); }, Qt::QueuedConnection);
            });
        },
        [this, gen, building](Outcome<DocumentsAnalysis> out) { finished(gen, building, std::move(out)); },
        [this, gen](const qcw::Progress& p) { applyProgress(gen, p); });
}

void DocumentsPane::Impl::showListing(quint64 gen, const qcw::InputListing& listing) {
    if (gen != generation) return;
    const QString current = previewRel;
    list->showListing(listing);
    report->clear();
    progress->setRange(0, std::max<int>(1, static_cast<int>(listing.files.size())));
    progress->setValue(0);
    status->setText(DocumentsPane::tr("Reading %1 documents …").arg(listing.files.size()));
    if (!current.isEmpty()) {
        if (QTreeWidgetItem* row = list->rowFor(current)) list->setCurrentItem(row);
    }
}

void DocumentsPane::Impl::applyProgress(quint64 gen, const qcw::Progress& p) {
    if (gen != generation) return;
    if (p.stage != "read" || p.step < 1) return;
    // Step i: the i-th file of the listing has been read (its final status comes with the summary).
    list->markRead(p.step, p.message);
    if (p.total > 0) {
        progress->setRange(0, static_cast<int>(p.total));
        progress->setValue(static_cast<int>(std::min(p.step, p.total)));
        status->setText(DocumentsPane::tr("Reading %1 / %2: %3").arg(p.step).arg(p.total).arg(QString::fromStdString(p.message)));
    }
}

void DocumentsPane::Impl::finished(quint64 gen, bool building, Outcome<DocumentsAnalysis> out) {
    if (gen != generation) return;  // cancelled from the pane (already idle) or superseded
    setBusy(false);
    progress->setRange(0, 1);
    if (out.cancelled) {
        progress->setValue(0);
        status->setText(DocumentsPane::tr("Cancelled."));
        emit q->readingFinished(false, DocumentsPane::tr("cancelled"));
        return;
    }
    if (!out.ok()) {
        const QString message = out.error.isEmpty() ? DocumentsPane::tr("unknown error") : out.error;
        progress->setValue(0);
        status->setText(building ? DocumentsPane::tr("The dataset was not written.") : DocumentsPane::tr("Reading failed."));
        list->cancelQueued();
        showError(message);
        emit q->readingFinished(false, message);
        if (building) emit q->datasetWritten(false, message);
        return;
    }
    progress->setValue(1);
    const DocumentsAnalysis& a = *out.value;
    list->showResults(a.files);
    report->showAnalysis(a);
    QString done = DocumentsPane::tr("Read %1 of %2 documents in %3 s.")
                       .arg(a.filesRead)
                       .arg(a.files.size())
                       .arg(QLocale().toString(a.seconds, 'f', 2));
    if (!a.writtenTo.isEmpty()) {
        done = DocumentsPane::tr("Dataset written to %1: %2 records (%3 train, %4 held out).")
                   .arg(QDir::toNativeSeparators(a.writtenTo), formatCount(a.records), formatCount(a.trainRecords),
                        formatCount(a.evalRecords));
        QSettings s;
        s.setValue(kLastOutputKey, QFileInfo(a.writtenTo).absolutePath());
        s.setValue(kLastDatasetKey, a.writtenTo);
        showStatusBar(done);
    }
    status->setText(done);
    emit q->readingFinished(true, done);
    if (!a.writtenTo.isEmpty()) emit q->datasetWritten(true, a.writtenTo);
}

void DocumentsPane::Impl::onCurrentChanged(QTreeWidgetItem* item) {
    preview->drop();
    if (!item) return;
    const QString rel = DocumentList::relOf(item);
    const QString path = DocumentList::pathOf(item);
    previewRel = rel;
    if (path.isEmpty() || DocumentList::isUnreadable(item)) {
        preview->showNote(rel, item->text(DocumentList::ColStatus));
        return;
    }
    preview->showDocument(rel, path, request().options());
}

}  // namespace qcw::ui
