#include "serve/scheduler.h"

#include <algorithm>
#include <sstream>

namespace qcw::serve {

Admission::Admission(int slots, int queue) : slots_(std::max(1, slots)), queue_(std::max(0, queue)) {}

std::unique_ptr<Admission::Ticket> Admission::enter() {
    std::unique_lock<std::mutex> lock(m_);
    if (closed_) return nullptr;
    if (busy_ < slots_ && waiting_ == 0) {
        ++busy_;
        return std::make_unique<Ticket>(*this);
    }
    if (waiting_ >= queue_) return nullptr;
    ++waiting_;
    cv_.wait(lock, [&] { return closed_ || busy_ < slots_; });
    --waiting_;
    if (closed_) {
        cv_.notify_all();
        return nullptr;
    }
    ++busy_;
    return std::make_unique<Ticket>(*this);
}

void Admission::release() {
    {
        std::lock_guard<std::mutex> lock(m_);
        --busy_;
    }
    cv_.notify_one();
}

void Admission::close() {
    {
        std::lock_guard<std::mutex> lock(m_);
        closed_ = true;
    }
    cv_.notify_all();
}

int Admission::busy() const {
    std::lock_guard<std::mutex> lock(m_);
    return busy_;
}

int Admission::waiting() const {
    std::lock_guard<std::mutex> lock(m_);
    return waiting_;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
    std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double v) {
    std::lock_guard<std::mutex> lock(m_);
    const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    ++counts_[i];
    sum_ += v;
    ++n_;
}

std::uint64_t Histogram::count() const {
    std::lock_guard<std::mutex> lock(m_);
    return n_;
}

std::string Histogram::render(const std::string& name) const {
    std::lock_guard<std::mutex> lock(m_);
    std::ostringstream o;
    std::uint64_t acc = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        acc += counts_[i];
        o << name << "_bucket{le=\"" << bounds_[i] << "\"} " << acc << "\n";
    }
    acc += counts_.back();
    o << name << "_bucket{le=\"+Inf\"} " << acc << "\n";
    o << name << "_sum " << sum_ << "\n";
    o << name << "_count " << n_ << "\n";
    return o.str();
}

Metrics::Metrics()
    : ttft_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}),
      rate_({1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}) {}

void Metrics::request(const std::string& route, int status) {
    std::lock_guard<std::mutex> lock(m_);
    ++requests_[{route, status}];
}

void Metrics::tokens(const std::string& model, std::int64_t prompt, std::int64_t completion) {
    std::lock_guard<std::mutex> lock(m_);
    auto& t = tokens_[model];
    t.first += prompt;
    t.second += completion;
}

void Metrics::timeToFirstToken(double s) { ttft_.observe(s); }
void Metrics::decodeRate(double r) { rate_.observe(r); }

void Metrics::disconnected() {
    std::lock_guard<std::mutex> lock(m_);
    ++disconnects_;
}

std::uint64_t Metrics::requestCount(const std::string& route, int status) const {
    std::lock_guard<std::mutex> lock(m_);
    auto it = requests_.find({route, status});
    return it == requests_.end() ? 0 : it->second;
}

std::uint64_t Metrics::disconnects() const {
    std::lock_guard<std::mutex> lock(m_);
    return disconnects_;
}

std::string Metrics::render(const Admission& a) const {
    std::ostringstream o;
    {
        std::lock_guard<std::mutex> lock(m_);
        o << "# HELP qcw_requests_total HTTP requests answered, by route and status code.\n"
          << "# TYPE qcw_requests_total counter\n";
        for (const auto& [k, n] : requests_)
            o << "qcw_requests_total{route=\"" << k.first << "\",code=\"" << k.second << "\"} " << n << "\n";
        o << "# HELP qcw_prompt_tokens_total Prompt tokens read, by model.\n# TYPE qcw_prompt_tokens_total counter\n";
        for (const auto& [m, t] : tokens_) o << "qcw_prompt_tokens_total{model=\"" << m << "\"} " << t.first << "\n";
        o << "# HELP qcw_completion_tokens_total Tokens generated, by model.\n"
          << "# TYPE qcw_completion_tokens_total counter\n";
        for (const auto& [m, t] : tokens_) o << "qcw_completion_tokens_total{model=\"" << m << "\"} " << t.second << "\n";
        o << "# HELP qcw_client_disconnects_total Streams whose client went away before the end; their generation stopped.\n"
          << "# TYPE qcw_client_disconnects_total counter\nqcw_client_disconnects_total " << disconnects_ << "\n";
    }
    o << "# HELP qcw_time_to_first_token_seconds From the request's arrival to its first generated token.\n"
      << "# TYPE qcw_time_to_first_token_seconds histogram\n"
      << ttft_.render("qcw_time_to_first_token_seconds");
    o << "# HELP qcw_decode_tokens_per_second Decode rate of each finished request after its first token.\n"
      << "# TYPE qcw_decode_tokens_per_second histogram\n"
      << rate_.render("qcw_decode_tokens_per_second");
    o << "# HELP qcw_queue_length Requests waiting for a slot.\n# TYPE qcw_queue_length gauge\nqcw_queue_length "
      << a.waiting() << "\n";
    o << "# HELP qcw_busy_slots Slots generating now.\n# TYPE qcw_busy_slots gauge\nqcw_busy_slots " << a.busy() << "\n";
    o << "# HELP qcw_slots Slots (--parallel).\n# TYPE qcw_slots gauge\nqcw_slots " << a.slots() << "\n";
    o << "# HELP qcw_queue_capacity Queue places (--queue).\n# TYPE qcw_queue_capacity gauge\nqcw_queue_capacity "
      << a.queueCapacity() << "\n";
    return o.str();
}

}  // namespace qcw::serve
