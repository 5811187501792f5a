#pragma once
// The model pane's ways in and out beside File › Open: HubPanel lists the Phi models in the
// Hugging Face cache (HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub) and opens one,
// opens a hub id typed as ORG/NAME[@REV] from the cache, or downloads it (qcw::hub::pull on a
// worker, bytes and ETA in a progress bar, cancellable). GgufExportButton writes the open
// model as GGUF (qcw::exportGguf) for llama.cpp, Ollama and LM Studio.
#include <QWidget>

#include <memory>

namespace qcw::ui {

class ModelSession;

class HubPanel : public QWidget {
    Q_OBJECT
public:
    explicit HubPanel(ModelSession* session, QWidget* parent = nullptr);
    ~HubPanel() override;

    // Re-reads the cache folder.
    void refresh();
    // Opens a cached ORG/NAME[@REV], or starts its download; a folder path opens as is.
    void openOrDownload(const QString& idOrPath);
    void download(const QString& id);
    void cancel();
    bool busy() const;
    QString status() const;  // the last line shown under the list

signals:
    void downloadFinished(bool ok, const QString& snapshotOrError);

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

class GgufExportButton : public QWidget {
    Q_OBJECT
public:
    explicit GgufExportButton(ModelSession* session, QWidget* parent = nullptr);
    ~GgufExportButton() override;
    // Exports the open model to `path` as `type` (f32, f16, q8_0, q4_0) without a dialog.
    void exportTo(const QString& path, const QString& type);
    bool busy() const;

signals:
    void exportFinished(bool ok, const QString& pathOrError);

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

}  // namespace qcw::ui
