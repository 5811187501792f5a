#pragma once
// Slots and a bounded queue in front of them, and the server's Prometheus metrics.
// Plain C++ (no sockets, no torch), so both are tested directly.
#include <array>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace qcw::serve {

// `slots` requests run at once; up to `queue` more wait for a slot; beyond that, enter()
// refuses at once (the server answers 429 with Retry-After).
class Admission {
public:
    Admission(int slots, int queue);

    class Ticket {
    public:
        explicit Ticket(Admission& a) : a_(a) {}
        ~Ticket() { a_.release(); }
        Ticket(const Ticket&) = delete;
        Ticket& operator=(const Ticket&) = delete;

    private:
        Admission& a_;
    };

    // A slot (after waiting in the queue when all are busy), or nullptr when the queue is full
    // or the admission was closed while waiting.
    std::unique_ptr<Ticket> enter();
    // Wakes every waiter with nullptr and refuses new ones (shutdown).
    void close();

    int slots() const { return slots_; }
    int queueCapacity() const { return queue_; }
    int busy() const;
    int waiting() const;

private:
    void release();
    const int slots_, queue_;
    mutable std::mutex m_;
    std::condition_variable cv_;
    int busy_ = 0, waiting_ = 0;
    bool closed_ = false;
};

// A Prometheus histogram with fixed upper bounds (cumulative buckets, +Inf, sum, count).
class Histogram {
public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double v);
    // Lines "name_bucket{le=...} n", "name_sum", "name_count".
    std::string render(const std::string& name) const;
    std::uint64_t count() const;

private:
    std::vector<double> bounds_;
    std::vector<std::uint64_t> counts_;  // per bucket, non-cumulative; last = above every bound
    double sum_ = 0;
    std::uint64_t n_ = 0;
    mutable std::mutex m_;
};

// Everything /metrics shows. Thread-safe.
class Metrics {
public:
    Metrics();
    // One finished request: its route ("chat", "completions", "models", ...) and HTTP status.
    void request(const std::string& route, int status);
    void tokens(const std::string& model, std::int64_t prompt, std::int64_t completion);
    void timeToFirstToken(double seconds);
    void decodeRate(double tokensPerSecond);
    void disconnected();
    // Prometheus text format 0.0.4; gauges read from `admission`.
    std::string render(const Admission& admission) const;

    std::uint64_t requestCount(const std::string& route, int status) const;
    std::uint64_t disconnects() const;

private:
    mutable std::mutex m_;
    std::map<std::pair<std::string, int>, std::uint64_t> requests_;
    std::map<std::string, std::pair<std::int64_t, std::int64_t>> tokens_;  // model -> prompt, completion
    std::uint64_t disconnects_ = 0;
    Histogram ttft_, rate_;
};

}  // namespace qcw::serve
