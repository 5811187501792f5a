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

class Pool {
public:
    ~Pool() { stop(); }

    void resize(int n) {
        std::lock_guard<std::mutex> busy(callMutex_);
        if (n < 1) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
        if (n == size_) return;
        stop();
        size_ = n;
        quit_ = false;
        // Each worker starts from the generation at its creation, not at its first run: a call
        // made before a new thread first runs must still be seen by it.
        const std::uint64_t g0 = generation_.load();
        for (int t = 1; t < n; ++t) workers_.emplace_back([this, t, g0] { work(t, g0); });
    }
    int size() const { return size_; }

    void run(const std::function<void(int, int)>& fn) {
        std::unique_lock<std::mutex> busy(callMutex_, std::try_to_lock);
        if (!busy.owns_lock() || size_ == 1 || inWorker_) {
            fn(0, 1);
            return;
        }
        job_ = &fn;
        pending_.store(size_ - 1, std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> lk(sleepMutex_);
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        fn(0, size_);
        while (pending_.load(std::memory_order_acquire) != 0) QCW_PAUSE();
        job_ = nullptr;
    }

private:
    void work(int t, std::uint64_t seen) {
        inWorker_ = true;
        for (;;) {
            // Spin a little: the next linear map of a decode step follows within microseconds.
            const auto until = std::chrono::steady_clock::now() + spin_;
            std::uint64_t g;
            int k = 0;
            while ((g = generation_.load(std::memory_order_acquire)) == seen && !quit_.load(std::memory_order_relaxed)) {
                QCW_PAUSE();
                if ((++k & 63) == 0 && std::chrono::steady_clock::now() > until) {
                    std::unique_lock<std::mutex> lk(sleepMutex_);
                    wake_.wait(lk, [&] { return generation_.load(std::memory_order_acquire) != seen || quit_.load(); });
                }
            }
            if (quit_.load()) return;
            seen = g;
            (*job_)(t, size_);
            pending_.fetch_sub(1, std::memory_order_acq_rel);
        }
    }
    void stop() {
        {
            std::lock_guard<std::mutex> lk(sleepMutex_);
            quit_ = true;
        }
        wake_.notify_all();
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
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> quit_{false};
    const std::function<void(int, int)>* job_ = nullptr;
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

void parallelRun(const std::function<void(int, int)>& fn) { pool().run(fn); }
void setThreads(int n) { pool().resize(n); }
int threads() { return pool().size(); }

}  // namespace qcw::kernels
