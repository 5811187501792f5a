#pragma once
// The documents pane's preview: one document's scrubbed text (the first 256 KiB), read on a
// worker thread, with every redaction highlighted (the placeholder, never the secret; a tooltip
// names the rule) and scrolled to the first one.
#include <QWidget>

#include <memory>

class QLabel;
class QTextBrowser;

namespace qcw {
struct DataOptions;
struct DocumentReport;
}  // namespace qcw

namespace qcw::ui {

class Jobs;

class DocumentPreview : public QWidget {
    Q_OBJECT
public:
    explicit DocumentPreview(QWidget* parent = nullptr);
    ~DocumentPreview() override;

    // Reads `path` with `options` in the background and shows it as `rel`; previewReady follows
    // (also when the file is skipped now; not when it cannot be read).
    void showDocument(const QString& rel, const QString& path, const qcw::DataOptions& options);
    // No text, the title "rel — note" (a document that was skipped or failed).
    void showNote(const QString& rel, const QString& note);
    // Drops a reading still running (another selection, or none).
    void drop();

signals:
    void previewReady(const QString& rel);

private:
    void render(const qcw::DocumentReport& doc, const QString& rel);

    QLabel* title_ = nullptr;
    QTextBrowser* text_ = nullptr;
    quint64 generation_ = 0;
    std::unique_ptr<Jobs> jobs_;  // last: destroyed (cancelled and waited for) first
};

}  // namespace qcw::ui
