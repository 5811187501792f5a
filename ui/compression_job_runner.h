#pragma once
// Runs the compression job (decompose/compress_job.h, the same job as `qcompress compress`)
// on a worker thread for the compression pane. The worker's progress reaches the GUI thread in
// batches, at most ~30 times a second (progress_feed.h), among them entries of stage
// kAllocationStage that carry the solver's current allocation (group -> rank in the metrics).
// A new start() or cancel() drops the previous job's reports and result.
#include "ui/async.h"

#include "decompose/compress_job.h"

#include <QObject>

#include <functional>
#include <memory>
#include <vector>

namespace qcw::ui {

class ProgressFeed;

// The stage of the feed's entries that carry the solver's current allocation; the runner makes
// them, they never reach the core's progress.
extern const char* const kAllocationStage;

class CompressionJobRunner {
public:
    using BatchHandler = std::function<void(const std::vector<qcw::Progress>&)>;
    using DoneHandler = std::function<void(Outcome<qcw::CompressJobResult>)>;

    // Handlers run on `receiver`'s thread (the GUI thread).
    explicit CompressionJobRunner(QObject* receiver);
    ~CompressionJobRunner();

    // The core entry points the job calls (empty: qcw::searchRanks, qcw::compressModelDir).
    qcw::CompressJobHooks hooks;

    // Starts `options` (its onAllocation is the runner's). `onBatch` gets every report in order,
    // the last ones before `onDone`.
    void start(qcw::CompressJobOptions options, BatchHandler onBatch, DoneHandler onDone);
    // The worker stops at its next check; nothing more of it is delivered.
    void cancel();
    bool isRunning() const { return running_; }

private:
    QObject* receiver_;
    std::shared_ptr<ProgressFeed> feed_;
    quint64 generation_ = 0;
    bool running_ = false;
    Jobs jobs_;  // last: destroyed (cancelled and waited for) first
};

}  // namespace qcw::ui
