#include "ui/pane_documents.h"

#include "ui/async.h"
#include "ui/format.h"
#include "ui/model_session.h"

#include "common/error.h"
#include "data/data.h"
#include "tokenizer/tokenizer.h"

#include <QCheckBox>
#include <QCoreApplication>
#include <QDir>
#include <QDoubleSpinBox>
#include <QDragEnterEvent>
#include <QDropEvent>
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
#include <QMimeData>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollBar>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStatusBar>
#include <QTableWidget>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTextCursor>
#include <QTimer>
#include <QTreeWidget>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>
#include <map>
#include <set>

namespace qcw::ui {

const char* const DocumentsPane::kRedactionColor = "#ffcc80";
const char* const DocumentsPane::kAnonymizedColor = "#b3e5fc";

namespace {

constexpr std::size_t kPreviewBytes = 256u << 10;  // the preview shows the first 256 KiB of a document
constexpr int kRedactionKindProperty = QTextFormat::UserProperty + 1;

enum Column { ColName, ColType, ColSize, ColStatus, ColRecords, ColSecrets, ColumnCount };
enum Role { PathRole = Qt::UserRole, StateRole };

const QString kLastInputKey = QStringLiteral("panes/documents/lastInputFolder");
const QString kLastOutputKey = QStringLiteral("panes/documents/lastOutputFolder");
const QString kLastDatasetKey = QStringLiteral("panes/documents/lastDataset");  // read by the fine-tuning pane

QString tr(const char* text) { return QCoreApplication::translate("qcw::ui::DocumentsPane", text); }

// Readable names of the scrubber's kinds, for the preview's tooltips and the secrets report.
// The kinds themselves come from core (RedactionSpan::kind); an unknown kind reads as itself.
QString kindLabel(const std::string& kind) {
    static const std::map<std::string, const char*> labels = {
        {"private_key", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "private key")},
        {"fortigate_psk", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "FortiGate pre-shared key")},
        {"fortigate_password", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "FortiGate password")},
        {"fortigate_key", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "FortiGate key")},
        {"fortigate_secret", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "FortiGate secret")},
        {"storage_account_key", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "storage account key")},
        {"shared_access_key", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "shared access key")},
        {"sas_token", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "SAS token signature")},
        {"connection_string_password", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "connection-string password")},
        {"azure_client_secret", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "Azure AD client secret")},
        {"access_key", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "access key")},
        {"api_key", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "API key")},
        {"api_token", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "API token")},
        {"bearer_token", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "bearer token")},
        {"jwt", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "JSON web token")},
        {"high_entropy_secret", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "high-entropy string near a secret word")},
        {"arm_secret_parameter", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "ARM secret parameter value")},
        {"terraform_secret_default", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "Terraform secret variable default")},
        {"password", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "password")},
        {"secret", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "secret")},
        {"psk", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "pre-shared key")},
        {"token", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "token")},
        {"canary", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "planted canary string")},
        {"ip", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "IP address")},
        {"email", QT_TRANSLATE_NOOP("qcw::ui::DocumentsPane", "e-mail address")},
    };
    auto it = labels.find(kind);
    return it != labels.end() ? tr(it->second) : QString::fromStdString(kind).replace(QLatin1Char('_'), QLatin1Char(' '));
}

bool isAnonymization(const std::string& kind) { return kind == "ip" || kind == "email"; }

// How a row reads: the core's status and reason, as the user sees it.
enum class State { Queued, Read, Partial, Skipped, Error, Cancelled };

State stateOf(const std::string& status, const std::string& reason) {
    if (status == "ok") return State::Read;
    if (status == "partial") return State::Partial;
    // Reasons that are failures rather than choices (reader crash, permissions, I/O).
    static const char* const errors[] = {"reader failed", "cannot ", "read error", "I/O error"};
    for (const char* e : errors)
        if (reason.rfind(e, 0) == 0) return State::Error;
    return State::Skipped;
}

QString stateName(State s) {
    switch (s) {
    case State::Queued: return QStringLiteral("queued");
    case State::Read: return QStringLiteral("read");
    case State::Partial: return QStringLiteral("partial");
    case State::Skipped: return QStringLiteral("skipped");
    case State::Error: return QStringLiteral("error");
    case State::Cancelled: return QStringLiteral("cancelled");
    }
    return {};
}

QString statusText(State s, const QString& reason) {
    switch (s) {
    case State::Queued: return tr("queued");
    case State::Read: return tr("read");
    case State::Partial: return reason.isEmpty() ? tr("read with problems") : tr("read with problems: %1").arg(reason);
    case State::Skipped: return tr("skipped: %1").arg(reason);
    case State::Error: return tr("error: %1").arg(reason);
    case State::Cancelled: return tr("not read (cancelled)");
    }
    return {};
}

std::int64_t codePoints(const std::string& s) {
    std::int64_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// What the pane asks of a worker.
struct Request {
    std::vector<std::string> inputs;
    std::vector<std::string> exclude;
    int maxTokens = 512;
    double evalFraction = 0.0;
    bool anonymizeIps = false, anonymizeEmails = false;
    std::string modelDir;  // the open model, for its tokenizer; empty: estimate tokens
    std::string outDir;    // set: write the dataset there
    bool replace = false;

    qcw::DataOptions options() const {
        qcw::DataOptions o;
        o.setMaxTokens(maxTokens)
            .setOverlap(std::min(64, maxTokens / 4))
            .setEvalFraction(evalFraction)
            .setAnonymizeIps(anonymizeIps)
            .setAnonymizeEmails(anonymizeEmails);
        for (const auto& e : exclude) o.addExclude(e);
        return o;
    }
};

struct TypeCount {
    int documents = 0, records = 0;
    std::uint64_t bytes = 0;
};

// What a reading (or building) job hands back: the summary, not the records.
struct Analysis {
    std::vector<qcw::FileSummary> files;
    int filesRead = 0, skipped = 0;
    int records = 0, trainRecords = 0, evalRecords = 0, pairs = 0;
    int exactDuplicates = 0, nearDuplicates = 0;
    std::int64_t characters = 0, tokens = 0;
    QString tokenizer;  // the model whose tokenizer counted; empty: bytes/4 estimate
    std::map<std::string, int> redactions, anonymized;
    std::map<std::string, TypeCount> types;
    std::uint64_t bytesRead = 0;
    double seconds = 0;
    QString writtenTo;
};

Analysis summarise(const qcw::DatasetBuildResult& r) {
    Analysis a;
    a.files = r.files;
    a.filesRead = r.filesRead;
    a.skipped = static_cast<int>(r.skipped.size());
    a.records = static_cast<int>(r.records.size());
    a.trainRecords = r.trainRecords();
    a.evalRecords = r.evalRecords();
    a.pairs = r.pairs;
    a.exactDuplicates = r.exactDuplicates;
    a.nearDuplicates = r.nearDuplicates;
    a.redactions = r.redactions;
    a.anonymized = r.anonymized;
    a.bytesRead = r.bytesRead;
    a.seconds = r.seconds;
    for (const auto& rec : r.records) {
        a.tokens += rec.tokens;
        a.characters += rec.kind == "text"   ? codePoints(rec.text)
                        : rec.kind == "pair" ? codePoints(rec.prompt) + codePoints(rec.completion)
                                             : codePoints(rec.messagesJson);
    }
    for (const auto& f : r.files) {
        if (f.status == "skipped") continue;
        TypeCount& t = a.types[f.type];
        ++t.documents;
        t.records += f.records;
        t.bytes += f.bytes;
    }
    return a;
}

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
    QSpinBox* maxTokens = nullptr;
    QDoubleSpinBox* evalFraction = nullptr;
    QCheckBox* anonymizeIps = nullptr;
    QCheckBox* anonymizeEmails = nullptr;
    QLineEdit* exclude = nullptr;
    QTreeWidget* list = nullptr;
    QLabel* previewTitle = nullptr;
    QTextBrowser* preview = nullptr;
    QLabel* statDocuments = nullptr;
    QLabel* statRecords = nullptr;
    QLabel* statCharacters = nullptr;
    QLabel* statTokens = nullptr;
    QLabel* statDuplicates = nullptr;
    QTableWidget* typeTable = nullptr;
    QLabel* secretsTotal = nullptr;
    QTreeWidget* secrets = nullptr;
    QProgressBar* progress = nullptr;
    QLabel* status = nullptr;
    QLabel* error = nullptr;
    QTimer* restartTimer = nullptr;
    QPointer<QMessageBox> confirmBox;

    std::vector<QTreeWidgetItem*> fileRows;  // listing order = the core's reading order
    std::map<QString, QTreeWidgetItem*> rowsByRel;
    bool busy = false;
    quint64 generation = 0;         // of the reading/building job
    quint64 previewGeneration = 0;  // of the preview job
    QString lastError;
    QString previewRel;

    // Last: their destructors cancel and wait for the workers before the rest goes.
    Jobs previewJobs;
    Jobs jobs;

    void build();
    QWidget* buildStats();
    void updateEnabled();
    void setBusy(bool on);
    void showError(const QString& message);
    void showStatusBar(const QString& message);
    Request request() const;
    void scheduleRestart();
    void startReading();
    void runJob(const Request& r, bool building);
    void showListing(quint64 gen, const qcw::InputListing& listing);
    void applyProgress(quint64 gen, const qcw::Progress& p);
    void finished(quint64 gen, bool building, Outcome<Analysis> out);
    void showAnalysis(const Analysis& a);
    void clearResults();
    QTreeWidgetItem* addRow(const QString& rel, const QString& path);
    void setRowState(QTreeWidgetItem* row, State s, const QString& reason);
    void onCurrentChanged(QTreeWidgetItem* item);
    void renderPreview(const qcw::DocumentReport& doc, const QString& rel);
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

QStringList DocumentsPane::excludePatterns() const {
    return d->exclude->text().split(QRegularExpression(QStringLiteral("[,\\s]+")), Qt::SkipEmptyParts);
}

void DocumentsPane::setExcludePatterns(const QStringList& globs) {
    d->exclude->setText(globs.join(QStringLiteral(" ")));
    if (!d->inputs.isEmpty()) d->startReading();
}

void DocumentsPane::saveSettings(QSettings& s) const {
    s.setValue(QStringLiteral("maxTokens"), d->maxTokens->value());
    s.setValue(QStringLiteral("evalFraction"), d->evalFraction->value());
    s.setValue(QStringLiteral("anonymizeIps"), d->anonymizeIps->isChecked());
    s.setValue(QStringLiteral("anonymizeEmails"), d->anonymizeEmails->isChecked());
    s.setValue(QStringLiteral("exclude"), d->exclude->text());
}

void DocumentsPane::restoreSettings(QSettings& s) {
    const QSignalBlocker b1(d->maxTokens), b2(d->evalFraction), b3(d->anonymizeIps), b4(d->anonymizeEmails),
        b5(d->exclude);
    d->maxTokens->setValue(s.value(QStringLiteral("maxTokens"), d->maxTokens->value()).toInt());
    d->evalFraction->setValue(s.value(QStringLiteral("evalFraction"), d->evalFraction->value()).toDouble());
    d->anonymizeIps->setChecked(s.value(QStringLiteral("anonymizeIps"), false).toBool());
    d->anonymizeEmails->setChecked(s.value(QStringLiteral("anonymizeEmails"), false).toBool());
    d->exclude->setText(s.value(QStringLiteral("exclude")).toString());
}

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
    d->clearResults();
    d->list->clear();
    d->fileRows.clear();
    d->rowsByRel.clear();
    d->status->setText(tr("Drop documents here."));
    d->showError(QString());
    d->updateEnabled();
}

void DocumentsPane::cancel() {
    d->restartTimer->stop();
    if (!d->busy) return;
    d->jobs.cancelAll();  // the worker stops at its next check; its result is dropped
    ++d->generation;
    for (QTreeWidgetItem* row : d->fileRows)
        if (row->data(ColStatus, StateRole).toString() == stateName(State::Queued)) d->setRowState(row, State::Cancelled, {});
    d->lastError.clear();
    d->setBusy(false);
    d->progress->setRange(0, 1);
    d->progress->setValue(0);
    d->status->setText(tr("Cancelled."));
    emit readingFinished(false, tr("cancelled"));
}

bool DocumentsPane::showDocument(const QString& relPath) {
    auto it = d->rowsByRel.find(relPath);
    if (it == d->rowsByRel.end()) return false;
    d->list->setCurrentItem(it->second);
    d->list->scrollToItem(it->second);
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
    Request r = d->request();
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

    auto* options = new QHBoxLayout;
    options->addWidget(new QLabel(DocumentsPane::tr("Record length:")));
    maxTokens = new QSpinBox;
    maxTokens->setObjectName(QStringLiteral("max-tokens"));
    maxTokens->setRange(32, 8192);
    maxTokens->setValue(512);
    maxTokens->setSuffix(DocumentsPane::tr(" tokens"));
    options->addWidget(maxTokens);
    options->addWidget(new QLabel(DocumentsPane::tr("Held out:")));
    evalFraction = new QDoubleSpinBox;
    evalFraction->setObjectName(QStringLiteral("eval-fraction"));
    evalFraction->setRange(0.0, 0.5);
    evalFraction->setSingleStep(0.05);
    evalFraction->setDecimals(2);
    evalFraction->setToolTip(DocumentsPane::tr("Share of the source files written to eval.jsonl"));
    options->addWidget(evalFraction);
    anonymizeIps = new QCheckBox(DocumentsPane::tr("Anonymise IPs"));
    anonymizeIps->setObjectName(QStringLiteral("anonymize-ips"));
    anonymizeEmails = new QCheckBox(DocumentsPane::tr("Anonymise e-mails"));
    anonymizeEmails->setObjectName(QStringLiteral("anonymize-emails"));
    options->addWidget(anonymizeIps);
    options->addWidget(anonymizeEmails);
    options->addWidget(new QLabel(DocumentsPane::tr("Exclude:")));
    exclude = new QLineEdit;
    exclude->setObjectName(QStringLiteral("exclude-patterns"));
    exclude->setPlaceholderText(DocumentsPane::tr("globs, e.g. *.log drafts/*"));
    options->addWidget(exclude, 1);
    layout->addLayout(options);

    auto* vsplit = new QSplitter(Qt::Vertical);
    vsplit->setObjectName(QStringLiteral("documents-split"));
    auto* hsplit = new QSplitter(Qt::Horizontal);
    list = new QTreeWidget;
    list->setObjectName(QStringLiteral("document-list"));
    list->setColumnCount(ColumnCount);
    list->setHeaderLabels({DocumentsPane::tr("Name"), DocumentsPane::tr("Type"), DocumentsPane::tr("Size"),
                           DocumentsPane::tr("Status"), DocumentsPane::tr("Records"), DocumentsPane::tr("Secrets")});
    list->setRootIsDecorated(false);
    list->setUniformRowHeights(true);
    list->setAlternatingRowColors(true);
    list->setSelectionMode(QAbstractItemView::SingleSelection);
    list->header()->setStretchLastSection(false);
    list->header()->setSectionResizeMode(ColName, QHeaderView::Stretch);
    for (int c = ColType; c < ColumnCount; ++c)
        list->header()->setSectionResizeMode(c, c == ColStatus ? QHeaderView::Interactive : QHeaderView::ResizeToContents);
    list->header()->resizeSection(ColStatus, 110);
    list->setTextElideMode(Qt::ElideMiddle);
    hsplit->addWidget(list);

    auto* previewBox = new QWidget;
    auto* pv = new QVBoxLayout(previewBox);
    pv->setContentsMargins(0, 0, 0, 0);
    previewTitle = new QLabel(DocumentsPane::tr("Select a document to preview its scrubbed text."));
    previewTitle->setObjectName(QStringLiteral("preview-title"));
    previewTitle->setWordWrap(true);
    previewTitle->setTextFormat(Qt::PlainText);
    preview = new QTextBrowser;
    preview->setObjectName(QStringLiteral("document-preview"));
    preview->setOpenLinks(false);
    preview->setLineWrapMode(QTextEdit::WidgetWidth);
    preview->setAcceptDrops(false);
    QFont mono(QStringLiteral("monospace"));
    mono.setStyleHint(QFont::TypeWriter);
    preview->setFont(mono);
    pv->addWidget(previewTitle);
    pv->addWidget(preview, 1);
    hsplit->addWidget(previewBox);
    hsplit->setStretchFactor(0, 1);
    hsplit->setStretchFactor(1, 1);
    hsplit->setSizes({560, 500});
    vsplit->addWidget(hsplit);
    vsplit->addWidget(buildStats());
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
    QObject::connect(maxTokens, &QSpinBox::valueChanged, q, [this] { scheduleRestart(); });
    QObject::connect(evalFraction, &QDoubleSpinBox::valueChanged, q, [this] { scheduleRestart(); });
    QObject::connect(anonymizeIps, &QCheckBox::toggled, q, [this] { scheduleRestart(); });
    QObject::connect(anonymizeEmails, &QCheckBox::toggled, q, [this] { scheduleRestart(); });
    QObject::connect(exclude, &QLineEdit::editingFinished, q, [this] { scheduleRestart(); });
    QObject::connect(addFilesButton, &QPushButton::clicked, q, &DocumentsPane::addFilesDialog);
    QObject::connect(addFolderButton, &QPushButton::clicked, q, &DocumentsPane::addFolderDialog);
    QObject::connect(clearButton, &QPushButton::clicked, q, &DocumentsPane::clear);
    QObject::connect(buildButton, &QPushButton::clicked, q, &DocumentsPane::buildDatasetDialog);
    QObject::connect(cancelButton, &QPushButton::clicked, q, &DocumentsPane::cancel);
    QObject::connect(list, &QTreeWidget::currentItemChanged, q,
                     [this](QTreeWidgetItem* item) { onCurrentChanged(item); });
}

QWidget* DocumentsPane::Impl::buildStats() {
    auto* split = new QSplitter(Qt::Horizontal);
    auto* statsBox = new QGroupBox(DocumentsPane::tr("Dataset"));
    statsBox->setObjectName(QStringLiteral("dataset-stats"));
    auto* sv = new QHBoxLayout(statsBox);
    auto* form = new QFormLayout;
    auto label = [&](const char* name) {
        auto* l = new QLabel(QStringLiteral("\u2014"));
        l->setObjectName(QString::fromLatin1(name));
        l->setTextInteractionFlags(Qt::TextSelectableByMouse);
        return l;
    };
    statDocuments = label("stats-documents");
    statRecords = label("stats-records");
    statCharacters = label("stats-characters");
    statTokens = label("stats-tokens");
    statDuplicates = label("stats-duplicates");
    form->addRow(DocumentsPane::tr("Documents:"), statDocuments);
    form->addRow(DocumentsPane::tr("Records:"), statRecords);
    form->addRow(DocumentsPane::tr("Characters:"), statCharacters);
    form->addRow(DocumentsPane::tr("Tokens:"), statTokens);
    form->addRow(DocumentsPane::tr("Duplicates dropped:"), statDuplicates);
    sv->addLayout(form, 1);
    typeTable = new QTableWidget(0, 4);
    typeTable->setObjectName(QStringLiteral("stats-types"));
    typeTable->setHorizontalHeaderLabels({DocumentsPane::tr("Type"), DocumentsPane::tr("Documents"),
                                          DocumentsPane::tr("Records"), DocumentsPane::tr("Size")});
    typeTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    typeTable->verticalHeader()->setVisible(false);
    typeTable->verticalHeader()->setDefaultSectionSize(typeTable->fontMetrics().height() + 6);
    typeTable->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    typeTable->horizontalHeader()->setStretchLastSection(true);
    sv->addWidget(typeTable, 1);
    split->addWidget(statsBox);

    auto* secretsBox = new QGroupBox(DocumentsPane::tr("Secrets found (pre-flight)"));
    auto* kv = new QVBoxLayout(secretsBox);
    secretsTotal = new QLabel(QStringLiteral("\u2014"));
    secretsTotal->setObjectName(QStringLiteral("secrets-total"));
    secretsTotal->setWordWrap(true);
    kv->addWidget(secretsTotal);
    secrets = new QTreeWidget;
    secrets->setObjectName(QStringLiteral("secrets-report"));
    secrets->setColumnCount(2);
    secrets->setHeaderLabels({DocumentsPane::tr("Kind / file"), DocumentsPane::tr("Count")});
    secrets->header()->setStretchLastSection(false);
    secrets->header()->setSectionResizeMode(0, QHeaderView::Stretch);
    secrets->header()->setSectionResizeMode(1, QHeaderView::ResizeToContents);
    kv->addWidget(secrets, 1);
    split->addWidget(secretsBox);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    return split;
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

Request DocumentsPane::Impl::request() const {
    Request r;
    for (const QString& in : inputs) r.inputs.push_back(QDir::toNativeSeparators(in).toStdString());
    for (const QString& e : q->excludePatterns()) r.exclude.push_back(e.toStdString());
    r.maxTokens = maxTokens->value();
    r.evalFraction = evalFraction->value();
    r.anonymizeIps = anonymizeIps->isChecked();
    r.anonymizeEmails = anonymizeEmails->isChecked();
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

void DocumentsPane::Impl::clearResults() {
    for (QLabel* l : {statDocuments, statRecords, statCharacters, statTokens, statDuplicates})
        l->setText(QStringLiteral("\u2014"));
    statTokens->setToolTip(QString());
    typeTable->setRowCount(0);
    secrets->clear();
    secretsTotal->setText(QStringLiteral("\u2014"));
}

QTreeWidgetItem* DocumentsPane::Impl::addRow(const QString& rel, const QString& path) {
    auto* row = new QTreeWidgetItem(list);
    row->setText(ColName, rel);
    row->setToolTip(ColName, QDir::toNativeSeparators(path));
    row->setData(ColName, PathRole, path);
    for (int c : {ColSize, ColRecords, ColSecrets}) row->setTextAlignment(c, Qt::AlignRight | Qt::AlignVCenter);
    rowsByRel[rel] = row;
    return row;
}

void DocumentsPane::Impl::setRowState(QTreeWidgetItem* row, State s, const QString& reason) {
    row->setText(ColStatus, statusText(s, reason));
    row->setToolTip(ColStatus, row->text(ColStatus));
    row->setData(ColStatus, StateRole, stateName(s));
    const bool bad = s == State::Error;
    const bool dim = s == State::Skipped || s == State::Cancelled || s == State::Queued;
    for (int c = 0; c < ColumnCount; ++c) {
        row->setForeground(c, bad ? QBrush(QColor(0xc6, 0x28, 0x28)) : dim ? q->palette().brush(QPalette::PlaceholderText)
                                                                            : QBrush());
    }
}

void DocumentsPane::Impl::runJob(const Request& r, bool building) {
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
            qcw::DataOptions o = r.options();
            // The listing shows every file as queued before the first is read. The same walk
            // (same inputs and patterns) gives the core's reading order.
            qcw::InputListing listing = qcw::listInputFiles(r.inputs, o.exclude);
            QMetaObject::invokeMethod(
                target, [self, gen, listing] { self->showListing(gen, listing); }, Qt::QueuedConnection);
            Analysis a;
            std::shared_ptr<qcw::Tokenizer> tok;
            if (!r.modelDir.empty()) {
                try {
                    tok = std::shared_ptr<qcw::Tokenizer>(qcw::loadTokenizerForModel(r.modelDir));
                } catch (const std::exception&) {
                    tok.reset();  // a broken tokenizer: counts fall back to the estimate
                }
            }
            if (tok) {
                o.setTokenize([tok](const std::string& text) { return tok->encodeIds(text); });
                a.tokenizer = QFileInfo(QString::fromStdString(r.modelDir)).fileName();
            }
            const qcw::DatasetBuildResult res = fn(r.inputs, o, ctx);
            ctx.checkCancelled();
            if (!r.outDir.empty()) qcw::writeDataset(res, r.outDir, r.replace);
            const QString tokenizer = a.tokenizer;
            a = summarise(res);
            a.tokenizer = tokenizer;
            if (!r.outDir.empty()) a.writtenTo = QString::fromStdString(r.outDir);
            return a;
        },
        [this, gen, building](Outcome<Analysis> out) { finished(gen, building, std::move(out)); },
        [this, gen](const qcw::Progress& p) { applyProgress(gen, p); });
}

void DocumentsPane::Impl::showListing(quint64 gen, const qcw::InputListing& listing) {
    if (gen != generation) return;
    const QString current = previewRel;
    list->clear();
    fileRows.clear();
    rowsByRel.clear();
    clearResults();
    for (const auto& f : listing.files) {
        QTreeWidgetItem* row = addRow(QString::fromStdString(f.rel), QString::fromStdString(f.path));
        setRowState(row, State::Queued, {});
        fileRows.push_back(row);
    }
    for (const auto& s : listing.skipped) {
        QTreeWidgetItem* row = addRow(QString::fromStdString(s.path), QString());
        setRowState(row, stateOf("skipped", s.reason), QString::fromStdString(s.reason));
    }
    progress->setRange(0, std::max<int>(1, static_cast<int>(listing.files.size())));
    progress->setValue(0);
    status->setText(DocumentsPane::tr("Reading %1 documents …").arg(listing.files.size()));
    if (!current.isEmpty()) {
        auto it = rowsByRel.find(current);
        if (it != rowsByRel.end()) list->setCurrentItem(it->second);
    }
}

void DocumentsPane::Impl::applyProgress(quint64 gen, const qcw::Progress& p) {
    if (gen != generation) return;
    if (p.stage != "read" || p.step < 1) return;
    // Step i: the i-th file of the listing has been read (its final status comes with the summary).
    const auto i = static_cast<std::size_t>(p.step - 1);
    if (i < fileRows.size() && fileRows[i]->data(ColStatus, StateRole).toString() == stateName(State::Queued)) {
        const bool skipped = p.message.size() > 9 && p.message.compare(p.message.size() - 9, 9, ": skipped") == 0;
        fileRows[i]->setText(ColStatus, skipped ? DocumentsPane::tr("skipped") : DocumentsPane::tr("read"));
        fileRows[i]->setData(ColStatus, StateRole, skipped ? stateName(State::Skipped) : stateName(State::Read));
    }
    if (p.total > 0) {
        progress->setRange(0, static_cast<int>(p.total));
        progress->setValue(static_cast<int>(std::min(p.step, p.total)));
        status->setText(DocumentsPane::tr("Reading %1 / %2: %3").arg(p.step).arg(p.total).arg(QString::fromStdString(p.message)));
    }
}

void DocumentsPane::Impl::finished(quint64 gen, bool building, Outcome<Analysis> out) {
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
        for (QTreeWidgetItem* row : fileRows)
            if (row->data(ColStatus, StateRole).toString() == stateName(State::Queued)) setRowState(row, State::Cancelled, {});
        showError(message);
        emit q->readingFinished(false, message);
        if (building) emit q->datasetWritten(false, message);
        return;
    }
    progress->setValue(1);
    const Analysis& a = *out.value;
    showAnalysis(a);
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

void DocumentsPane::Impl::showAnalysis(const Analysis& a) {
    for (const auto& f : a.files) {
        const QString rel = QString::fromStdString(f.path);
        auto it = rowsByRel.find(rel);
        QTreeWidgetItem* row = it != rowsByRel.end() ? it->second : addRow(rel, QString());
        row->setText(ColType, QString::fromStdString(f.type));
        row->setText(ColSize, f.status == "skipped" && f.bytes == 0 ? QString() : formatBytes(double(f.bytes)));
        row->setText(ColRecords, f.status == "skipped" ? QString() : formatCount(f.records));
        int secretsInFile = 0;
        QStringList kinds;
        for (const auto& [kind, n] : f.redactions) {
            secretsInFile += n;
            kinds << QStringLiteral("%1 \u00d7 %2").arg(n).arg(kindLabel(kind));
        }
        row->setText(ColSecrets, secretsInFile ? formatCount(secretsInFile) : QString());
        row->setToolTip(ColSecrets, kinds.join(QLatin1Char('\n')));
        QString reason = QString::fromStdString(f.reason);
        if (f.status == "partial" && reason.isEmpty() && !f.warnings.empty())
            reason = QString::fromStdString(f.warnings.front());
        setRowState(row, stateOf(f.status, f.reason), reason);
        if (!f.warnings.empty()) {
            QStringList w;
            for (const auto& x : f.warnings) w << QString::fromStdString(x);
            row->setToolTip(ColStatus, row->text(ColStatus) + QLatin1Char('\n') + w.join(QLatin1Char('\n')));
        }
    }

    const int listed = static_cast<int>(a.files.size());
    statDocuments->setText(DocumentsPane::tr("%1 read of %2 (%3 skipped)")
                               .arg(formatCount(a.filesRead), formatCount(listed), formatCount(a.skipped)));
    statRecords->setText(DocumentsPane::tr("%1 (%2 train, %3 held out; %4 instruction pairs)")
                             .arg(formatCount(a.records), formatCount(a.trainRecords), formatCount(a.evalRecords),
                                  formatCount(a.pairs)));
    statCharacters->setText(formatCount(a.characters));
    if (a.tokenizer.isEmpty()) {
        statTokens->setText(DocumentsPane::tr("\u2248 %1 (bytes / 4)").arg(formatCount(a.tokens)));
        statTokens->setToolTip(DocumentsPane::tr("Open a model with a tokenizer for exact counts"));
    } else {
        statTokens->setText(DocumentsPane::tr("%1 (tokenizer of %2)").arg(formatCount(a.tokens), a.tokenizer));
        statTokens->setToolTip(QString());
    }
    statDuplicates->setText(DocumentsPane::tr("%1 (%2 exact, %3 near)")
                                .arg(formatCount(a.exactDuplicates + a.nearDuplicates), formatCount(a.exactDuplicates),
                                     formatCount(a.nearDuplicates)));

    typeTable->setRowCount(static_cast<int>(a.types.size()));
    int r = 0;
    for (const auto& [type, c] : a.types) {
        const QString cells[] = {QString::fromStdString(type), formatCount(c.documents), formatCount(c.records),
                                 formatBytes(double(c.bytes))};
        for (int col = 0; col < 4; ++col) {
            auto* item = new QTableWidgetItem(cells[col]);
            if (col > 0) item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            typeTable->setItem(r, col, item);
        }
        ++r;
    }

    // The pre-flight report: per kind, and under each kind the files it was found in.
    secrets->clear();
    int total = 0;
    std::set<std::string> filesWithSecrets;
    for (const auto& [kind, n] : a.redactions) {
        total += n;
        auto* k = new QTreeWidgetItem(secrets, {kindLabel(kind), formatCount(n)});
        k->setToolTip(0, DocumentsPane::tr("rule: %1").arg(QString::fromStdString(kind)));
        k->setData(0, Qt::UserRole, QString::fromStdString(kind));
        k->setTextAlignment(1, Qt::AlignRight | Qt::AlignVCenter);
        for (const auto& f : a.files) {
            auto it = f.redactions.find(kind);
            if (it == f.redactions.end() || it->second == 0) continue;
            filesWithSecrets.insert(f.path);
            auto* c = new QTreeWidgetItem(k, {QString::fromStdString(f.path), formatCount(it->second)});
            c->setData(0, Qt::UserRole, QString::fromStdString(f.path));
            c->setTextAlignment(1, Qt::AlignRight | Qt::AlignVCenter);
        }
    }
    QString text = total == 0 ? DocumentsPane::tr("No secrets found.")
                              : DocumentsPane::tr("%1 secrets of %2 kinds in %3 files, each replaced by a placeholder.")
                                    .arg(formatCount(total))
                                    .arg(a.redactions.size())
                                    .arg(filesWithSecrets.size());
    for (const auto& [kind, n] : a.anonymized)
        text += DocumentsPane::tr(" %1 %2 anonymised.").arg(formatCount(n), kindLabel(kind));
    secretsTotal->setText(text);
    if (!secrets->topLevelItemCount()) return;
    secrets->expandToDepth(-1);
}

void DocumentsPane::Impl::onCurrentChanged(QTreeWidgetItem* item) {
    const quint64 gen = ++previewGeneration;
    if (!item) return;
    const QString rel = item->text(ColName);
    const QString path = item->data(ColName, PathRole).toString();
    previewRel = rel;
    const QString state = item->data(ColStatus, StateRole).toString();
    if (path.isEmpty() || state == stateName(State::Skipped) || state == stateName(State::Error)) {
        preview->clear();
        previewTitle->setText(QStringLiteral("%1 \u2014 %2").arg(rel, item->text(ColStatus)));
        return;
    }
    previewTitle->setText(DocumentsPane::tr("%1 \u2014 reading …").arg(rel));
    const Request r = request();
    qcw::DataOptions o = r.options();
    const std::string p = QDir::toNativeSeparators(path).toStdString();
    previewJobs.run([o, p](qcw::RunContext&) { return qcw::readDocument(p, o); },
                    [this, gen, rel](Outcome<qcw::DocumentReport> out) {
                        if (gen != previewGeneration) return;  // another document was selected since
                        if (!out.ok()) {
                            preview->clear();
                            previewTitle->setText(QStringLiteral("%1 \u2014 %2").arg(rel, out.error));
                            return;
                        }
                        if (out.value->skipped()) {  // changed on disk since it was listed
                            preview->clear();
                            previewTitle->setText(DocumentsPane::tr("%1 \u2014 skipped: %2")
                                                      .arg(rel, QString::fromStdString(out.value->reason)));
                            emit q->previewReady(rel);
                            return;
                        }
                        renderPreview(*out.value, rel);
                    });
}

void DocumentsPane::Impl::renderPreview(const qcw::DocumentReport& doc, const QString& rel) {
    preview->clear();
    QTextDocument* td = preview->document();
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
        f.setBackground(QColor(QLatin1String(anon ? kAnonymizedColor : kRedactionColor)));
        f.setForeground(QColor(Qt::black));
        f.setProperty(kRedactionKindProperty, QString::fromStdString(s.kind));
        f.setToolTip(anon ? DocumentsPane::tr("Anonymised %1 (rule: %2)").arg(kindLabel(s.kind), QString::fromStdString(s.kind))
                          : DocumentsPane::tr("Redacted %1 (rule: %2); the secret never leaves the scrubber")
                                .arg(kindLabel(s.kind), QString::fromStdString(s.kind)));
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
    preview->moveCursor(QTextCursor::End);  // scrolling back up puts the redaction near the top
    preview->setTextCursor(first);
    preview->ensureCursorVisible();
    if (first.position() > 0)
        if (QScrollBar* bar = preview->verticalScrollBar())
            bar->setValue(std::max(bar->minimum(), bar->value() - 4 * preview->fontMetrics().lineSpacing()));

    QString title = DocumentsPane::tr("%1 \u2014 %2, %3, %4 secrets redacted")
                        .arg(rel, QString::fromStdString(doc.type), formatBytes(double(doc.bytes)))
                        .arg(secretCount);
    if (anonCount) title += DocumentsPane::tr(", %1 values anonymised").arg(anonCount);
    if (limit < t.size()) title += DocumentsPane::tr(" (first %1 shown)").arg(formatBytes(double(limit)));
    previewTitle->setText(title);
    emit q->previewReady(rel);
}

}  // namespace qcw::ui
