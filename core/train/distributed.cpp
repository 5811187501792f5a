// c10d process groups for data-parallel training (see distributed.h).
#include "train/distributed.h"

#include "common/error.h"

// Debian's LibTorch is built with Gloo; its headers only declare ProcessGroupGloo under this macro.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(QCW_NCCL)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

namespace qcw::dist {

namespace {

using Clock = std::chrono::steady_clock;
using ms = std::chrono::milliseconds;

int envInt(const char* name, int fallback, int lo) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    errno = 0;
    const long x = std::strtol(v, &end, 10);
    if (errno || *end || x < lo || x > (1 << 30)) fail(std::string(name) + "=" + v, "is not a whole number >= " + std::to_string(lo));
    return static_cast<int>(x);
}

std::vector<std::uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

// The first line of an exception from Gloo or the store, without its source-location prefix.
std::string firstLine(const std::exception& e) {
    std::string s = e.what();
    s = s.substr(0, s.find('\n'));
    if (!s.empty() && s[0] == '[') {
        const auto close = s.find("] ");
        if (close != std::string::npos) s = s.substr(close + 2);
    }
    return s.size() > 300 ? s.substr(0, 300) + " ..." : s;
}

const char* kAbort = "qcw/abort";
std::string hbKey(int r) { return "qcw/hb/" + std::to_string(r); }
std::string stepKey(int r) { return "qcw/step/" + std::to_string(r); }

}  // namespace

Env envFromEnvironment() {
    Env e;
    const char* ws = std::getenv("WORLD_SIZE");
    if (!ws || !*ws) return e;
    e.world = envInt("WORLD_SIZE", 1, 1);
    e.rank = envInt("RANK", -1, 0);
    if (e.rank < 0) fail("RANK", "is not set but WORLD_SIZE is (" + std::string(ws) + "): set both, as torchrun does");
    if (e.rank >= e.world)
        fail("RANK=" + std::to_string(e.rank), "is not below WORLD_SIZE=" + std::to_string(e.world));
    e.localRank = envInt("LOCAL_RANK", e.rank, 0);
    if (const char* a = std::getenv("MASTER_ADDR"); a && *a) e.masterAddr = a;
    else if (e.world > 1) fail("MASTER_ADDR", "is not set (the host of rank 0)");
    e.masterPort = envInt("MASTER_PORT", -1, 1);
    if (e.masterPort < 0 && e.world > 1) fail("MASTER_PORT", "is not set (a free TCP port on the host of rank 0)");
    if (e.masterPort > 65535) fail("MASTER_PORT=" + std::to_string(e.masterPort), "is not a TCP port");
    const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
    e.agentStore = agent && (std::strcmp(agent, "True") == 0 || std::strcmp(agent, "true") == 0 || std::strcmp(agent, "1") == 0);
    const char* restart = std::getenv("TORCHELASTIC_RESTART_COUNT");
    e.storePrefix = std::string("qcw/") + (restart && *restart ? restart : "0") + "/";
    return e;
}

bool ncclAvailable() {
#if defined(QCW_NCCL)
    return true;
#else
    return false;
#endif
}

struct Group::Impl {
    Env env;
    GroupOptions o;
    c10::intrusive_ptr<c10d::Store> store;       // main thread
    c10::intrusive_ptr<c10d::Store> hbStore;     // watchdog thread (its own connection)
    c10::intrusive_ptr<c10d::ProcessGroup> pg;
    std::thread watchdog;
    std::mutex m;
    std::condition_variable cv;
    bool stop = false;
    std::atomic<bool> failed{false};
    double reduceSeconds = 0.0;
    std::int64_t reduceCalls = 0;

    c10::intrusive_ptr<c10d::Store> connect(bool server) const {
        c10d::TCPStoreOptions so;
        so.port = static_cast<std::uint16_t>(env.masterPort);
        so.isServer = server;
        if (server) so.numWorkers = static_cast<std::size_t>(env.world);
        so.waitWorkers = false;
        so.timeout = ms(static_cast<std::int64_t>(o.timeoutSeconds * 1000));
        auto tcp = c10::make_intrusive<c10d::TCPStore>(env.masterAddr, so);
        return c10::make_intrusive<c10d::PrefixStore>(env.storePrefix, tcp);
    }

    [[noreturn]] void die(const std::string& message) {
        std::fprintf(stderr, "qcompress train: rank %d: %s\n", env.rank, message.c_str());
        std::fflush(stderr);
        std::_Exit(1);
    }

    // Sets the job-wide abort message (best effort) so that every rank's watchdog stops it.
    void abortAll(c10d::Store& s, const std::string& message) {
        try {
            s.set(kAbort, bytes(message));
        } catch (const std::exception&) {
        }
    }

    void watch() {
        const auto period = ms(1000);
        std::int64_t beat = 0;
        std::map<int, std::pair<std::string, Clock::time_point>> seen;  // rank -> (last heartbeat, when it changed)
        const auto started = Clock::now();
        std::unique_lock<std::mutex> lock(m);
        while (!stop) {
            lock.unlock();
            try {
                hbStore->set(hbKey(env.rank), bytes(std::to_string(++beat)));
                if (hbStore->check({kAbort})) die("stopping: " + text(hbStore->get(kAbort)));
                // Rank 0 watches everyone; the others watch rank 0.
                std::vector<int> peers;
                if (env.rank == 0)
                    for (int r = 1; r < env.world; ++r) peers.push_back(r);
                else
                    peers.push_back(0);
                const auto now = Clock::now();
                for (int r : peers) {
                    std::string v = hbStore->check({hbKey(r)}) ? text(hbStore->get(hbKey(r))) : std::string();
                    auto it = seen.find(r);
                    if (it == seen.end()) it = seen.emplace(r, std::make_pair(v, started)).first;
                    if (it->second.first != v) it->second = {v, now};
                    const double silent = std::chrono::duration<double>(now - it->second.second).count();
                    if (silent > o.heartbeatStaleSeconds) {
                        char buf[160];
                        std::snprintf(buf, sizeof buf, "rank %d stopped responding (no heartbeat for %.0f s%s); the job is stopped",
                                      r, silent, v.empty() ? ", never joined" : "");
                        abortAll(*hbStore, buf);
                        die(buf);
                    }
                }
            } catch (const std::exception& e) {
                lock.lock();
                if (stop) break;
                lock.unlock();
                if (env.agentStore)
                    die("the rendezvous store at " + env.masterAddr + ":" + std::to_string(env.masterPort) + " is gone: " + firstLine(e));
                die("rank 0 is gone (it hosts the rendezvous store at " + env.masterAddr + ":" + std::to_string(env.masterPort) +
                    "): " + firstLine(e));
            }
            lock.lock();
            cv.wait_for(lock, period, [this] { return stop; });
        }
    }

    // After a failed collective: which rank is at fault? Aborts every rank and throws.
    [[noreturn]] void collectiveFailed(const std::string& what, const std::exception& e) {
        failed = true;
        const std::string cause = firstLine(e);
        std::string who;
        try {
            if (store->check({kAbort})) die("stopping: " + text(store->get(kAbort)));
            auto beats = [&] {
                std::vector<std::string> v(static_cast<std::size_t>(env.world));
                for (int r = 0; r < env.world; ++r)
                    if (store->check({hbKey(r)})) v[static_cast<std::size_t>(r)] = text(store->get(hbKey(r)));
                return v;
            };
            const auto before = beats();
            std::this_thread::sleep_for(ms(2500));
            if (store->check({kAbort})) die("stopping: " + text(store->get(kAbort)));
            const auto after = beats();
            for (int r = 0; r < env.world; ++r)
                if (r != env.rank && before[static_cast<std::size_t>(r)] == after[static_cast<std::size_t>(r)])
                    who += (who.empty() ? "rank " : ", rank ") + std::to_string(r);
            if (!who.empty()) {
                who += " is gone (no heartbeat)";
            } else {
                // Every rank is alive: the slowest one hangs (or is slower than --dist-timeout).
                std::int64_t mine = -1, low = -1;
                int lowRank = -1;
                for (int r = 0; r < env.world; ++r) {
                    const std::int64_t st = store->check({stepKey(r)}) ? std::stoll(text(store->get(stepKey(r)))) : -1;
                    if (r == env.rank) mine = st;
                    if (lowRank < 0 || st < low) low = st, lowRank = r;
                }
                if (lowRank >= 0 && lowRank != env.rank && low < mine)
                    who = "rank " + std::to_string(lowRank) + " hangs at step " + std::to_string(low + 1) + " (this rank is at step " +
                          std::to_string(mine + 1) + "; raise --dist-timeout if it is only slow)";
                else
                    who = "a peer rank failed";
            }
        } catch (const std::exception&) {
            who = env.agentStore ? "the rendezvous store is gone" : "rank 0 is gone (its rendezvous store does not answer)";
        }
        const std::string message = who + " during " + what + ": " + cause;
        if (store) abortAll(*store, "rank " + std::to_string(env.rank) + " reports: " + message);
        die(message);
    }
};

Group::Group(const Env& env, const GroupOptions& options) : d_(std::make_unique<Impl>()) {
    d_->env = env;
    d_->o = options;
    if (env.world < 1 || env.rank < 0 || env.rank >= env.world)
        fail("process group", "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world) + " is out of range");
    if (options.backend != "gloo" && options.backend != "nccl")
        fail("--backend " + options.backend, "expected gloo or nccl");
    if (options.backend == "nccl" && !ncclAvailable())
        fail("--backend nccl", "this build has no NCCL (a CPU LibTorch); use --backend gloo");
    if (!(options.timeoutSeconds > 0)) fail("--dist-timeout " + std::to_string(options.timeoutSeconds), "must be positive");
    const auto timeout = ms(static_cast<std::int64_t>(options.timeoutSeconds * 1000));
    const std::string where = env.masterAddr + ":" + std::to_string(env.masterPort);
    try {
        d_->store = d_->connect(env.rank == 0 && !env.agentStore);
        d_->hbStore = d_->connect(false);
        auto pgStore = c10::make_intrusive<c10d::PrefixStore>("pg/", d_->store);
        if (options.backend == "gloo") {
            auto po = c10d::ProcessGroupGloo::Options::create(timeout);
            const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
            if (ifname && *ifname)
                po->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
            else if (env.masterAddr == "127.0.0.1" || env.masterAddr == "localhost")
                po->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
            else
                po->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
            d_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(pgStore, env.rank, env.world, po);
        } else {
#if defined(QCW_NCCL)
            auto po = c10d::ProcessGroupNCCL::Options::create();
            po->timeout = timeout;
            d_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(pgStore, env.rank, env.world, po);
#endif
        }
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        fail("rank " + std::to_string(env.rank) + " of " + std::to_string(env.world),
             "cannot join the process group at " + where + ": " + firstLine(e));
    }
    d_->watchdog = std::thread([impl = d_.get()] { impl->watch(); });
}

Group::~Group() {
    {
        std::lock_guard<std::mutex> lock(d_->m);
        d_->stop = true;
    }
    d_->cv.notify_all();
    if (d_->watchdog.joinable()) d_->watchdog.join();
    // After a failure the group may be stuck in a collective: leave it rather than wait on it.
    if (d_->failed) (void)d_->pg.release();
}

int Group::rank() const { return d_->env.rank; }
int Group::world() const { return d_->env.world; }
double Group::allReduceSeconds() const { return d_->reduceSeconds; }
std::int64_t Group::allReduceCalls() const { return d_->reduceCalls; }

void Group::allReduceSum(const std::vector<at::Tensor>& tensors, const std::string& what) {
    if (tensors.empty()) return;
    const auto t0 = Clock::now();
    at::NoGradGuard noGrad;
    // Consecutive tensors of one dtype and device, up to bucketBytes, share a bucket.
    struct Bucket {
        std::vector<std::size_t> members;
        at::Tensor flat;
        c10::intrusive_ptr<c10d::Work> work;
    };
    std::vector<Bucket> buckets;
    std::size_t bytesIn = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const at::Tensor& t = tensors[i];
        const std::size_t nb = static_cast<std::size_t>(t.numel()) * t.element_size();
        if (buckets.empty() || bytesIn + nb > d_->o.bucketBytes ||
            tensors[buckets.back().members.front()].scalar_type() != t.scalar_type() ||
            tensors[buckets.back().members.front()].device() != t.device()) {
            buckets.emplace_back();
            bytesIn = 0;
        }
        buckets.back().members.push_back(i);
        bytesIn += nb;
    }
    try {
        for (auto& b : buckets) {
            std::vector<at::Tensor> parts;
            for (auto i : b.members) parts.push_back(tensors[i].reshape({-1}));
            b.flat = parts.size() == 1 ? parts[0].clone() : at::cat(parts);
            std::vector<at::Tensor> one{b.flat};
            b.work = d_->pg->allreduce(one);
        }
        for (auto& b : buckets) {
            b.work->wait();
            std::int64_t off = 0;
            for (auto i : b.members) {
                const at::Tensor& t = tensors[i];
                const_cast<at::Tensor&>(t).copy_(b.flat.narrow(0, off, t.numel()).view(t.sizes()));
                off += t.numel();
            }
        }
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        d_->collectiveFailed(what, e);
    }
    d_->reduceSeconds += std::chrono::duration<double>(Clock::now() - t0).count();
    ++d_->reduceCalls;
}

void Group::barrier(const std::string& what) {
    try {
        d_->pg->barrier()->wait();
    } catch (const std::exception& e) {
        d_->collectiveFailed(what, e);
    }
}

void Group::signalDone(const std::string& key) {
    try {
        d_->store->set("qcw/done/" + key, bytes("1"));
    } catch (const std::exception& e) {
        d_->collectiveFailed("signalling " + key, e);
    }
}

void Group::waitDone(const std::string& key) {
    try {
        while (!d_->store->check({"qcw/done/" + key})) std::this_thread::sleep_for(ms(200));
    } catch (const std::exception& e) {
        d_->collectiveFailed("waiting for rank 0 (" + key + ")", e);
    }
}

void Group::setProgress(std::int64_t step) {
    try {
        d_->store->set(stepKey(d_->env.rank), bytes(std::to_string(step)));
    } catch (const std::exception& e) {
        d_->collectiveFailed("step " + std::to_string(step + 1), e);
    }
}

void Group::finish() {
    barrier("the final barrier");
    {
        std::lock_guard<std::mutex> lock(d_->m);
        d_->stop = true;
    }
    d_->cv.notify_all();
    if (d_->watchdog.joinable()) d_->watchdog.join();
}

std::string checksum(const std::vector<at::Tensor>& tensors) {
    std::uint64_t h = 1469598103934665603ull;
    for (const auto& t : tensors) {
        at::Tensor c = t.detach().to(at::kCPU).contiguous();
        const auto* p = static_cast<const unsigned char*>(c.data_ptr());
        const std::size_t n = static_cast<std::size_t>(c.numel()) * c.element_size();
        for (std::size_t i = 0; i < n; ++i) {
            h ^= p[i];
            h *= 1099511628211ull;
        }
    }
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

}  // namespace qcw::dist
