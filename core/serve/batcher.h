#pragma once
// Continuous batching: the requests of one model decode together, one batched step for all of
// them; a request joins the running batch between two steps (after its own prefill) and leaves
// it as soon as it ends (end-of-text, its token budget, or its caller saying stop), so a slot
// is never held for the whole batch. Plain-data interface; the torch side is in batcher.cpp.
//
// How the rows share one static cache: every row writes its keys and values at the same slot
// `s`, each row's own positions and attention mask say which cache entries are its own. A new
// row's prompt is prefilled alone and copied in just before `s` (the batch is shifted right
// when `s` is smaller than the prompt); when `s` reaches the capacity, every row is shifted
// left by the earliest row's start. Rows never attend to each other's entries.
#include "model/engine.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace qcw::serve {

class ContinuousBatcher {
public:
    // Up to `maxRows` requests in one step. The engine must outlive the batcher and must not
    // generate through other paths meanwhile.
    ContinuousBatcher(const Engine& engine, int maxRows);
    ~ContinuousBatcher();
    ContinuousBatcher(const ContinuousBatcher&) = delete;
    ContinuousBatcher& operator=(const ContinuousBatcher&) = delete;

    // Generates for one prompt in the shared batch; blocks until it ends. `onToken` runs on
    // the caller's thread for every new token, in order; returning false ends this request
    // (its row leaves the batch before the next step). Same options and the same sampling
    // stream as Engine::generate for one prompt (row 0's seed). Throws on a bad prompt or
    // when the batch failed, and qcw::Cancelled after stop().
    void run(const std::vector<std::int64_t>& prompt, const GenerateOptions& opts,
             const std::function<bool(std::int64_t)>& onToken);

    // Ends every running and waiting request (they throw qcw::Cancelled) and the thread.
    void stop();

    // Steps taken and the rows they carried, for metrics and tests.
    std::int64_t steps() const;
    std::int64_t rowSteps() const;
    int maxRowsSeen() const;
    // Times the batch was shifted right to make room for a longer prompt, and shifted left
    // because the shared slot reached the context's end.
    std::int64_t rightShifts() const;
    std::int64_t compactions() const;
    // Tests: requests waiting for a row, and a function the batch thread calls after each step
    // with the steps taken so far (set before the first request; it may block the batch thread
    // to make a join land at a chosen step).
    int pendingCount() const;
    void setAfterStepForTest(std::function<void(std::int64_t)> hook);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace qcw::serve
