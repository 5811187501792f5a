#pragma once
// The model the workbench has open, shared by every pane. Opening reads the snapshot's
// inventory on a background thread (see async.h); panes listen to the signals and read the
// plain-data summary. Only the latest open() counts: an earlier load still running is
// cancelled and its result dropped.
#include "io/inventory.h"

#include <QObject>
#include <QString>

#include <functional>
#include <memory>
#include <string>

namespace qcw::ui {

class ModelSession : public QObject {
    Q_OBJECT
public:
    // Reads a model directory; throws (qcw::Error) with a one-line message on failure.
    // Runs on a worker thread.
    using Loader = std::function<qcw::ModelSummary(const std::string& dir)>;

    explicit ModelSession(QObject* parent = nullptr);
    ~ModelSession() override;

    // Replaces the loader (default: qcw::inspectModel); tests use it to slow loading down.
    void setLoader(Loader loader);

    // Starts loading `path` (a model directory, or a file inside one). Returns at once.
    void open(const QString& path);
    // Loads the current directory again.
    void reload();

    bool isLoading() const;
    QString loadingDirectory() const;  // the directory being loaded, empty when idle
    bool hasModel() const;
    QString directory() const;         // of the model shown, empty when none
    // The summary of the open model; null when none. Shared so a pane may keep it.
    std::shared_ptr<const qcw::ModelSummary> model() const;
    QString lastError() const;

    // A file inside a model directory stands for the directory; the result is absolute.
    static QString normalizeModelPath(const QString& path);

signals:
    void loadingChanged(bool loading);
    void loadStarted(const QString& dir);
    void modelLoaded(const QString& dir);
    void loadFailed(const QString& dir, const QString& message);

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

}  // namespace qcw::ui
