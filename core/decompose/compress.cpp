#include "decompose/compress.h"

#include "common/error.h"
#include "common/files.h"
#include "decompose/decompose.h"
#include "io/arch.h"
#include "io/checkpoint.h"
#include "io/inventory.h"
#include "io/safetensors.h"
#include "decompose/quantize.h"
#include "decompose/strategies/strategy.h"
#include "model/encoded.h"
#include "model/factorized.h"
#include "model/loader.h"
#include "train/optimizer.h"
#include "model/quantized.h"
#include "model/snapshot.h"

#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>

namespace fs = std::filesystem;

namespace qcw {

namespace {

// A block's linear maps in model order (q, k, v, dense, fc1, fc2) by their names inside the
// block, and lm_head: the architecture table's names (io/arch.h).
const std::vector<std::string> kKinds = [] {
    std::vector<std::string> k;
    for (TensorId id : phiArchitecture().blockLinears()) k.push_back(phiArchitecture().local(id));
    return k;
}();
const std::string kLmHead = phiArchitecture().name(TensorId::Output);

std::string linearName(int block, const std::string& kind) { return phiArchitecture().blockPrefix(block) + kind; }

std::shared_ptr<LinearOp>* slotOf(PhiBlock& b, int k) {
    switch (k) {
        case 0: return &b.q;
        case 1: return &b.k;
        case 2: return &b.v;
        case 3: return &b.dense;
        case 4: return &b.fc1;
        default: return &b.fc2;
    }
}

}  // namespace

std::vector<Group> planByRule(PhiModel& model, const CompressOptions& o, const GroupRule& rule) {
    std::vector<Group> groups;
    auto single = [&](const std::string& name, std::shared_ptr<LinearOp>* slot, const std::string& method, int block) {
        Group g;
        g.info.name = name;
        g.info.method = method;
        g.info.members = {name};
        g.info.shape = {(*slot)->outFeatures(), (*slot)->inFeatures()};
        g.info.denseParams = (*slot)->outFeatures() * (*slot)->inFeatures();
        g.info.maxRank = static_cast<int>(std::min((*slot)->outFeatures(), (*slot)->inFeatures()));
        g.slots = {slot};
        g.block = block;
        groups.push_back(std::move(g));
    };
    const int L = static_cast<int>(model.blocks.size());
    if (!rule.crossLayer.empty()) {
        for (int k = 0; k < 6; ++k) {
            Group g;
            g.info.name = std::string("xl.") + kKinds[k];
            g.info.method = rule.crossLayer;
            for (int b = 0; b < L; ++b) {
                g.info.members.push_back(linearName(b, kKinds[k]));
                g.slots.push_back(slotOf(model.blocks[static_cast<std::size_t>(b)], k));
            }
            const auto& op = **g.slots[0];
            g.info.shape = {op.outFeatures(), op.inFeatures()};
            g.info.denseParams = L * op.outFeatures() * op.inFeatures();
            g.info.maxRank = static_cast<int>(std::min(op.outFeatures(), op.inFeatures()));
            groups.push_back(std::move(g));
        }
    } else {
        for (int b = 0; b < L; ++b) {
            auto& blk = model.blocks[static_cast<std::size_t>(b)];
            int first = 0;
            const bool stackQkv = !rule.qkvStack.empty() && blk.q->outFeatures() == blk.k->outFeatures() &&
                                  blk.k->outFeatures() == blk.v->outFeatures();
            if (stackQkv) {
                Group g;
                g.info.name = phiArchitecture().blockPrefix(b) + "self_attn.qkv";
                g.info.method = rule.qkvStack;
                for (int k = 0; k < 3; ++k) {
                    g.info.members.push_back(linearName(b, kKinds[k]));
                    g.slots.push_back(slotOf(blk, k));
                }
                g.info.shape = {blk.q->outFeatures(), blk.q->inFeatures()};
                g.info.denseParams = 3 * blk.q->outFeatures() * blk.q->inFeatures();
                g.info.maxRank = static_cast<int>(std::min(blk.q->outFeatures(), blk.q->inFeatures()));
                g.block = b;
                groups.push_back(std::move(g));
                first = 3;
            }
            for (int k = first; k < 6; ++k) single(linearName(b, kKinds[k]), slotOf(blk, k), rule.single(k), b);
        }
    }
    if (o.includeLmHead && !model.config.tieWordEmbeddings) single(kLmHead, &model.lmHead, rule.lmHead, -1);
    return groups;
}

std::vector<Group> planGroups(PhiModel& model, const CompressOptions& o) {
    // The strategy decides the grouping (strategies/*.cpp); an unknown id fails naming the table's.
    std::vector<Group> groups = strategyFor(o.method).plan(model, o);
    for (const auto& g : groups)
        for (auto* s : g.slots)
            if ((*s)->method() != "dense")
                fail(g.info.name, "is already compressed (" + (*s)->method() + "); compress the original model instead");
    return groups;
}

std::vector<GroupInfo> groupInfos(PhiModel& model, const CompressOptions& opts) {
    std::vector<GroupInfo> out;
    for (auto& g : planGroups(model, opts)) out.push_back(g.info);
    return out;
}

double groupKeepFraction(const PhiModel& model, const std::vector<Group>& groups, double keepFraction) {
    if (!(keepFraction > 0.0 && keepFraction <= 1.0))
        fail("--target-params " + std::to_string(keepFraction), "the kept fraction must be in (0, 1]");
    const double total = double(model.parameterCount());
    double compressible = 0;
    for (const auto& g : groups) compressible += double(g.info.denseParams);
    const double fixed = total - compressible;
    const double f = (keepFraction * total - fixed) / compressible;
    if (f <= 0)
        fail("--target-params " + std::to_string(keepFraction),
             "cannot be reached: the uncompressed parts alone (embedding, norms, biases) hold " +
                 std::to_string(fixed / total) + " of the parameters");
    return std::min(1.0, f);
}

namespace {

// --- statistics --------------------------------------------------------------------------------

at::Tensor flat2d(const at::Tensor& x) { return x.reshape({-1, x.size(-1)}).to(at::kDouble); }

// Wraps a linear map and records its inputs; slots sharing one input share one recorder.
struct Recorder {
    std::vector<at::Tensor> inputs;  // flattened float64 inputs, one per call
    const void* lastPtr = nullptr;
    void add(const at::Tensor& x) {
        if (x.data_ptr() == lastPtr) return;  // q/k/v see the same tensor: record it once
        lastPtr = x.data_ptr();
        inputs.push_back(flat2d(x).to(at::kCPU));
    }
    at::Tensor all() const { return at::cat(inputs, 0); }
};

class RecordingLinear final : public LinearOp {
public:
    RecordingLinear(std::shared_ptr<LinearOp> inner, std::shared_ptr<Recorder> rec) : inner_(std::move(inner)), rec_(std::move(rec)) {}
    at::Tensor forward(const at::Tensor& x) const override {
        rec_->add(x);
        return inner_->forward(x);
    }
    std::int64_t inFeatures() const override { return inner_->inFeatures(); }
    std::int64_t outFeatures() const override { return inner_->outFeatures(); }
    std::int64_t parameterCount() const override { return inner_->parameterCount(); }
    std::string method() const override { return inner_->method(); }
    at::Tensor denseWeight() const override { return inner_->denseWeight(); }
    at::Tensor bias() const override { return inner_->bias(); }
    void to(at::Device d, at::ScalarType s) override { inner_->to(d, s); }

private:
    std::shared_ptr<LinearOp> inner_;
    std::shared_ptr<Recorder> rec_;
};

// Runs `blk` on h with recorders on its six linear maps; returns the block output and the
// recorded inputs per kind (0..5).
std::pair<at::Tensor, std::vector<at::Tensor>> recordBlock(const PhiModel& model, const PhiBlock& blk, const at::Tensor& h,
                                                           const AttentionInputs& in) {
    PhiBlock copy = blk;
    auto shared = std::make_shared<Recorder>();  // q, k, v share the layernormed input
    std::vector<std::shared_ptr<Recorder>> recs = {shared, shared, shared, std::make_shared<Recorder>(),
                                                   std::make_shared<Recorder>(), std::make_shared<Recorder>()};
    // fc1 also sees the same layernormed input as q/k/v.
    recs[4] = shared;
    for (int k = 0; k < 6; ++k) *slotOf(copy, k) = std::make_shared<RecordingLinear>(*slotOf(copy, k), recs[static_cast<std::size_t>(k)]);
    at::Tensor out = model.blockWith(copy, h, in);
    std::vector<at::Tensor> xs;
    for (int k = 0; k < 6; ++k) xs.push_back(recs[static_cast<std::size_t>(k)]->all());
    return {out, xs};
}

InputStats statsFrom(const at::Tensor& xc, const at::Tensor& xo, bool feedback) {
    InputStats s;
    s.xtx = at::matmul(xc.t(), xc);
    s.meanC = xc.mean(0);
    s.meanO = xo.defined() ? xo.mean(0) : s.meanC;
    if (feedback && xo.defined()) s.cross = at::matmul(xc.t(), xo);
    s.tokens = xc.size(0);
    return s;
}

}  // namespace

void forEachCalibrationGram(PhiModel& model, const std::vector<std::vector<std::int64_t>>& windows, const RunContext& ctx,
                            const std::function<void(const std::string&, const at::Tensor&)>& visit) {
    const std::int64_t B = static_cast<std::int64_t>(windows.size()), T = static_cast<std::int64_t>(windows[0].size());
    std::vector<std::int64_t> flat;
    for (const auto& w : windows) flat.insert(flat.end(), w.begin(), w.end());
    at::Tensor ids = at::from_blob(flat.data(), {B, T}, at::kLong).clone().to(model.device);
    const AttentionInputs in = model.attentionInputs(B, T, 0, {}, {});
    at::Tensor h = model.embed(ids);
    for (std::size_t b = 0; b < model.blocks.size(); ++b) {
        ctx.checkCancelled();
        auto [out, xs] = recordBlock(model, model.blocks[b], h, in);
        at::Tensor shared;  // q, k, v and fc1 see one input
        for (int k = 0; k < 6; ++k) {
            const bool isShared = k < 3 || k == 4;
            if (isShared && shared.defined()) {
                visit(linearName(static_cast<int>(b), kKinds[k]), shared);
                continue;
            }
            at::Tensor x = xs[static_cast<std::size_t>(k)];
            at::Tensor g = at::matmul(x.t(), x);
            if (isShared) shared = g;
            visit(linearName(static_cast<int>(b), kKinds[k]), g);
        }
        h = out;
    }
    at::Tensor x = flat2d(at::layer_norm(h, {h.size(-1)}, model.finalLayerNorm.weight, model.finalLayerNorm.bias,
                                         model.config.layerNormEps)).to(at::kCPU);
    visit(kLmHead, at::matmul(x.t(), x));
}

// --- shared by the strategies (decompose/strategies) -------------------------------------------

double squaredRel(double e) { return e * e; }

// The weight the compressed layer should reproduce: with error feedback, the least-squares map
// from the compressed path's inputs to the original outputs, W X_o^T X_c (X_c^T X_c)^-1.
at::Tensor targetWeight(const at::Tensor& w, const InputStats* s) {
    if (!s || !s->cross.defined()) return w;
    at::Tensor g = s->xtx;
    const double damp = 1e-6 * g.diagonal().mean().item<double>() + 1e-12;
    at::Tensor gi = g + damp * at::eye(g.size(0), g.options());
    // W* = W cross^T gi^{-1}  (cross = X_c^T X_o, so X_o^T X_c = cross^T)
    at::Tensor rhs = at::matmul(w, s->cross.t());                       // [m, n]
    return at::linalg_solve(gi, rhs.t()).t();                          // rhs gi^{-1} (gi symmetric)
}

at::Tensor correctedBias(const at::Tensor& bias, const at::Tensor& w, const at::Tensor& approx, const InputStats* s,
                         bool enabled) {
    if (!enabled || !s || !bias.defined()) return bias;
    at::Tensor shift = at::matmul(w.to(at::kDouble), s->meanO) - at::matmul(approx.to(at::kDouble), s->meanC);
    return (bias.to(at::kDouble) + shift).to(bias.scalar_type());
}

void fillErrors(LayerReport& r, const at::Tensor& w, const at::Tensor& approx, const InputStats* s) {
    r.relError = relativeError(w, approx);
    if (s) r.outError = std::sqrt(std::max(0.0, relativeOutputError(w, approx, s->xtx)));
}

namespace {

// Variational refinement: Adam on the op's factors (not its bias) minimising the relative
// output error ||(M - W*) L||^2 / ||W* L||^2 with L L^T = X^T X, starting from the truncation.
// The best point seen is kept, so the result is never worse than where it started.
void refineOp(LinearOp& op, const at::Tensor& targetIn, const at::Tensor& xtx, int steps) {
    c10::InferenceMode enableAutograd(false);
    at::Tensor target = targetIn.to(at::kDouble).clone();
    at::Tensor g = xtx.to(at::kDouble).clone();
    g = 0.5 * (g + g.t());
    auto eig = at::linalg_eigh(g, "L");
    at::Tensor l = (std::get<1>(eig) * std::get<0>(eig).clamp_min(0).sqrt().unsqueeze(0)).clone();
    const double denom = at::matmul(target, l).pow(2).sum().item<double>();
    if (!(denom > 0)) return;
    std::vector<std::pair<std::string, at::Tensor*>> params;
    std::vector<at::ScalarType> types;
    for (auto& [name, p] : op.namedParameters()) {
        if (name == "bias" || name.rfind("tucker_", 0) == 0) continue;  // shared Tucker bases stay fixed
        types.push_back(p->scalar_type());
        *p = p->detach().to(at::kDouble).clone().requires_grad_(true);
        params.emplace_back(name, p);
    }
    if (params.empty()) return;
    double rms = 0;
    std::int64_t count = 0;
    for (auto& [name, p] : params) {
        rms += p->detach().pow(2).sum().item<double>();
        count += p->numel();
    }
    const double lr = 0.01 * std::sqrt(rms / double(std::max<std::int64_t>(1, count)));
    AdamW opt(params, AdamWOptions().withWeightDecay(0.0));
    auto lossOf = [&]() { return at::matmul(op.denseWeight() - target, l).pow(2).sum() / denom; };
    double best = lossOf().item<double>();
    std::vector<at::Tensor> bestValues;
    for (auto& [name, p] : params) bestValues.push_back(p->detach().clone());
    for (int step = 0; step < steps; ++step) {
        opt.zeroGrad();
        at::Tensor loss = lossOf();
        const double v = loss.item<double>();
        if (v < best) {
            best = v;
            for (std::size_t i = 0; i < params.size(); ++i) bestValues[i] = params[i].second->detach().clone();
        }
        loss.backward();
        opt.step(lr);
    }
    const double last = lossOf().item<double>();
    for (std::size_t i = 0; i < params.size(); ++i) {
        at::Tensor chosen = last < best ? params[i].second->detach() : bestValues[i];
        *params[i].second = chosen.to(types[i]).contiguous();
    }
}

// Compresses one group and installs the result into the model.
void compressGroup(Group& g, double fraction, const std::vector<const InputStats*>& stats, const at::Tensor& sharedXtx,
                   const CompressOptions& o, CompressionReport& report) {
    const std::int64_t m = g.info.shape[0], n = g.info.shape[1];
    const double memberBudget = fraction * double(m * n);
    auto explicitRank = [&]() -> int {
        auto it = o.ranks.find(g.info.name);
        if (it == o.ranks.end()) return 0;
        if (it->second <= 0 || it->second > g.info.maxRank)
            fail("rank " + std::to_string(it->second) + " for " + g.info.name,
                 "must be in [1, " + std::to_string(g.info.maxRank) + "]");
        return it->second;
    };
    const int given = explicitRank();
    // The group's strategy factorizes it (strategies/*.cpp): at the explicit rank, else at the budget.
    Candidate best = strategyFor(g.info.method).factorize(FactorizeRequest{g, given, memberBudget, stats, sharedXtx, o});
    if (o.refineSteps > 0) {
        for (std::size_t i = 0; i < g.slots.size(); ++i) {
            if (!stats[i]) continue;
            const LinearOp& original = **g.slots[i];
            at::Tensor w = original.denseWeight().to(at::kDouble);
            LayerReport& r = best.reports[i];
            r.outErrorBeforeRefine = r.outError;
            refineOp(*best.ops[i], targetWeight(w, stats[i]), stats[i]->xtx, o.refineSteps);
            at::Tensor approx = best.ops[i]->denseWeight().to(at::kDouble);
            fillErrors(r, w, approx, stats[i]);
            for (auto& [name, p] : best.ops[i]->namedParameters())
                if (name == "bias" && p->defined())
                    *p = correctedBias(original.bias(), w, approx, stats[i], o.biasCorrection).to(p->scalar_type());
        }
    }
    for (std::size_t i = 0; i < g.slots.size(); ++i) *g.slots[i] = best.ops[i];
    for (auto& r : best.reports) report.layers.push_back(std::move(r));
}

}  // namespace

std::vector<std::vector<std::int64_t>> checkedCalibration(const PhiModel& model, const CompressOptions& o) {
    std::vector<std::vector<std::int64_t>> windows;
    for (const auto& w : o.calibration) {
        if (w.empty()) continue;
        for (auto t : w)
            if (t < 0 || t >= model.config.vocabSize)
                fail("calibration", "token id " + std::to_string(t) + " is outside the vocabulary");
        windows.push_back(w);
    }
    if (windows.empty()) return windows;
    const std::size_t len = windows[0].size();
    for (const auto& w : windows)
        if (w.size() != len) fail("calibration", "all calibration windows must have one length");
    std::int64_t tokens = static_cast<std::int64_t>(windows.size() * len);
    if (tokens < 64) fail("calibration", "only " + std::to_string(tokens) + " tokens; at least 64 are needed for stable statistics");
    return windows;
}

CompressionReport compressModel(PhiModel& model, const CompressOptions& o, const RunContext& ctx) {
    c10::InferenceMode guard;
    if (o.targetBits > 0 || o.targetBytes > 0) return compressToBudget(model, o, ctx);
    auto t0 = std::chrono::steady_clock::now();
    if (!(o.keepFraction > 0.0 && o.keepFraction <= 1.0))
        fail("--target-params " + std::to_string(o.keepFraction), "the kept fraction must be in (0, 1]");
    std::vector<Group> groups = planGroups(model, o);
    const double fraction = groupKeepFraction(model, groups, o.keepFraction);
    CompressionReport report;
    report.paramsBefore = model.parameterCount();
    const DecompositionStrategy& top = strategyFor(o.method);
    report.method = top.reportName(o);
    report.solver = o.solver;
    report.refineSteps = o.refineSteps;
    for (auto& g : groups)
        for (auto* s : g.slots)
            if (!at::isfinite((*s)->denseWeight()).all().item<bool>())
                fail(g.info.name, "weights contain NaN or Inf; refusing to compress");

    if (top.compressDirect(groups, model, o, ctx, report)) {  // int8: the weights alone, every parameter kept
        report.paramsAfter = model.parameterCount();
        report.ratio = double(report.paramsAfter) / double(report.paramsBefore);
        report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return report;
    }
    const auto windows = checkedCalibration(model, o);
    const bool calibrated = !windows.empty();
    top.check(o, calibrated);
    if (o.refineSteps > 0 && !calibrated)
        fail("--refine-steps " + std::to_string(o.refineSteps), "variational refinement needs calibration (--calib)");
    report.calibrated = calibrated;
    report.errorFeedback = calibrated && o.errorFeedback;
    std::size_t done = 0;
    const std::size_t total = groups.size();
    auto progress = [&](const std::string& name) {
        ctx.report("compress", static_cast<long long>(++done), static_cast<long long>(total), {}, name);
    };

    if (!calibrated) {
        for (auto& g : groups) {
            ctx.checkCancelled();
            compressGroup(g, fraction, std::vector<const InputStats*>(g.slots.size(), nullptr), {}, o, report);
            progress(g.info.name);
        }
    } else {
        const std::int64_t B = static_cast<std::int64_t>(windows.size()), T = static_cast<std::int64_t>(windows[0].size());
        report.calibrationTokens = B * T;
        std::vector<std::int64_t> flat;
        for (const auto& w : windows) flat.insert(flat.end(), w.begin(), w.end());
        at::Tensor ids = at::from_blob(flat.data(), {B, T}, at::kLong).clone().to(model.device);
        const AttentionInputs in = model.attentionInputs(B, T, 0, {}, {});
        at::Tensor hC = model.embed(ids), hO = hC;
        const bool feedback = o.errorFeedback;
        const bool pooled = top.crossLayer();  // groups span blocks: compressed after the walk
        std::map<std::string, InputStats> stats;
        // Cross-layer groups average the statistics of their members' inputs.
        std::map<std::string, at::Tensor> xlSum;
        for (std::size_t b = 0; b < model.blocks.size(); ++b) {
            ctx.checkCancelled();
            PhiBlock original = model.blocks[b];
            auto [outC, xsC] = recordBlock(model, original, hC, in);
            std::vector<at::Tensor> xsO;
            at::Tensor outO;
            if (feedback) std::tie(outO, xsO) = recordBlock(model, original, hO, in);
            for (int k = 0; k < 6; ++k) {
                const std::string name = linearName(static_cast<int>(b), kKinds[k]);
                stats[name] = statsFrom(xsC[static_cast<std::size_t>(k)], feedback ? xsO[static_cast<std::size_t>(k)] : at::Tensor(), feedback);
                if (pooled) {
                    auto& acc = xlSum[kKinds[k]];
                    acc = acc.defined() ? acc + stats[name].xtx : stats[name].xtx.clone();
                }
            }
            if (!pooled) {
                for (auto& g : groups) {
                    if (g.block != static_cast<int>(b)) continue;
                    std::vector<const InputStats*> st;
                    for (const auto& mname : g.info.members) st.push_back(&stats[mname]);
                    compressGroup(g, fraction, st, st[0]->xtx, o, report);
                    progress(g.info.name);
                }
                for (int k = 0; k < 6; ++k) stats.erase(linearName(static_cast<int>(b), kKinds[k]));
            }
            // Propagate: the compressed block on the compressed path (error feedback), or the
            // original activations (independent per-layer truncation).
            hC = feedback ? model.block(b, hC, in) : outC;
            if (feedback) hO = outO;
        }
        if (pooled) {
            for (auto& g : groups) {
                if (g.block >= 0 || g.info.name == kLmHead) continue;
                std::vector<const InputStats*> st;
                for (const auto& mname : g.info.members) st.push_back(&stats[mname]);
                const std::string kind = g.info.name.substr(3);
                compressGroup(g, fraction, st, xlSum[kind] / double(model.blocks.size()), o, report);
                progress(g.info.name);
            }
        }
        for (auto& g : groups) {
            if (g.info.name != kLmHead) continue;
            at::Tensor xc = flat2d(at::layer_norm(hC, {hC.size(-1)}, model.finalLayerNorm.weight, model.finalLayerNorm.bias,
                                                  model.config.layerNormEps)).to(at::kCPU);
            at::Tensor xo = feedback ? flat2d(at::layer_norm(hO, {hO.size(-1)}, model.finalLayerNorm.weight,
                                                             model.finalLayerNorm.bias, model.config.layerNormEps)).to(at::kCPU)
                                     : at::Tensor();
            InputStats s = statsFrom(xc, xo, feedback);
            compressGroup(g, fraction, {&s}, s.xtx, o, report);
            progress(g.info.name);
        }
    }
    if (o.int8Factors) {
        // Both factors of every low-rank layer to int8 (per row); the error this adds is
        // measured against the float factorization.
        std::map<std::string, LayerReport*> byName;
        for (auto& l : report.layers) byName[l.name] = &l;
        for (auto& g : groups)
            for (std::size_t i = 0; i < g.slots.size(); ++i) {
                auto* lr = dynamic_cast<LowRankLinear*>(g.slots[i]->get());
                if (!lr) continue;
                auto q = Int8LowRankLinear::quantize(lr->left(), lr->right(), lr->bias());
                const at::Tensor before = at::matmul(lr->left().to(at::kFloat), lr->right().to(at::kFloat));
                const double qerr = relativeError(before, q->denseWeight());
                if (auto it = byName.find(g.info.members[i]); it != byName.end()) {
                    it->second->method += "+int8";
                    it->second->int8Error = qerr;
                    it->second->paramsAfter = q->parameterCount() - (q->bias().defined() ? q->bias().numel() : 0);
                }
                *g.slots[i] = q;
            }
        report.method += "+int8";
    }
    // Everything back onto the model's device and dtype.
    for (auto& g : groups)
        for (auto* s : g.slots) (*s)->to(model.device, model.dtype);
    report.paramsAfter = model.parameterCount();
    report.ratio = double(report.paramsAfter) / double(report.paramsBefore);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return report;
}

std::string reportToJson(const CompressionReport& r) {
    nlohmann::json j;
    j["params_before"] = r.paramsBefore;
    j["params_after"] = r.paramsAfter;
    j["ratio"] = r.ratio;
    j["method"] = r.method;
    if (!r.solver.empty()) j["solver"] = r.solver;
    j["calibrated"] = r.calibrated;
    j["error_feedback"] = r.errorFeedback;
    j["calibration_tokens"] = r.calibrationTokens;
    j["refine_steps"] = r.refineSteps;
    j["int8_factors"] = r.method.size() > 5 && r.method.compare(r.method.size() - 5, 5, "+int8") == 0;
    j["seconds"] = r.seconds;
    j["format_version"] = 1;
    if (r.budgetBytes > 0) {
        j["budget_bytes"] = r.budgetBytes;
        j["planned_bytes"] = r.plannedBytes;
        j["allocation"] = r.allocation;
        j["embedding_format"] = r.embeddingFormat.empty() ? "f16" : r.embeddingFormat;
        if (r.baseLoss >= 0) j["base_loss"] = r.baseLoss;
        if (r.predictedLossIncrease >= 0) j["predicted_loss_increase"] = r.predictedLossIncrease;
        if (r.calibrated) j["measured_loss_increase"] = r.measuredLossIncrease;
        j["correction_rounds"] = r.correctionRounds;
    }
    auto& layers = j["layers"] = nlohmann::json::array();
    for (const auto& l : r.layers) {
        nlohmann::json e = {{"name", l.name}, {"group", l.group}, {"method", l.method}, {"ranks", l.ranks},
                            {"rel_error", l.relError}, {"params_before", l.paramsBefore}, {"params_after", l.paramsAfter}};
        if (l.outError >= 0) e["out_error"] = l.outError;
        if (l.outErrorBeforeRefine >= 0) e["out_error_before_refine"] = l.outErrorBeforeRefine;
        if (l.int8Error >= 0) e["int8_rel_error"] = l.int8Error;
        if (!l.whitening.empty()) e["whitening"] = l.whitening;
        if (l.bytes >= 0) e["bytes"] = l.bytes;
        layers.push_back(e);
    }
    return j.dump(2) + "\n";
}

void writeModelFiles(const PhiModel& model, const std::string& dir, const CompressionReport* report,
                     std::optional<DType> floatDtype) {
    SnapshotOptions snap;
    snap.floatDtype = floatDtype;
    std::optional<BlockMatrix> embedding;
    if (report && !report->embeddingFormat.empty()) {
        // A quantized embedding is held dequantized; its blocks are re-derived and checked to
        // reproduce the held values exactly (the reference rules are idempotent on them).
        kernels::Format f{};
        if (!kernels::parseFormat(report->embeddingFormat, f) || !kernels::isQuantized(f))
            fail("embedding format " + report->embeddingFormat, "expected q8 or q4");
        at::Tensor e = model.embedTokens.to(at::kCPU, at::kFloat).contiguous();
        embedding = requantizeExactly(e, f);
        snap.embeddingBlocks = &*embedding;
    }
    if (report) snap.compressionJson = reportToJson(*report);
    writeModelSnapshot(model, dir, snap);
}

CompressionReport compressModelDir(const std::string& modelDir, const std::string& outDir, const CompressOptions& opts,
                                   const RunContext& ctx, bool replace) {
    Checkpoint ckpt = Checkpoint::open(modelDir);
    std::error_code ec;
    if (fs::exists(fs::path(modelDir) / "compression.json", ec))
        fail(modelDir, "is already compressed; compress the original model instead");
    if (fs::exists(outDir, ec) && fs::equivalent(outDir, modelDir, ec)) fail(outDir, "--out must differ from the model directory");
    std::optional<DType> store;
    if (!opts.storeDtype.empty()) {
        DType d{};
        if (opts.storeDtype == "source") {
            const std::string src = summarize(ckpt).dtype;  // the dominant dtype on disk
            if (parseDType(src, d) && (d == DType::F32 || d == DType::F16 || d == DType::BF16)) store = d;
        } else if (parseDType(opts.storeDtype, d) && (d == DType::F32 || d == DType::F16 || d == DType::BF16)) {
            store = d;
        } else {
            fail("--store-dtype " + opts.storeDtype, "expected F32, F16, BF16 or source");
        }
    }
    const bool byteBudget = opts.targetBits > 0 || opts.targetBytes > 0;
    CompressOptions run = opts;
    if (byteBudget) {
        // The budget counts 16-bit floats for every tensor that is not an encoded matrix.
        if (store && *store == DType::F32 && opts.storeDtype != "source")
            fail("--store-dtype " + opts.storeDtype, "a byte budget stores 16-bit floats; use F16, BF16 or source");
        if (!store || *store == DType::F32) store = DType::F16;
        run.storeDtype = dtypeName(*store);
    }
    PhiModel model = loadPhiModel(ckpt, LoadOptions(), ctx);
    CompressionReport report = compressModel(model, run, ctx);
    buildDirectoryAtomically(outDir, [&](const std::string& tmp) {
        writeModelFiles(model, tmp, &report, store);
        for (const char* extra : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                                  "merges.txt", "generation_config.json", "added_tokens.json"}) {
            const fs::path src = fs::path(modelDir) / extra;
            if (fs::exists(src, ec)) fs::copy_file(src, fs::path(tmp) / extra, ec);
        }
    }, replace);
    return report;
}

}  // namespace qcw
