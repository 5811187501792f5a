#include "kernels/linear.h"
#include "kernels/pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QCW_PAUSE() _mm_pause()
#else
#define QCW_PAUSE() std::this_thread::yield()
#endif

namespace qcw::kernels {

namespace {

// next_ holds (call generation << 32) | next unclaimed chunk. A thread claims a chunk with a
// compare-and-swap that also checks the generation, so a worker that wakes after its call has
// ended finds nothing to claim and never touches the finished call's data.
class Pool {
public:
    void resize(int n) {
        std::lock_guard<std::mutex> busy(callMutex_);
        if (n < 1) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        if (n == size_) return;
        stop();
        size_ = n;
        quit_ = false;
        for (int t = 1; t < n; ++t) workers_.emplace_back([this] { work(); });
    }
    int size() const { return size_; }

    void run(std::int64_t chunks, const std::function<void(std::int64_t)>& fn) {
        if (chunks <= 0) return;
        std::unique_lock<std::mutex> busy(callMutex_, std::try_to_lock);
        if (!busy.owns_lock() || size_ == 1 || chunks == 1 || inWorker_) {
            for (std::int64_t c = 0; c < chunks; ++c) fn(c);
            return;
        }
        const std::uint64_t gen = ++generation_;
        job_.store(&fn, std::memory_order_relaxed);
        chunks_.store(chunks, std::memory_order_relaxed);
        done_.store(0, std::memory_order_relaxed);
        next_.store(gen << 32, std::memory_order_release);
        if (sleepers_.load(std::memory_order_acquire) > 0) {
            std::lock_guard<std::mutex> lk(sleepMutex_);
            wake_.notify_all();
        }
        drain(gen);
        while (done_.load(std::memory_order_acquire) != chunks) QCW_PAUSE();
    }

private:
    // Claims and runs chunks of call `gen` until none is left.
    void drain(std::uint64_t gen) {
        for (;;) {
            std::uint64_t v = next_.load(std::memory_order_acquire);
            if ((v >> 32) != gen) return;
            const std::int64_t c = static_cast<std::int64_t>(v & 0xffffffffu);
            if (c >= chunks_.load(std::memory_order_relaxed)) return;
            if (!next_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel)) continue;
            (*job_.load(std::memory_order_acquire))(c);
            done_.fetch_add(1, std::memory_order_acq_rel);
        }
    }

    void work() {
        inWorker_ = true;
        std::uint64_t seen = next_.load() >> 32;
        for (;;) {
            // Spin a little: the next linear map of a decode step follows within microseconds.
            const auto until = std::chrono::steady_clock::now() + spin_;
            std::uint64_t gen;
            int k = 0;
            while ((gen = next_.load(std::memory_order_acquire) >> 32) == seen && !quit_.load(std::memory_order_relaxed)) {
                QCW_PAUSE();
                if ((++k & 63) == 0 && std::chrono::steady_clock::now() > until) {
                    std::unique_lock<std::mutex> lk(sleepMutex_);
                    sleepers_.fetch_add(1);
                    wake_.wait(lk, [&] { return (next_.load() >> 32) != seen || quit_.load(); });
                    sleepers_.fetch_sub(1);
                }
            }
            if (quit_.load()) return;
            seen = gen;
            drain(gen);
        }
    }

    void stop() {
        {
            std::lock_guard<std::mutex> lk(sleepMutex_);
            quit_ = true;
            wake_.notify_all();
        }
        for (auto& w : workers_) w.join();
        workers_.clear();
        size_ = 1;
    }

    static std::chrono::microseconds spinTime() {
        const char* env = std::getenv("QCW_KERNEL_SPIN_US");
        return std::chrono::microseconds(env ? std::atoi(env) : 100);
    }

    std::mutex callMutex_, sleepMutex_;
    std::condition_variable wake_;
    std::vector<std::thread> workers_;
    std::atomic<std::uint64_t> next_{0};
    std::atomic<std::int64_t> done_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> quit_{false};
    std::uint64_t generation_ = 0;
    std::atomic<const std::function<void(std::int64_t)>*> job_{nullptr};
    std::atomic<std::int64_t> chunks_{0};
    int size_ = 1;
    std::chrono::microseconds spin_ = spinTime();
    static thread_local bool inWorker_;
};
thread_local bool Pool::inWorker_ = false;

Pool& pool() {
    static Pool* p = [] {
        auto* q = new Pool();  // never destroyed: workers may still sleep at exit
        q->resize(0);
        return q;
    }();
    return *p;
}

}  // namespace

void parallelChunks(std::int64_t chunks, const std::function<void(std::int64_t)>& fn) { pool().run(chunks, fn); }
void setThreads(int n) { pool().resize(n); }
int threads() { return pool().size(); }

}  // namespace qcw::kernels
