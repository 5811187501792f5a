#pragma once
// The one small context every long operation takes: a progress callback and a
// cancellation flag checked between steps. The CLI prints it, the UI turns it into Qt
// signals; core never knows who is watching.
#include <atomic>
#include <functional>
#include <map>
#include <string>

namespace qcw {

struct Progress {
    std::string stage;                     // e.g. "load", "compress", "train"
    long long step = 0;
    long long total = 0;                   // 0 when unknown
    std::map<std::string, double> metrics; // named numbers: loss, energy, tok/s ...
    std::string message;                   // optional human-readable detail
};

class RunContext {
public:
    using Callback = std::function<void(const Progress&)>;

    RunContext() = default;
    explicit RunContext(Callback cb) : callback_(std::move(cb)) {}

    void report(const Progress& p) const {
        if (callback_) callback_(p);
    }
    void report(const std::string& stage, long long step, long long total,
                std::map<std::string, double> metrics = {}, std::string message = {}) const {
        if (!callback_) return;
        Progress p;
        p.stage = stage;
        p.step = step;
        p.total = total;
        p.metrics = std::move(metrics);
        p.message = std::move(message);
        callback_(p);
    }

    void cancel() { cancelled_.store(true); }
    bool isCancelled() const { return cancelled_.load(); }
    // Throws qcw::Cancelled when cancellation was requested.
    void checkCancelled() const;

    void setCallback(Callback cb) { callback_ = std::move(cb); }

    // A context that reports nothing and is never cancelled.
    static RunContext& none();

private:
    Callback callback_;
    std::atomic<bool> cancelled_{false};
};

}  // namespace qcw
