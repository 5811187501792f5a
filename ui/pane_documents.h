#pragma once
// The documents pane: corporate documents in, a scrubbed training dataset out. Files and
// folders are dropped on the pane (or added with its buttons); the core lists them (queued),
// reads and scrubs them on a background thread (each row turns read, skipped or error with
// the reason), and the pane shows the dataset statistics and the pre-flight report of the
// secrets found, per kind and per file. Selecting a document previews its scrubbed text with
// every redaction highlighted (the placeholder, never the secret; a tooltip names the rule).
// "Build dataset…" writes the dataset folder with the core's writer (atomic; the documents
// are only ever read). The pane wires its parts: DocumentsOptionsBar, DocumentList,
// DocumentPreview, DatasetReport and the background job (documents_job.h).
#include "ui/pane.h"

#include <QStringList>

#include <functional>
#include <memory>
#include <string>
#include <vector>

class QMimeData;

namespace qcw {
struct DataOptions;
struct DatasetBuildResult;
class RunContext;
}  // namespace qcw

namespace qcw::ui {

class DocumentsPane : public Pane {
    Q_OBJECT
public:
    // The core's dataset build, replaceable (tests slow it down to exercise cancellation).
    // Runs on a worker thread; may throw qcw::Error or qcw::Cancelled.
    using BuildFn = std::function<qcw::DatasetBuildResult(const std::vector<std::string>& inputs,
                                                          const qcw::DataOptions& options, qcw::RunContext& ctx)>;

    // Colours of the preview's highlights.
    static const char* const kRedactionColor;     // secrets
    static const char* const kAnonymizedColor;    // IP and e-mail placeholders

    DocumentsPane(const PaneContext& context, QWidget* parent = nullptr);
    ~DocumentsPane() override;

    void setBuildFunction(BuildFn fn);  // default: qcw::buildDataset

    void saveSettings(QSettings& settings) const override;
    void restoreSettings(QSettings& settings) override;

    QStringList inputs() const;  // the files and folders added, absolute
    void setExcludePatterns(const QStringList& globs);  // on the relative path or the file name
    QStringList excludePatterns() const;
    bool isBusy() const;
    QString lastError() const;  // of the last action; empty when it succeeded or was cancelled

    // The local files and folders a drop of `mime` carries.
    static QStringList pathsFromMime(const QMimeData* mime);

public slots:
    // Adds files and folders (what a drop does) and reads everything again in the background.
    void addPaths(const QStringList& paths);
    void clear();
    void cancel();
    // Selects the document whose relative path (the Name column) is `relPath`; the preview
    // follows in the background. False when no such row.
    bool showDocument(const QString& relPath);
    // Builds the dataset into `outDir` (a new or empty folder, or an earlier dataset, which is
    // replaced). What "Build dataset…" does after its folder dialog.
    void buildDataset(const QString& outDir);
    void addFilesDialog();
    void addFolderDialog();
    void buildDatasetDialog();

signals:
    void busyChanged(bool busy);
    // The list, the statistics and the secrets report are complete (ok), or the reading
    // failed (message) or was cancelled.
    void readingFinished(bool ok, const QString& message);
    void previewReady(const QString& relPath);
    // "Build dataset": ok and the folder written, or the one-line reason.
    void datasetWritten(bool ok, const QString& dirOrMessage);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dragMoveEvent(QDragMoveEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

}  // namespace qcw::ui
