#include "serve/batcher.h"

#include "common/error.h"
#include "model/engine_impl.h"
#include "model/generate.h"
#include "model/packed.h"
#include "model/phi_model.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace qcw::serve {

namespace {

// One request as both threads see it.
struct Request {
    std::vector<std::int64_t> prompt;
    GenerateOptions opts;
    std::mutex m;
    std::condition_variable cv;
    std::deque<std::int64_t> tokens;  // produced by the batch thread, consumed by run()
    bool finished = false;
    std::exception_ptr error;
    std::atomic<bool> cancel{false};

    void push(std::int64_t t) {
        {
            std::lock_guard<std::mutex> lock(m);
            tokens.push_back(t);
        }
        cv.notify_all();
    }
    void finish(std::exception_ptr e = nullptr) {
        {
            std::lock_guard<std::mutex> lock(m);
            finished = true;
            if (e && !error) error = e;
        }
        cv.notify_all();
    }
};

// A request in the batch: row index = its place in `rows`.
struct Row {
    std::shared_ptr<Request> req;
    std::int64_t start = 0;      // first cache slot holding its entries
    std::int64_t pos = 0;        // position id of the token it feeds next
    std::int64_t next = 0;       // the token it feeds next
    std::int64_t generated = 0;  // tokens produced so far
    std::uint64_t rng = 0;
};

}  // namespace

struct ContinuousBatcher::Impl {
    const PhiModel& model;
    const int maxRows;
    const std::int64_t cap;
    std::optional<std::int64_t> configEos;

    std::mutex m;
    std::condition_variable cv;
    std::deque<std::shared_ptr<Request>> pending;
    bool stopping = false;
    std::thread thread;

    std::atomic<std::int64_t> steps{0}, rowSteps{0};
    std::atomic<int> maxSeen{0};
    std::atomic<std::int64_t> shiftsRight{0}, shiftsLeft{0};
    std::function<void(std::int64_t)> afterStep;  // tests only

    // Batch state, touched by the batch thread only.
    std::vector<Row> rows;
    std::vector<at::Tensor> K, V;  // per layer [maxRows, kv, cap, hd]
    at::Tensor mask;               // [maxRows, 1, 1, cap] additive
    at::Tensor slot;               // int64 [1] on the device
    std::int64_t s = 0;            // the shared write slot

    Impl(const Engine& e, int rowsMax)
        : model(e.impl().model), maxRows(std::max(1, rowsMax)), cap(e.config().maxPositions),
          configEos(e.config().eosTokenId) {}

    std::optional<std::int64_t> eosOf(const GenerateOptions& o) const { return o.eosTokenId ? o.eosTokenId : configEos; }

    // Moves cache entries [from, from + len) of the first `n` rows to start at `to`.
    void moveEntries(std::int64_t n, std::int64_t from, std::int64_t to, std::int64_t len) {
        if (len <= 0 || from == to) return;
        for (std::size_t i = 0; i < K.size(); ++i) {
            auto k = K[i].narrow(0, 0, n), v = V[i].narrow(0, 0, n);
            k.narrow(2, to, len).copy_(k.narrow(2, from, len).clone());
            v.narrow(2, to, len).copy_(v.narrow(2, from, len).clone());
        }
        auto mk = mask.narrow(0, 0, n);
        mk.narrow(3, to, len).copy_(mk.narrow(3, from, len).clone());
        // What was left behind is nobody's.
        if (to > from) mk.narrow(3, from, to - from).fill_(model.maskValue());
        else mk.narrow(3, to + len, from - to).fill_(model.maskValue());
    }

    void copyRow(std::int64_t from, std::int64_t to) {
        for (std::size_t i = 0; i < K.size(); ++i) {
            K[i][to].copy_(K[i][from]);
            V[i][to].copy_(V[i][from]);
        }
        mask[to].copy_(mask[from]);
        rows[static_cast<std::size_t>(to)] = rows[static_cast<std::size_t>(from)];
    }

    // Takes the token a row just produced; true when the row ends with it.
    bool deliver(Row& r, std::int64_t tok) {
        ++r.generated;
        r.next = tok;
        r.req->push(tok);
        const auto eos = eosOf(r.req->opts);
        return r.generated >= r.req->opts.maxNewTokens || (r.req->opts.stopAtEos && eos && tok == *eos) ||
               r.req->cancel.load();
    }

    std::int64_t pick(const float* logits, std::int64_t vocab, Row& r) {
        return pickToken(std::vector<float>(logits, logits + vocab), r.req->opts, r.rng);
    }

    // Prefills a waiting request and puts it into the batch (or finishes it at once).
    void admit(const std::shared_ptr<Request>& req) {
        const auto P = static_cast<std::int64_t>(req->prompt.size());
        if (P == 0) fail("generate", "a prompt has no tokens");
        if (P + req->opts.maxNewTokens > cap)
            fail("max_tokens", "prompt (" + std::to_string(P) + ") plus new tokens exceeds the model's " +
                                   std::to_string(cap) + " positions");
        if (req->opts.maxNewTokens <= 0 || req->cancel) {
            req->finish();
            return;
        }
        KVCache grow;
        ForwardArgs args;
        args.inputIds = at::from_blob(req->prompt.data(), {1, P}, at::TensorOptions().dtype(at::kLong)).clone();
        args.cache = &grow;
        args.lastTokenOnly = true;
        at::Tensor logits = model.forward(args).select(1, 0).to(at::kCPU).contiguous();  // [1, V]

        if (K.empty()) {
            for (std::size_t i = 0; i < grow.k.size(); ++i) {
                auto shape = grow.k[i].sizes().vec();
                shape[0] = maxRows;
                shape[2] = cap;
                K.push_back(at::zeros(shape, grow.k[i].options()));
                V.push_back(at::zeros(shape, grow.v[i].options()));
            }
            mask = at::full({maxRows, 1, 1, cap}, model.maskValue(),
                            at::TensorOptions().device(model.device).dtype(model.dtype));
            slot = at::zeros({1}, at::TensorOptions().device(model.device).dtype(at::kLong));
        }

        Row r;
        r.req = req;
        r.rng = req->opts.seed * 1000003ull;  // Engine::generate's stream for row 0
        r.pos = P;
        if (deliver(r, pick(logits.data_ptr<float>(), logits.size(1), r))) {
            req->finish();
            return;
        }
        const auto n = static_cast<std::int64_t>(rows.size());
        if (n == 0) {
            s = P;
        } else if (s < P) {  // make room on the left: everything moves right
            const std::int64_t d = P - s;
            moveEntries(n, 0, d, s);
            for (auto& row : rows) row.start += d;
            ++shiftsRight;
            s = P;
        }
        for (std::size_t i = 0; i < K.size(); ++i) {
            K[i][n].narrow(1, s - P, P).copy_(grow.k[i][0]);
            V[i][n].narrow(1, s - P, P).copy_(grow.v[i][0]);
        }
        mask[n].fill_(model.maskValue());
        mask[n].narrow(-1, s - P, P).fill_(0.0);
        r.start = s - P;
        rows.push_back(std::move(r));
        maxSeen = std::max(maxSeen.load(), static_cast<int>(rows.size()));
    }

    // Rows whose request ended leave; the last row takes each freed place.
    void evict(const std::vector<bool>& done) {
        for (auto i = static_cast<std::int64_t>(rows.size()) - 1; i >= 0; --i) {
            if (!done[static_cast<std::size_t>(i)]) continue;
            rows[static_cast<std::size_t>(i)].req->finish();
            const auto last = static_cast<std::int64_t>(rows.size()) - 1;
            if (i != last) copyRow(last, i);
            rows.pop_back();
        }
    }

    void step() {
        auto n = static_cast<std::int64_t>(rows.size());
        {  // callers that said stop leave before the step is paid for
            std::vector<bool> gone(rows.size());
            bool any = false;
            for (std::size_t i = 0; i < rows.size(); ++i) any = (gone[i] = rows[i].req->cancel.load()) || any;
            if (any) evict(gone);
            n = static_cast<std::int64_t>(rows.size());
            if (n == 0) return;
        }
        if (s >= cap) {  // full: shift everything left by the earliest row's start
            std::int64_t first = cap;
            for (const auto& r : rows) first = std::min(first, r.start);
            if (first <= 0) fail("batch", "internal check failed: a row fills the whole context");
            moveEntries(n, first, 0, s - first);
            for (auto& r : rows) r.start -= first;
            ++shiftsLeft;
            s -= first;
        }
        std::vector<std::int64_t> ids(static_cast<std::size_t>(n)), pos(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) {
            ids[static_cast<std::size_t>(i)] = rows[static_cast<std::size_t>(i)].next;
            pos[static_cast<std::size_t>(i)] = rows[static_cast<std::size_t>(i)].pos;
        }
        const auto lopts = at::TensorOptions().dtype(at::kLong);
        at::Tensor idsT = at::from_blob(ids.data(), {n, 1}, lopts).to(model.device);
        at::Tensor posT = at::from_blob(pos.data(), {n, 1}, lopts).to(model.device);
        at::Tensor mk = mask.narrow(0, 0, n);
        mk.narrow(3, s, 1).fill_(0.0);
        slot.fill_(s);
        KVCache c;
        for (std::size_t i = 0; i < K.size(); ++i) {
            c.k.push_back(K[i].narrow(0, 0, n));
            c.v.push_back(V[i].narrow(0, 0, n));
        }
        c.slot = slot;
        c.filled = s;
        at::Tensor logits = model.decodeStep(idsT, posT, mk, c).select(1, 0).to(at::kCPU).contiguous();  // [n, V]
        ++s;
        ++steps;
        rowSteps += n;
        const auto vocab = logits.size(1);
        std::vector<bool> done(static_cast<std::size_t>(n), false);
        for (std::int64_t i = 0; i < n; ++i) {
            Row& r = rows[static_cast<std::size_t>(i)];
            ++r.pos;
            done[static_cast<std::size_t>(i)] = deliver(r, pick(logits.data_ptr<float>() + i * vocab, vocab, r));
        }
        evict(done);
    }

    void failAll(std::exception_ptr e) {
        for (auto& r : rows) r.req->finish(e);
        rows.clear();
        s = 0;
        if (mask.defined()) mask.fill_(model.maskValue());
    }

    void loop() {
        c10::InferenceMode guard;
        KernelThreadScope threads(usesKernels(model));  // while serving, LibTorch's ops on one thread
        for (;;) {
            std::vector<std::shared_ptr<Request>> joining;
            {
                std::unique_lock<std::mutex> lock(m);
                cv.wait(lock, [&] { return stopping || !pending.empty() || !rows.empty(); });
                if (stopping) break;
                while (!pending.empty() && rows.size() + joining.size() < static_cast<std::size_t>(maxRows)) {
                    joining.push_back(pending.front());
                    pending.pop_front();
                }
            }
            for (auto& req : joining) {
                try {
                    admit(req);
                } catch (...) {
                    req->finish(std::current_exception());
                }
            }
            try {
                if (!rows.empty()) {
                    step();
                    if (afterStep) afterStep(steps.load());
                }
            } catch (...) {
                failAll(std::current_exception());
            }
        }
        auto cancelled = std::make_exception_ptr(Cancelled());
        failAll(cancelled);
        std::lock_guard<std::mutex> lock(m);
        for (auto& req : pending) req->finish(cancelled);
        pending.clear();
    }
};

ContinuousBatcher::ContinuousBatcher(const Engine& engine, int maxRows) : impl_(std::make_unique<Impl>(engine, maxRows)) {
    impl_->thread = std::thread([this] { impl_->loop(); });
}

ContinuousBatcher::~ContinuousBatcher() { stop(); }

void ContinuousBatcher::stop() {
    {
        std::lock_guard<std::mutex> lock(impl_->m);
        impl_->stopping = true;
    }
    impl_->cv.notify_all();
    if (impl_->thread.joinable()) impl_->thread.join();
}

void ContinuousBatcher::run(const std::vector<std::int64_t>& prompt, const GenerateOptions& opts,
                            const std::function<bool(std::int64_t)>& onToken) {
    auto req = std::make_shared<Request>();
    req->prompt = prompt;
    req->opts = opts;
    {
        std::lock_guard<std::mutex> lock(impl_->m);
        if (impl_->stopping) throw Cancelled();
        impl_->pending.push_back(req);
    }
    impl_->cv.notify_all();
    for (;;) {
        std::deque<std::int64_t> got;
        bool finished = false;
        {
            std::unique_lock<std::mutex> lock(req->m);
            req->cv.wait(lock, [&] { return req->finished || !req->tokens.empty(); });
            got.swap(req->tokens);
            finished = req->finished;
        }
        for (auto t : got) {
            if (req->cancel) break;
            if (onToken && !onToken(t)) req->cancel = true;  // the row leaves before the next step
        }
        if (finished) break;
        if (req->cancel) impl_->cv.notify_all();
    }
    if (req->error) std::rethrow_exception(req->error);
}

std::int64_t ContinuousBatcher::steps() const { return impl_->steps; }
std::int64_t ContinuousBatcher::rowSteps() const { return impl_->rowSteps; }
int ContinuousBatcher::maxRowsSeen() const { return impl_->maxSeen; }
std::int64_t ContinuousBatcher::rightShifts() const { return impl_->shiftsRight; }
std::int64_t ContinuousBatcher::compactions() const { return impl_->shiftsLeft; }
int ContinuousBatcher::pendingCount() const {
    std::lock_guard<std::mutex> lock(impl_->m);
    return static_cast<int>(impl_->pending.size());
}
void ContinuousBatcher::setAfterStepForTest(std::function<void(std::int64_t)> hook) { impl_->afterStep = std::move(hook); }

}  // namespace qcw::serve
