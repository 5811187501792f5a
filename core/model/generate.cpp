#include "model/generate.h"

#include "common/error.h"
#include "model/cuda_support.h"
#include "model/packed.h"
#include "model/phi_model.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <random>

namespace qcw {

namespace {
double seconds(std::chrono::steady_clock::time_point a) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}
// splitmix64: a small, well-mixed generator whose state is one integer (easy to checkpoint).
std::uint64_t nextRandom(std::uint64_t& s) {
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
}  // namespace

std::int64_t pickToken(const std::vector<float>& logits, const GenerateOptions& o, std::uint64_t& rng) {
    if (logits.empty()) fail("generate", "empty logits");
    if (o.greedy) return std::max_element(logits.begin(), logits.end()) - logits.begin();
    if (!(o.temperature > 0)) fail("--temperature", "must be positive");
    std::vector<std::int64_t> idx(logits.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](auto a, auto b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    std::size_t keep = idx.size();
    if (o.topK > 0) keep = std::min<std::size_t>(keep, static_cast<std::size_t>(o.topK));
    std::vector<double> p(keep);
    const double top = logits[idx[0]] / o.temperature;
    double sum = 0;
    for (std::size_t i = 0; i < keep; ++i) sum += p[i] = std::exp(logits[idx[i]] / o.temperature - top);
    if (o.topP < 1.0) {
        double acc = 0;
        std::size_t n = 0;
        while (n < keep) {
            acc += p[n] / sum;
            ++n;
            if (acc >= o.topP) break;
        }
        keep = std::max<std::size_t>(1, n);
        sum = std::accumulate(p.begin(), p.begin() + static_cast<long>(keep), 0.0);
    }
    const double u = double(nextRandom(rng) >> 11) * (1.0 / 9007199254740992.0) * sum;
    double acc = 0;
    for (std::size_t i = 0; i < keep; ++i) {
        acc += p[i];
        if (u < acc) return idx[i];
    }
    return idx[keep - 1];
}

std::vector<std::vector<std::int64_t>> generate(const PhiModel& model,
                                                const std::vector<std::vector<std::int64_t>>& prompts,
                                                const GenerateOptions& opts, const TokenCallback& onToken,
                                                const RunContext& ctx, GenerationStats* stats) {
    if (prompts.empty()) fail("generate", "no prompt given");
    if (opts.maxNewTokens < 0) fail("--max-new-tokens", "must not be negative");
    c10::InferenceMode guard;
    KernelThreadScope threads(usesKernels(model));  // once for all steps (see packed.h)
    const auto B = static_cast<std::int64_t>(prompts.size());
    std::int64_t T = 0;
    for (const auto& p : prompts) {
        if (p.empty()) fail("generate", "a prompt has no tokens");
        T = std::max<std::int64_t>(T, static_cast<std::int64_t>(p.size()));
    }
    if (T + opts.maxNewTokens > model.config.maxPositions)
        fail("--max-new-tokens", "prompt (" + std::to_string(T) + ") plus new tokens exceeds the model's " +
                                     std::to_string(model.config.maxPositions) + " positions");
    const std::int64_t pad = opts.padTokenId.value_or(model.config.padTokenId.value_or(0));
    const std::optional<std::int64_t> eos = opts.eosTokenId ? opts.eosTokenId : model.config.eosTokenId;

    std::vector<std::int64_t> ids(static_cast<std::size_t>(B * T), pad), mask(static_cast<std::size_t>(B * T), 0);
    for (std::int64_t b = 0; b < B; ++b) {
        const auto& p = prompts[static_cast<std::size_t>(b)];
        const auto off = T - static_cast<std::int64_t>(p.size());
        for (std::size_t j = 0; j < p.size(); ++j) {
            ids[static_cast<std::size_t>(b * T + off) + j] = p[j];
            mask[static_cast<std::size_t>(b * T + off) + j] = 1;
        }
    }
    auto lopts = at::TensorOptions().dtype(at::kLong);
    at::Tensor idsT = at::from_blob(ids.data(), {B, T}, lopts).clone();
    at::Tensor maskT = at::from_blob(mask.data(), {B, T}, lopts).clone();
    at::Tensor pos = (maskT.cumsum(1) - 1).clamp_min(0);

    std::vector<std::vector<std::int64_t>> out = prompts;
    if (opts.maxNewTokens == 0) {
        if (stats) *stats = GenerationStats{};
        return out;
    }
    std::vector<bool> done(static_cast<std::size_t>(B), false);
    std::vector<std::uint64_t> rng(static_cast<std::size_t>(B));
    for (std::int64_t b = 0; b < B; ++b) rng[static_cast<std::size_t>(b)] = opts.seed * 1000003ull + static_cast<std::uint64_t>(b);

    const at::Device dev = model.device;
    const int devIndex = dev.has_index() ? dev.index() : 0;
    const char* graphEnv = std::getenv("QCW_CUDA_GRAPHS");
    const bool envAllows = !(graphEnv && std::string(graphEnv) == "0");
    const bool wantGraph = dev.is_cuda() && opts.cudaGraphs && envAllows && cuda::available();
    GenerationStats st;
    st.promptTokens = B * T;
    if (dev.is_cuda() && opts.cudaGraphs && !wantGraph)
        st.cudaGraphNote = !envAllows ? "QCW_CUDA_GRAPHS=0" : "this build has no CUDA graph support (QCW_CUDA=OFF)";
    // Graphs are recorded on a side stream; the whole generation runs there.
    cuda::SideStream side(devIndex, wantGraph);

    // Prefill: the prompt through the model with a growing cache.
    KVCache grow;
    ForwardArgs args;
    args.cache = &grow;
    args.lastTokenOnly = true;
    args.inputIds = idsT;
    args.attentionMask = maskT;
    args.positionIds = pos;
    auto t0 = std::chrono::steady_clock::now();
    at::Tensor first = model.forward(args).select(1, 0);  // [B, V] float32

    // Decode: static buffers of capacity T + maxNewTokens, so that every step has the same
    // shapes and reads its position, cache slot and mask from device tensors.
    const std::int64_t cap = T + opts.maxNewTokens;
    const auto dlopts = at::TensorOptions().device(dev).dtype(at::kLong);
    KVCache cache = staticCacheFrom(grow, cap);
    grow.clear();
    at::Tensor maskBuf = at::full({B, 1, 1, cap}, model.maskValue(), at::TensorOptions().device(dev).dtype(model.dtype));
    maskBuf.narrow(3, 0, T).masked_fill_(maskT.to(dev).ne(0).view({B, 1, 1, T}), 0.0);
    at::Tensor posBuf = (pos.select(1, T - 1).unsqueeze(1) + 1).to(dev);  // [B, 1]
    at::Tensor idsBuf = at::zeros({B, 1}, dlopts);
    at::Tensor stepOut;  // greedy: argmax [B] (int64); sampling: logits [B, V]
    auto step = [&] {
        maskBuf.index_fill_(3, cache.slot, 0.0);
        at::Tensor lg = model.decodeStep(idsBuf, posBuf, maskBuf, cache).select(1, 0);
        stepOut = opts.greedy ? lg.argmax(-1) : lg;
        posBuf.add_(1);
        cache.slot.add_(1);
    };

    std::vector<std::int64_t> next(static_cast<std::size_t>(B), pad);
    // Takes one token per live row from host values; returns whether a row is still alive.
    auto consume = [&](const at::Tensor& host) {
        bool anyAlive = false;
        const auto V = opts.greedy ? 0 : host.size(1);
        for (std::int64_t b = 0; b < B; ++b) {
            auto ub = static_cast<std::size_t>(b);
            next[ub] = pad;
            if (done[ub]) continue;
            std::int64_t tok;
            if (opts.greedy) {
                tok = host.data_ptr<std::int64_t>()[b];
            } else {
                const float* data = host.data_ptr<float>() + b * V;
                tok = pickToken(std::vector<float>(data, data + V), opts, rng[ub]);
            }
            next[ub] = tok;
            out[ub].push_back(tok);
            ++st.newTokens;
            if (onToken && !onToken(ub, tok)) done[ub] = true;
            if (opts.stopAtEos && eos && tok == *eos) done[ub] = true;
            anyAlive = anyAlive || !done[ub];
        }
        return anyAlive;
    };
    auto toHost = [&](const at::Tensor& t) { return (opts.greedy ? t.argmax(-1) : t).to(at::kCPU).contiguous(); };

    bool alive = consume(toHost(first));
    st.prefillSeconds = seconds(t0);
    t0 = std::chrono::steady_clock::now();
    std::unique_ptr<cuda::Graph> graph;
    const int eagerSteps = 2;  // warm-up before recording: lazy cuBLAS and allocator set-up happen here
    for (int k = 1; alive && k < opts.maxNewTokens; ++k) {
        ctx.checkCancelled();
        idsBuf.copy_(at::from_blob(next.data(), {B, 1}, lopts));
        if (graph) {
            graph->replay();
        } else if (wantGraph && k > eagerSteps) {
            graph = cuda::capture(step, &st.cudaGraphNote);
            if (!graph) fail("CUDA graph", "recording the decode step failed (" + st.cudaGraphNote +
                                               "); set QCW_CUDA_GRAPHS=0 or pass --no-cuda-graphs");
            graph->replay();
            st.cudaGraph = true;
        } else {
            step();
        }
        ++cache.filled;
        alive = consume(stepOut.to(at::kCPU).contiguous());
    }
    st.decodeSeconds = seconds(t0);
    if (stats) *stats = st;
    return out;
}

}  // namespace qcw
