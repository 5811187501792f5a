#include "eval/evaluate.h"

#include "common/error.h"
#include "model/engine.h"
#include "model/engine_impl.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <cmath>

namespace qcw {

namespace {

struct Span {
    std::size_t stream;
    std::int64_t begin, end;    // token range fed to the model
    std::int64_t scoreFrom;     // first position (absolute) whose prediction is scored
};

std::vector<Span> plan(const std::vector<std::vector<std::int64_t>>& streams, int window, int stride) {
    std::vector<Span> spans;
    for (std::size_t s = 0; s < streams.size(); ++s) {
        const auto n = static_cast<std::int64_t>(streams[s].size());
        if (n < 2) continue;
        std::int64_t scored = 1;  // positions < scored are already scored (position 0 never is)
        for (std::int64_t begin = 0;; begin += stride) {
            const std::int64_t end = std::min(n, begin + window);
            spans.push_back({s, begin, end, std::max(scored, begin + 1)});
            scored = end;
            if (end == n) break;
        }
    }
    return spans;
}

void checkWindow(const Engine& m, PerplexityOptions& o) {
    const int ctxLen = m.config().maxPositions;
    if (o.window <= 0) o.window = std::min(ctxLen, 1024);
    if (o.window > ctxLen) fail("--window " + std::to_string(o.window), "exceeds the model's " + std::to_string(ctxLen) + " positions");
    if (o.window < 2) fail("--window " + std::to_string(o.window), "must be at least 2");
    if (o.stride <= 0) o.stride = std::max(1, o.window / 2);
    if (o.stride > o.window) fail("--stride " + std::to_string(o.stride), "must not exceed the window");
    if (o.batch <= 0) o.batch = 1;
}

// Log-probabilities [B, T, V] for a batch of equal-length spans.
at::Tensor logProbs(const Engine& m, const std::vector<std::vector<std::int64_t>>& streams, const std::vector<Span>& spans,
                    std::size_t from, std::size_t count, std::int64_t len) {
    std::vector<std::int64_t> ids;
    for (std::size_t i = from; i < from + count; ++i) {
        const auto& sp = spans[i];
        const auto& st = streams[sp.stream];
        ids.insert(ids.end(), st.begin() + sp.begin, st.begin() + sp.begin + len);
    }
    ForwardArgs a;
    a.inputIds = at::from_blob(ids.data(), {static_cast<std::int64_t>(count), len}, at::kLong).clone();
    return at::log_softmax(m.impl().model.forward(a), -1);
}

template <typename F>
void forEachBatch(const std::vector<Span>& spans, int batch, const RunContext& ctx, const char* stage, F f) {
    // Batches group spans of the same length (all but the last span of each stream).
    std::size_t i = 0;
    while (i < spans.size()) {
        ctx.checkCancelled();
        const std::int64_t len = spans[i].end - spans[i].begin;
        std::size_t j = i;
        while (j < spans.size() && j - i < static_cast<std::size_t>(batch) && spans[j].end - spans[j].begin == len) ++j;
        f(i, j - i, len);
        i = j;
        ctx.report(stage, static_cast<long long>(i), static_cast<long long>(spans.size()));
    }
}

}  // namespace

PerplexityResult perplexity(const Engine& m, const std::vector<std::vector<std::int64_t>>& streams,
                            const PerplexityOptions& optsIn, const RunContext& ctx) {
    c10::InferenceMode guard;
    PerplexityOptions o = optsIn;
    checkWindow(m, o);
    for (const auto& s : streams)
        for (auto t : s)
            if (t < 0 || t >= m.config().vocabSize) fail("perplexity", "token id " + std::to_string(t) + " is outside the vocabulary");
    const auto spans = plan(streams, o.window, o.stride);
    if (spans.empty()) fail("perplexity", "the text is too short: no stream has two tokens");
    double nll = 0;
    std::int64_t n = 0;
    forEachBatch(spans, o.batch, ctx, "perplexity", [&](std::size_t from, std::size_t count, std::int64_t len) {
        at::Tensor lp = logProbs(m, streams, spans, from, count, len).to(at::kCPU);
        for (std::size_t b = 0; b < count; ++b) {
            const auto& sp = spans[from + b];
            const auto& st = streams[sp.stream];
            auto row = lp[static_cast<std::int64_t>(b)];
            for (std::int64_t pos = sp.scoreFrom; pos < sp.end; ++pos) {
                // logits at (pos - 1 - begin) predict token pos
                nll -= row[pos - 1 - sp.begin][st[static_cast<std::size_t>(pos)]].item<double>();
                ++n;
            }
        }
    });
    PerplexityResult r;
    r.tokens = n;
    r.meanNll = nll / double(n);
    r.perplexity = std::exp(r.meanNll);
    return r;
}

AgreementResult teacherAgreement(const Engine& student, const Engine& teacher,
                                 const std::vector<std::vector<std::int64_t>>& streams, const PerplexityOptions& optsIn,
                                 const RunContext& ctx) {
    c10::InferenceMode guard;
    if (student.config().vocabSize != teacher.config().vocabSize)
        fail("--teacher", "vocabulary sizes differ (" + std::to_string(student.config().vocabSize) + " vs " +
                              std::to_string(teacher.config().vocabSize) + ")");
    PerplexityOptions o = optsIn;
    checkWindow(student, o);
    o.window = std::min(o.window, teacher.config().maxPositions);
    o.stride = std::min(o.stride, o.window);
    const auto spans = plan(streams, o.window, o.stride);
    if (spans.empty()) fail("agreement", "the text is too short: no stream has two tokens");
    double agree = 0, kl = 0;
    std::int64_t n = 0;
    forEachBatch(spans, o.batch, ctx, "agreement", [&](std::size_t from, std::size_t count, std::int64_t len) {
        at::Tensor ls = logProbs(student, streams, spans, from, count, len).to(at::kCPU);
        at::Tensor lt = logProbs(teacher, streams, spans, from, count, len).to(at::kCPU);
        for (std::size_t b = 0; b < count; ++b) {
            const auto& sp = spans[from + b];
            const std::int64_t first = sp.scoreFrom - 1 - sp.begin, last = sp.end - 1 - sp.begin;
            auto s = ls[static_cast<std::int64_t>(b)].narrow(0, first, last - first);
            auto t = lt[static_cast<std::int64_t>(b)].narrow(0, first, last - first);
            agree += s.argmax(-1).eq(t.argmax(-1)).sum().item<double>();
            kl += (t.exp() * (t - s)).sum().item<double>();
            n += last - first;
        }
    });
    return {agree / double(n), kl / double(n), n};
}

PerplexityResult unigramPerplexity(const std::vector<std::vector<std::int64_t>>& train,
                                   const std::vector<std::vector<std::int64_t>>& eval, std::int64_t vocabSize) {
    if (vocabSize <= 0) fail("unigram vocabulary size " + std::to_string(vocabSize), "must be positive");
    std::vector<double> counts(static_cast<std::size_t>(vocabSize), 1.0);  // add-one smoothing
    double total = static_cast<double>(vocabSize);
    auto check = [&](std::int64_t id) {
        if (id < 0 || id >= vocabSize)
            fail("token id " + std::to_string(id), "is outside the vocabulary of " + std::to_string(vocabSize));
    };
    for (const auto& s : train)
        for (auto id : s) {
            check(id);
            counts[static_cast<std::size_t>(id)] += 1.0;
            total += 1.0;
        }
    PerplexityResult r;
    double nll = 0.0;
    for (const auto& s : eval)
        for (std::size_t i = 1; i < s.size(); ++i) {
            check(s[i]);
            nll -= std::log(counts[static_cast<std::size_t>(s[i])] / total);
            ++r.tokens;
        }
    if (r.tokens == 0) fail("unigram evaluation", "has no token to score (every stream is shorter than 2 tokens)");
    r.meanNll = nll / static_cast<double>(r.tokens);
    r.perplexity = std::exp(r.meanNll);
    return r;
}

}  // namespace qcw
