#pragma once
// Progress from a worker that reports often (every training step), batched for the GUI.
// Jobs::run posts one queued call per report, which floods the event loop at thousands of
// reports a second; a ProgressFeed keeps the reports (up to a cap: beyond it the newest
// overwrites the last kept one) and posts one flush at a time to its receiver, at most about
// 30 times a second. The handler runs on the receiver's thread with every report since the
// last flush, in order.
//
// Lifetime: the worker holds the feed through a shared_ptr; queued flushes die with the
// receiver. close() (GUI thread) stops further delivery, e.g. when a job is superseded.
#include "common/run_context.h"

#include <QElapsedTimer>
#include <QMetaObject>
#include <QObject>
#include <QTimer>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace qcw::ui {

class ProgressFeed : public std::enable_shared_from_this<ProgressFeed> {
public:
    using Handler = std::function<void(const std::vector<qcw::Progress>&)>;

    static std::shared_ptr<ProgressFeed> create(QObject* receiver, Handler handler, int minIntervalMs = 33,
                                                std::size_t cap = 4096) {
        return std::shared_ptr<ProgressFeed>(new ProgressFeed(receiver, std::move(handler), minIntervalMs, cap));
    }

    // Any thread.
    void push(const qcw::Progress& p) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (closed_) return;
            if (buffer_.size() < cap_) buffer_.push_back(p);
            else buffer_.back() = p;
        }
        if (pending_.exchange(true)) return;
        auto self = shared_from_this();
        QMetaObject::invokeMethod(receiver_, [self] { self->flush(false); }, Qt::QueuedConnection);
    }
    // A RunContext callback that pushes into this feed.
    qcw::RunContext::Callback callback() {
        auto self = shared_from_this();
        return [self](const qcw::Progress& p) { self->push(p); };
    }

    // GUI thread: deliver what is buffered now (e.g. when the job has finished).
    void flushNow() { flush(true); }
    // GUI thread: drop what is buffered and deliver nothing more.
    void close() {
        std::lock_guard<std::mutex> lock(mutex_);
        closed_ = true;
        buffer_.clear();
    }

private:
    ProgressFeed(QObject* receiver, Handler handler, int minIntervalMs, std::size_t cap)
        : receiver_(receiver), handler_(std::move(handler)), minIntervalMs_(minIntervalMs), cap_(cap) {}

    void flush(bool force) {
        if (!force && sinceFlush_.isValid() && sinceFlush_.elapsed() < minIntervalMs_) {
            auto self = shared_from_this();
            const int wait = minIntervalMs_ - static_cast<int>(sinceFlush_.elapsed());
            QTimer::singleShot(wait, receiver_, [self] { self->flush(false); });
            return;  // pending stays set: the worker posts nothing until this flush runs
        }
        std::vector<qcw::Progress> batch;
        bool closed;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            batch.swap(buffer_);
            closed = closed_;
            pending_.store(false);
        }
        sinceFlush_.start();
        if (!closed && !batch.empty() && handler_) handler_(batch);
    }

    QObject* receiver_;
    Handler handler_;
    int minIntervalMs_;
    std::size_t cap_;
    std::mutex mutex_;
    std::vector<qcw::Progress> buffer_;
    bool closed_ = false;
    std::atomic<bool> pending_{false};
    QElapsedTimer sinceFlush_;  // GUI thread only
};

}  // namespace qcw::ui
