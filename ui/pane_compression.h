#pragma once
// The compression pane: pick how much of the open model to keep, the method and the rank
// solver, search ranks (live plot of the solver's energy, heatmap of its current ranks) and
// compress into a new snapshot (per-layer table and summary, and the spectrum of a chosen layer
// before and after). Searching and compressing is the compression job of decompose/compress_job.h
// (the one `qcompress compress` runs), on a background thread (compression_job_runner.h); the
// worker's progress reaches the GUI in batches, at most ~30 times a second (progress_feed.h).
// The pane wires its widgets: compression_controls (settings, buttons, the job's options),
// rank_override_table, search_plot, rank_heatmap, spectrum_compare and compression_results.
#include "ui/pane.h"

#include "common/run_context.h"
#include "decompose/compress_api.h"
#include "decompose/compress_job.h"
#include "decompose/rank_search.h"

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace qcw::ui {

class CompressionPane : public Pane {
    Q_OBJECT
public:
    // The two core entry points, replaceable (tests slow them down to exercise cancellation).
    // Both run on a worker thread and may throw qcw::Error.
    using SearchFn = std::function<qcw::RankSearchResult(const std::string& modelDir, const qcw::RankSearchOptions&,
                                                         qcw::RunContext&)>;
    using CompressFn = std::function<qcw::CompressionReport(const std::string& modelDir, const std::string& outDir,
                                                            const qcw::CompressOptions&, qcw::RunContext&,
                                                            bool replace)>;

    CompressionPane(const PaneContext& context, QWidget* parent = nullptr);
    ~CompressionPane() override;

    void setSearchFunction(SearchFn fn);      // default: qcw::searchRanks
    void setCompressFunction(CompressFn fn);  // default: qcw::compressModelDir

    void saveSettings(QSettings& settings) const override;
    void restoreSettings(QSettings& settings) override;

    // Per-layer rank overrides (per-matrix methods: SVD, activation-aware SVD, tensor train,
    // plugins): `layer` is a compressible tensor name without ".weight". The overridden layers
    // get these ranks; the others keep their searched or uniform ranks, so the total moves.
    // Returns false (and changes nothing) for an unknown layer or a rank outside [1, min(m, n)].
    bool setRankOverride(const QString& layer, int rank);
    void clearRankOverrides();
    std::map<std::string, int> rankOverrides() const;

    // The last compression's layer whose spectra are shown (or being computed) in the "Spectrum
    // before / after" tab; empty when none.
    QString comparedLayer() const;

    // The compression job the settings describe now (what startSearch / startCompression run).
    qcw::CompressJobOptions jobOptions(bool withCompression) const;

    bool isBusy() const;
    QString lastError() const;  // of the last job, empty when it succeeded or was cancelled

public slots:
    // The same as the buttons. startCompression() asks before replacing a non-empty output
    // folder (window-modal, asynchronous) unless `confirmReplace` is false.
    void startSearch();
    void startCompression(bool confirmReplace = true);
    void cancel();
    // Compares the singular values of one layer of the last compression (a name in the results
    // table) in the original and in the compressed snapshot, computed on a worker thread;
    // selecting a row of the table does the same. Nothing happens while a job runs.
    void compareSpectra(const QString& layer);

signals:
    void busyChanged(bool busy);
    // A job ended: ok, failed (message) or cancelled.
    void jobFinished(bool ok, const QString& message);
    // compareSpectra's result is shown (ok) or its error is.
    void comparisonReady(const QString& layer, bool ok);

private:
    struct Impl;
    std::unique_ptr<Impl> d;
};

}  // namespace qcw::ui
