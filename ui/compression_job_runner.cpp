#include "ui/compression_job_runner.h"

#include "ui/progress_feed.h"

namespace qcw::ui {

const char* const kAllocationStage = "allocation";

CompressionJobRunner::CompressionJobRunner(QObject* receiver) : receiver_(receiver) {}

CompressionJobRunner::~CompressionJobRunner() {
    if (feed_) feed_->close();
}

void CompressionJobRunner::start(qcw::CompressJobOptions options, BatchHandler onBatch, DoneHandler onDone) {
    const quint64 gen = ++generation_;
    running_ = true;
    // Every report of the worker reaches onBatch in order, in batches at most ~30 times a
    // second. A superseded or cancelled job's feed is closed.
    if (feed_) feed_->close();
    feed_ = ProgressFeed::create(receiver_, [this, gen, onBatch](const std::vector<qcw::Progress>& batch) {
        if (gen == generation_) onBatch(batch);
    });
    std::shared_ptr<ProgressFeed> feed = feed_;
    options.onAllocation = [feed](const std::map<std::string, int>& ranks, long long iteration) {
        qcw::Progress p;
        p.stage = kAllocationStage;
        p.step = iteration;
        for (const auto& [group, rank] : ranks) p.metrics[group] = rank;
        feed->push(p);
    };
    // The worker gets copies only: it never touches widgets.
    jobs_.run(
        [options = std::move(options), hooks = hooks, feed](qcw::RunContext& ctx) {
            ctx.setCallback(feed->callback());
            return qcw::runCompressJob(options, ctx, hooks);
        },
        [this, gen, feed, onDone](Outcome<qcw::CompressJobResult> result) {
            if (gen != generation_) return;  // cancelled or superseded
            running_ = false;
            feed->flushNow();  // the last reports are shown before the job is marked done
            onDone(std::move(result));
        });
}

void CompressionJobRunner::cancel() {
    jobs_.cancelAll();
    if (feed_) feed_->close();
    ++generation_;
    running_ = false;
}

}  // namespace qcw::ui
