#pragma once
// Background work for widgets, through one helper. A widget (or any QObject living on the GUI
// thread) owns a Jobs; Jobs::run puts a function on Qt's global thread pool and calls the
// owner back on the owner's thread with the result, or with the one-line reason there is none.
// Workers never touch widgets: they see a qcw::RunContext (progress + cancellation) only.
//
// Lifetime: the Jobs destructor cancels every job still running, waits for it, and drops its
// callbacks, so a callback never reaches an owner that is being destroyed. Declare the Jobs
// after the state its callbacks use (members are destroyed in reverse order).
#include "common/error.h"
#include "common/run_context.h"

#include <QFuture>
#include <QFutureWatcher>
#include <QObject>
#include <QString>
#include <QtConcurrent/QtConcurrentRun>

#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

namespace qcw::ui {

// What a background job hands back.
template <typename T>
struct Outcome {
    std::optional<T> value;  // set on success
    QString error;           // one line; set when the work threw
    bool cancelled = false;  // the job was cancelled (its value, if any, is stale)
    bool ok() const { return value.has_value() && !cancelled; }
};

class Jobs {
public:
    using ProgressFn = std::function<void(const qcw::Progress&)>;

    // Callbacks run on the thread that constructs the Jobs (the owner's thread).
    Jobs() : receiver_(std::make_unique<QObject>()) {}
    ~Jobs() {
        cancelAll();
        waitAll();
        // Deleting the receiver deletes the watchers and discards queued callbacks.
        receiver_.reset();
    }
    Jobs(const Jobs&) = delete;
    Jobs& operator=(const Jobs&) = delete;

    // Runs `work(qcw::RunContext&)` on the thread pool. `done(Outcome<T>)` runs later on the
    // owner's thread; `progress(const qcw::Progress&)` too, for every ctx.report() the work
    // makes. Exceptions thrown by `work` become Outcome::error (qcw::Cancelled becomes
    // Outcome::cancelled). Returns the future, for callers that want to wait.
    template <typename Work, typename Done>
    auto run(Work work, Done done, ProgressFn progress = {}) {
        using T = std::decay_t<std::invoke_result_t<Work&, qcw::RunContext&>>;
        auto ctx = std::make_shared<qcw::RunContext>();
        if (progress) {
            QObject* receiver = receiver_.get();
            ctx->setCallback([receiver, progress](const qcw::Progress& p) {
                // The receiver outlives every running job (see the destructor).
                QMetaObject::invokeMethod(receiver, [progress, p] { progress(p); }, Qt::QueuedConnection);
            });
        }
        QFuture<Outcome<T>> future = QtConcurrent::run([work = std::move(work), ctx]() mutable {
            Outcome<T> out;
            try {
                out.value.emplace(work(*ctx));
            } catch (const qcw::Cancelled&) {
                out.cancelled = true;
            } catch (const std::exception& e) {
                out.error = QString::fromStdString(qcw::oneLine(e.what()));
            } catch (...) {
                out.error = QStringLiteral("unknown error");
            }
            return out;
        });
        auto it = running_.insert(running_.end(), Entry{ctx, [future]() mutable { future.waitForFinished(); }});
        auto* watcher = new QFutureWatcher<Outcome<T>>(receiver_.get());
        QObject::connect(watcher, &QFutureWatcherBase::finished, receiver_.get(),
                         [this, watcher, it, ctx, done = std::move(done)]() mutable {
                             Outcome<T> out = watcher->result();
                             if (ctx->isCancelled()) out.cancelled = true;
                             running_.erase(it);
                             watcher->deleteLater();
                             done(std::move(out));
                         });
        watcher->setFuture(future);
        return future;
    }

    // Asks every running job to stop; their callbacks still come, marked cancelled.
    void cancelAll() {
        for (auto& e : running_) e.ctx->cancel();
    }
    // Blocks until every job started so far has returned (callbacks are not run here).
    void waitAll() {
        for (auto& e : running_) e.wait();
    }
    int running() const { return static_cast<int>(running_.size()); }

private:
    struct Entry {
        std::shared_ptr<qcw::RunContext> ctx;
        std::function<void()> wait;
    };
    std::list<Entry> running_;  // list: iterators stay valid for the watchers' erase
    std::unique_ptr<QObject> receiver_;
};

}  // namespace qcw::ui
