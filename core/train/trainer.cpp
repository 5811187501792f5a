// The training loop and its checkpoints.
#include "train/train.h"

#include "model/cuda_support.h"
#include "train/distributed.h"

#include "common/error.h"
#include "common/files.h"
#include "io/arch.h"
#include "io/safetensors.h"

#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>

#include <unistd.h>

namespace fs = std::filesystem;

namespace qcw {

namespace {

constexpr const char* kStatePrefix = "step-";
const double kNaN = std::numeric_limits<double>::quiet_NaN();

bool isLoraName(const std::string& n) {
    auto ends = [&](const char* s) {
        const std::size_t k = std::strlen(s);
        return n.size() >= k && n.compare(n.size() - k, k, s) == 0;
    };
    return ends(".lora_A") || ends(".lora_B");
}

std::string checkpointName(std::int64_t step) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%08lld", kStatePrefix, static_cast<long long>(step));
    return buf;
}

// Step number of a "step-NNNNNNNN" directory name, or -1.
std::int64_t stepOfName(const std::string& name) {
    const std::size_t p = std::strlen(kStatePrefix);
    if (name.size() != p + 8 || name.compare(0, p, kStatePrefix) != 0) return -1;
    for (std::size_t i = p; i < name.size(); ++i)
        if (name[i] < '0' || name[i] > '9') return -1;
    return std::stoll(name.substr(p));
}

std::vector<std::pair<std::int64_t, fs::path>> checkpointsIn(const std::string& dir) {
    std::vector<std::pair<std::int64_t, fs::path>> out;
    std::error_code ec;
    if (dir.empty() || !fs::is_directory(dir, ec)) return out;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::int64_t s = stepOfName(e.path().filename().string());
        if (s >= 0 && fs::exists(e.path() / "trainer.json", ec) && fs::exists(e.path() / "state.safetensors", ec))
            out.emplace_back(s, e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

std::string latestCheckpoint(const std::string& dir) {
    auto all = checkpointsIn(dir);
    return all.empty() ? std::string() : all.back().second.string();
}

struct Trainer::State {
    PhiModel& model;
    const PhiModel* teacher = nullptr;
    const TeacherTopK* cache = nullptr;
    std::vector<std::vector<std::int64_t>> windows, evalWindows;
    std::int64_t length = 0;
    TrainOptions o;
    std::string ckptDir, runJson = "{}";
    std::unique_ptr<AdamW> opt;
    bool lora = false;

    // Resumable position.
    std::int64_t step = 0;
    std::vector<std::int64_t> order;
    std::size_t cursor = 0;
    std::int64_t epoch = 0;
    std::mt19937_64 rng;
    double bestEval = kNaN;
    int badEvals = 0;
    double lastLoss = kNaN;  // of the last step taken (kept in checkpoints)
    dist::Group* pg = nullptr;
    std::string stepLog;

    int world() const { return pg ? pg->world() : 1; }
    int rank() const { return pg ? pg->rank() : 0; }
    // This rank's part of a micro-batch drawn for all ranks.
    std::vector<std::int64_t> share(const std::vector<std::int64_t>& idx) const {
        const std::size_t W = std::size_t(world()), R = std::size_t(rank());
        return {idx.begin() + long(R * idx.size() / W), idx.begin() + long((R + 1) * idx.size() / W)};
    }
    std::vector<at::Tensor> trainable() const {
        std::vector<at::Tensor> out;
        for (const auto& p : opt->params()) out.push_back(*p.second);
        return out;
    }

    explicit State(PhiModel& m) : model(m) {}

    std::int64_t nextWindow() {
        if (cursor >= order.size()) {
            order.resize(windows.size());
            std::iota(order.begin(), order.end(), std::int64_t(0));
            std::shuffle(order.begin(), order.end(), rng);
            cursor = 0;
            ++epoch;
        }
        return order[cursor++];
    }

    at::Tensor batchOf(const std::vector<std::vector<std::int64_t>>& src, const std::vector<std::int64_t>& idx) const {
        const std::int64_t L = static_cast<std::int64_t>(src[static_cast<std::size_t>(idx[0])].size());
        at::Tensor ids = at::empty({static_cast<std::int64_t>(idx.size()), L}, at::kLong);
        auto* dst = ids.data_ptr<std::int64_t>();
        for (std::size_t i = 0; i < idx.size(); ++i) {
            const auto& w = src[static_cast<std::size_t>(idx[i])];
            if (static_cast<std::int64_t>(w.size()) != L) fail("training data", "windows in one batch differ in length");
            std::memcpy(dst + i * L, w.data(), static_cast<std::size_t>(L) * sizeof(std::int64_t));
        }
        return ids;
    }

    bool autocast() const { return o.bf16Autocast && model.device.is_cuda(); }

    at::Tensor loss(const at::Tensor& ids, const std::vector<std::int64_t>& idx) {
        cuda::Autocast amp(autocast());
        ForwardArgs args;
        args.inputIds = ids;
        at::Tensor logits = model.forward(args);
        if (cache) {
            const at::Tensor rows = at::tensor(idx, at::kLong);
            return topKDistillationLoss(logits, cache->values.index_select(0, rows), cache->indices.index_select(0, rows), ids,
                                        o.temperature, o.alpha);
        }
        if (!teacher) return causalLmLoss(logits, ids);
        at::Tensor t;
        {
            c10::InferenceMode guard;
            ForwardArgs targs;
            targs.inputIds = ids;
            t = teacher->forward(targs);
        }
        return distillationLoss(logits, t.clone(), ids, o.temperature, o.alpha);
    }
};

Trainer::Trainer(PhiModel& student, std::vector<std::vector<std::int64_t>> windows, TrainOptions opts, const PhiModel* teacher)
    : s_(std::make_unique<State>(student)) {
    auto& s = *s_;
    s.teacher = teacher;
    s.o = opts;
    if (opts.steps <= 0) fail("--steps " + std::to_string(opts.steps), "must be positive");
    if (opts.batch <= 0) fail("--batch " + std::to_string(opts.batch), "must be positive");
    if (opts.accum <= 0) fail("--accum " + std::to_string(opts.accum), "must be positive");
    if (!(opts.lr > 0)) fail("--lr " + std::to_string(opts.lr), "must be positive");
    if (windows.empty()) fail("training data", "has no token windows");
    s.length = static_cast<std::int64_t>(windows[0].size());
    if (s.length < 2) fail("training data", "windows need at least 2 tokens");
    for (std::size_t i = 0; i < windows.size(); ++i)
        if (static_cast<std::int64_t>(windows[i].size()) != s.length)
            fail("training data", "window " + std::to_string(i) + " has " + std::to_string(windows[i].size()) +
                                      " tokens, the first has " + std::to_string(s.length) + "; all must be equal");
    if (s.length > student.config.maxPositions)
        fail("training data", "windows of " + std::to_string(s.length) + " tokens exceed the model's " +
                                  std::to_string(student.config.maxPositions) + " positions");
    if (teacher && teacher->config.vocabSize != student.config.vocabSize)
        fail("teacher", "vocabulary size " + std::to_string(teacher->config.vocabSize) + " differs from the student's " +
                            std::to_string(student.config.vocabSize));
    s.windows = std::move(windows);
    s.rng.seed(opts.seed);
    s.lora = hasLora(student);

    // The trainable tensors get private copies (so a teacher sharing them stays put) that
    // require grad; every alias (tied lm_head, shared Tucker bases) is repointed.
    std::vector<std::pair<std::string, at::Tensor*>> trainable;
    const std::string embedName = phiArchitecture().name(TensorId::TokenEmbd) + kWeightSuffix;
    for (auto& p : student.parameters()) {
        const bool isLora = isLoraName(p.first);
        if (s.lora ? isLora : (opts.trainEmbeddings || p.first != embedName)) trainable.push_back(p);
    }
    if (trainable.empty()) fail("training", "the model has no trainable parameters");
    if (student.dtype != at::kFloat) fail("training", "only float32 training is supported (load the student as float32)");
    std::vector<std::pair<const void*, at::Tensor>> replaced;
    for (auto& [name, p] : trainable) {
        at::Tensor fresh = p->detach().clone();
        fresh.requires_grad_(true);
        replaced.emplace_back(p->unsafeGetTensorImpl(), fresh);
    }
    for (auto& [name, slot] : student.parameterSlots()) {
        const void* impl = slot->unsafeGetTensorImpl();
        for (auto& [old, fresh] : replaced)
            if (old == impl) *slot = fresh;
    }
    s.opt = std::make_unique<AdamW>(trainable, opts.adamw);
}

Trainer::~Trainer() = default;

void Trainer::setTeacherTopK(const TeacherTopK* cache) {
    auto& s = *s_;
    if (cache) {
        if (s.teacher) fail("distillation", "give a live teacher or a cached top-k, not both");
        if (cache->values.dim() != 3 || cache->values.size(0) != static_cast<std::int64_t>(s.windows.size()) ||
            cache->values.size(1) != s.length)
            fail("teacher cache", "does not hold one row per training window of this length");
        if (cache->windowsHash != hashWindows(s.windows)) fail("teacher cache", "was computed on other training windows");
    }
    s.cache = cache;
}

void Trainer::setEvalWindows(std::vector<std::vector<std::int64_t>> windows) {
    for (const auto& w : windows)
        if (w.size() < 2) fail("eval data", "windows need at least 2 tokens");
    s_->evalWindows = std::move(windows);
}

void Trainer::setCheckpointDir(std::string dir) { s_->ckptDir = std::move(dir); }

void Trainer::setRunConfig(const std::string& runJson) {
    try {
        if (!nlohmann::json::parse(runJson).is_object()) fail("run config", "must be a JSON object");
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        fail("run config", std::string("not valid JSON: ") + e.what());
    }
    s_->runJson = runJson;
}

std::int64_t Trainer::step() const { return s_->step; }

void Trainer::setProcessGroup(dist::Group* group) {
    if (group && group->world() > s_->o.batch)
        fail("--batch " + std::to_string(s_->o.batch), "is smaller than the " + std::to_string(group->world()) +
                                                           " processes: each needs at least one window per micro-batch");
    s_->pg = group;
}

void Trainer::setStepLog(std::string path) { s_->stepLog = std::move(path); }

double Trainer::evaluate() {
    auto& s = *s_;
    if (s.evalWindows.empty()) return kNaN;
    at::NoGradGuard noGrad;
    cuda::Autocast amp(s.autocast());
    double sum = 0.0;
    std::int64_t tokens = 0, batchNo = 0;
    const std::size_t B = static_cast<std::size_t>(s.o.batch);
    for (std::size_t i = 0; i < s.evalWindows.size(); ++batchNo) {
        // Consecutive windows of one length form a batch.
        std::vector<std::int64_t> idx{static_cast<std::int64_t>(i)};
        while (idx.size() < B && i + idx.size() < s.evalWindows.size() &&
               s.evalWindows[i + idx.size()].size() == s.evalWindows[i].size())
            idx.push_back(static_cast<std::int64_t>(i + idx.size()));
        i += idx.size();
        if (batchNo % s.world() != s.rank()) continue;  // the ranks take the batches in turn
        at::Tensor ids = s.batchOf(s.evalWindows, idx);
        ForwardArgs args;
        args.inputIds = ids;
        const std::int64_t n = ids.size(0) * (ids.size(1) - 1);
        sum += causalLmLoss(s.model.forward(args), ids).item<double>() * double(n);
        tokens += n;
    }
    if (s.pg) {
        at::Tensor both = at::tensor({sum, double(tokens)}, at::kDouble);
        s.pg->allReduceSum({both}, "the evaluation at step " + std::to_string(s.step));
        sum = both[0].item<double>();
        tokens = static_cast<std::int64_t>(both[1].item<double>());
    }
    return sum / double(tokens);
}

std::string Trainer::saveCheckpoint() {
    auto& s = *s_;
    if (s.ckptDir.empty()) fail("checkpoint", "no checkpoint directory set");
    at::NoGradGuard noGrad;
    std::error_code ec;
    fs::create_directories(s.ckptDir, ec);
    if (ec) fail(s.ckptDir, "cannot create the checkpoint directory: " + ec.message());
    const fs::path final = fs::path(s.ckptDir) / checkpointName(s.step);

    std::vector<at::Tensor> keep;
    std::vector<TensorToWrite> entries;
    auto add = [&](const std::string& name, const at::Tensor& t, DType dt) {
        at::Tensor c = t.detach().to(at::kCPU, dt == DType::I64 ? at::kLong : at::kFloat).contiguous();
        keep.push_back(c);
        entries.push_back({name, dt, std::vector<std::int64_t>(c.sizes().begin(), c.sizes().end()), c.data_ptr(), {}});
    };
    const auto& params = s.opt->params();
    nlohmann::json names = nlohmann::json::array();
    for (std::size_t i = 0; i < params.size(); ++i) {
        names.push_back(params[i].first);
        add("param/" + params[i].first, *params[i].second, DType::F32);
        add("adam_m/" + params[i].first, s.opt->firstMoments()[i], DType::F32);
        add("adam_v/" + params[i].first, s.opt->secondMoments()[i], DType::F32);
    }
    at::Tensor order = at::empty({static_cast<std::int64_t>(s.order.size())}, at::kLong);
    if (!s.order.empty()) std::memcpy(order.data_ptr<std::int64_t>(), s.order.data(), s.order.size() * sizeof(std::int64_t));
    add("data/order", order, DType::I64);

    std::ostringstream rng;
    rng << s.rng;
    nlohmann::json j;
    j["format"] = "qcw-train-checkpoint";
    j["version"] = 1;
    j["step"] = s.step;
    j["adam_steps"] = s.opt->steps();
    j["last_loss"] = std::isnan(s.lastLoss) ? nlohmann::json(nullptr) : nlohmann::json(s.lastLoss);
    j["data"] = {{"epoch", s.epoch}, {"cursor", s.cursor}, {"rng", rng.str()}, {"windows", s.windows.size()},
                 {"length", s.length}};
    j["early_stopping"] = {{"best_eval_loss", std::isnan(s.bestEval) ? nlohmann::json(nullptr) : nlohmann::json(s.bestEval)},
                           {"bad_evals", s.badEvals}};
    j["schedule"] = {{"next_step", s.step}, {"total", s.o.steps}, {"warmup", s.o.warmup}, {"lr", s.o.lr}, {"min_lr", s.o.minLr},
                     {"next_lr", warmupCosineLr(s.step, s.o.steps, s.o.warmup, s.o.lr, s.o.minLr)}};
    j["options"] = {{"batch", s.o.batch}, {"accum", s.o.accum}, {"seed", s.o.seed}, {"max_grad_norm", s.o.maxGradNorm},
                    {"weight_decay", s.o.adamw.weightDecay}, {"beta1", s.o.adamw.beta1}, {"beta2", s.o.adamw.beta2},
                    {"eps", s.o.adamw.eps}, {"eval_every", s.o.evalEvery}, {"patience", s.o.patience},
                    {"temperature", s.o.temperature}, {"alpha", s.o.alpha}, {"teacher", s.teacher != nullptr || s.cache != nullptr}};
    j["lora"] = s.lora;
    j["params"] = names;
    j["run"] = nlohmann::json::parse(s.runJson);

    buildDirectoryAtomically(final.string(), [&](const std::string& tmp) {
        writeSafetensors((fs::path(tmp) / "state.safetensors").string(), entries, {{"format", "qcw-train"}});
        writeTextFileAtomically((fs::path(tmp) / "trainer.json").string(), j.dump(2) + "\n");
    }, true);

    // Keep the newest few.
    auto all = checkpointsIn(s.ckptDir);
    const int keepN = std::max(1, s.o.keepCheckpoints);
    for (std::size_t i = 0; i + static_cast<std::size_t>(keepN) < all.size(); ++i) fs::remove_all(all[i].second, ec);
    return final.string();
}

bool Trainer::resume() {
    const std::string latest = latestCheckpoint(s_->ckptDir);
    if (latest.empty()) return false;
    loadCheckpoint(latest);
    return true;
}

void Trainer::loadCheckpoint(const std::string& dir) {
    auto& s = *s_;
    const std::string jsonPath = (fs::path(dir) / "trainer.json").string();
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(readTextFile(jsonPath));
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        fail(jsonPath, std::string("not valid JSON: ") + e.what());
    }
    try {
        if (j.value("format", "") != "qcw-train-checkpoint") fail(jsonPath, "is not a qcw training checkpoint");
        if (j.at("lora").get<bool>() != s.lora)
            fail(jsonPath, s.lora ? "was written without LoRA; this run has LoRA adapters" : "was written with LoRA adapters; this run has none");
        const auto& d = j.at("data");
        if (d.at("windows").get<std::size_t>() != s.windows.size() || d.at("length").get<std::int64_t>() != s.length)
            fail(jsonPath, "was written for " + std::to_string(d.at("windows").get<std::size_t>()) + " windows of " +
                               std::to_string(d.at("length").get<std::int64_t>()) + " tokens; this run has " +
                               std::to_string(s.windows.size()) + " of " + std::to_string(s.length));
        const auto& op = j.at("options");
        if (op.at("batch").get<int>() != s.o.batch || op.at("accum").get<int>() != s.o.accum)
            fail(jsonPath, "was written with --batch " + std::to_string(op.at("batch").get<int>()) + " --accum " +
                               std::to_string(op.at("accum").get<int>()) + "; resume with the same values");
        const auto& params = s.opt->params();
        const auto names = j.at("params").get<std::vector<std::string>>();
        if (names.size() != params.size()) fail(jsonPath, "lists " + std::to_string(names.size()) + " trainable tensors; the model has " + std::to_string(params.size()));
        for (std::size_t i = 0; i < names.size(); ++i)
            if (names[i] != params[i].first) fail(jsonPath, "trainable tensor " + std::to_string(i) + " is '" + names[i] + "', expected '" + params[i].first + "'");

        const std::string statePath = (fs::path(dir) / "state.safetensors").string();
        auto f = SafetensorsFile::open(statePath);
        auto get = [&](const std::string& name, const at::Tensor& like) {
            const TensorView* v = f->find(name);
            if (!v) fail(statePath, "has no tensor '" + name + "'");
            const bool isLong = like.scalar_type() == at::kLong;
            if (v->dtype != (isLong ? DType::I64 : DType::F32)) fail(statePath, "tensor '" + name + "' has the wrong dtype");
            if (v->shape != std::vector<std::int64_t>(like.sizes().begin(), like.sizes().end()))
                fail(statePath, "tensor '" + name + "' has the wrong shape");
            return at::from_blob(const_cast<std::uint8_t*>(v->data), v->shape, isLong ? at::kLong : at::kFloat);
        };
        at::NoGradGuard noGrad;
        for (std::size_t i = 0; i < params.size(); ++i) {
            at::Tensor& p = *params[i].second;
            p.copy_(get("param/" + names[i], p.to(at::kFloat)));
            s.opt->firstMoments()[i].copy_(get("adam_m/" + names[i], s.opt->firstMoments()[i]));
            s.opt->secondMoments()[i].copy_(get("adam_v/" + names[i], s.opt->secondMoments()[i]));
        }
        s.opt->setSteps(j.at("adam_steps").get<std::int64_t>());
        const TensorView* ov = f->find("data/order");
        if (!ov || ov->dtype != DType::I64 || ov->shape.size() != 1) fail(statePath, "has no int64 'data/order'");
        s.order.assign(reinterpret_cast<const std::int64_t*>(ov->data), reinterpret_cast<const std::int64_t*>(ov->data) + ov->shape[0]);
        for (auto x : s.order)
            if (x < 0 || x >= static_cast<std::int64_t>(s.windows.size())) fail(statePath, "data order names a window out of range");
        s.cursor = d.at("cursor").get<std::size_t>();
        if (s.cursor > s.order.size()) fail(jsonPath, "data cursor is past the end of the order");
        s.epoch = d.at("epoch").get<std::int64_t>();
        std::istringstream rng(d.at("rng").get<std::string>());
        rng >> s.rng;
        if (rng.fail()) fail(jsonPath, "data RNG state is unreadable");
        s.step = j.at("step").get<std::int64_t>();
        const auto& es = j.at("early_stopping");
        s.bestEval = es.at("best_eval_loss").is_null() ? kNaN : es.at("best_eval_loss").get<double>();
        s.badEvals = es.at("bad_evals").get<int>();
        s.lastLoss = j.contains("last_loss") && j["last_loss"].is_number() ? j["last_loss"].get<double>() : kNaN;
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        fail(jsonPath, std::string("malformed: ") + e.what());
    }
}

TrainResult Trainer::run(const RunContext& ctx) {
    auto& s = *s_;
    TrainResult r;
    r.finalLoss = kNaN;
    using Clock = std::chrono::steady_clock;
    double busy = 0.0;
    std::int64_t tokens = 0, ran = 0;
    const std::int64_t stepTokens = std::int64_t(s.o.batch) * s.o.accum * s.length;
    const std::int64_t saveSteps = s.o.saveEverySteps();
    auto lastSave = Clock::now();
    r.alreadyFinished = s.step >= s.o.steps;
    std::ofstream log;
    if (!s.stepLog.empty()) {
        log.open(s.stepLog, std::ios::app);
        if (!log) fail(s.stepLog, "cannot open the step log for writing");
    }
    if (s.pg) {
        // Every rank must train the same thing: compare what each was given.
        const std::vector<std::pair<const char*, double>> mine{
            {"the number of training windows", double(s.windows.size())}, {"the window length", double(s.length)},
            {"the training windows' contents", double(hashWindows(s.windows) & ((1ull << 40) - 1))},
            {"--batch", double(s.o.batch)}, {"--accum", double(s.o.accum)}, {"--steps", double(s.o.steps)},
            {"the step resumed from", double(s.step)}, {"--lr", s.o.lr}, {"LoRA", double(s.lora)},
            {"the teacher", double(s.teacher != nullptr) + 2.0 * double(s.cache != nullptr)}};
        at::Tensor v = at::empty({static_cast<std::int64_t>(mine.size())}, at::kDouble);
        for (std::size_t i = 0; i < mine.size(); ++i) v[static_cast<std::int64_t>(i)] = mine[i].second;
        s.pg->allReduceSum({v}, "the start-up check");
        for (std::size_t i = 0; i < mine.size(); ++i)
            if (v[static_cast<std::int64_t>(i)].item<double>() != mine[i].second * double(s.world()))
                fail("rank " + std::to_string(s.rank()), std::string("the ranks disagree on ") + mine[i].first +
                                                             ": give every rank the same data and options");
    }
    while (s.step < s.o.steps) {
        if (!s.pg && ctx.isCancelled()) {
            r.cancelled = true;
            break;
        }
        if (s.pg) s.pg->setProgress(s.step);
        const auto t0 = Clock::now();
        const double reduced0 = s.pg ? s.pg->allReduceSeconds() : 0.0;
        s.opt->zeroGrad();
        double lossSum = 0.0;
        for (int a = 0; a < s.o.accum; ++a) {
            std::vector<std::int64_t> idx;
            for (int b = 0; b < s.o.batch; ++b) idx.push_back(s.nextWindow());
            if (!s.pg) {
                at::Tensor loss = s.loss(s.batchOf(s.windows, idx), idx);
                (loss / double(s.o.accum)).backward();
                lossSum += loss.item<double>();
                continue;
            }
            // This rank's windows; its mean loss weighs by its share of the micro-batch, so
            // the sum over the ranks is the mean over the whole micro-batch.
            const std::vector<std::int64_t> mine = s.share(idx);
            const double weight = double(mine.size()) / double(idx.size());
            at::Tensor loss = s.loss(s.batchOf(s.windows, mine), mine);
            (loss * (weight / double(s.o.accum))).backward();
            lossSum += loss.item<double>() * weight;
        }
        bool stopAll = false;
        if (s.pg) {
            // One bucketed all-reduce: the gradients, then the loss and the stop flag.
            std::vector<at::Tensor> reduce;
            at::Device dev = at::kCPU;
            for (const auto& p : s.opt->params())
                if (p.second->grad().defined()) {
                    reduce.push_back(p.second->mutable_grad());
                    dev = p.second->grad().device();
                }
            at::Tensor extra = at::tensor({float(lossSum), ctx.isCancelled() ? 1.0f : 0.0f}, at::kFloat).to(dev);
            reduce.push_back(extra);
            s.pg->allReduceSum(reduce, "the gradients of step " + std::to_string(s.step + 1));
            extra = extra.cpu();
            lossSum = double(extra[0].item<float>());
            stopAll = extra[1].item<float>() > 0.0f;
        }
        const double gradNorm = s.opt->clipGradNorm(s.o.maxGradNorm);
        const double lr = warmupCosineLr(s.step, s.o.steps, s.o.warmup, s.o.lr, s.o.minLr);
        s.opt->step(lr);
        s.opt->zeroGrad();
        ++s.step;
        ++ran;
        const double loss = lossSum / double(s.o.accum);
        r.losses.push_back(loss);
        r.finalLoss = loss;
        s.lastLoss = loss;
        const double stepSeconds = std::chrono::duration<double>(Clock::now() - t0).count();
        busy += stepSeconds;
        tokens += stepTokens;
        if (log.is_open()) {
            nlohmann::json line = {{"step", s.step}, {"loss", loss}, {"lr", lr}, {"grad_norm", gradNorm},
                                   {"step_s", stepSeconds}, {"tokens", stepTokens}, {"rank", s.rank()}, {"world", s.world()},
                                   {"allreduce_s", s.pg ? s.pg->allReduceSeconds() - reduced0 : 0.0},
                                   {"weights", dist::checksum(s.trainable())}, {"pid", static_cast<long long>(::getpid())}};
            log << line.dump() << "\n" << std::flush;
        }

        std::map<std::string, double> m{{"loss", loss}, {"lr", lr}, {"grad_norm", gradNorm},
                                        {"tokens_per_s", busy > 0 ? double(tokens) / busy : 0.0},
                                        {"eta_s", busy / double(ran) * double(s.o.steps - s.step)}};
        bool stop = false;
        if (!s.evalWindows.empty() && ((s.o.evalEvery > 0 && s.step % s.o.evalEvery == 0) || s.step == s.o.steps)) {
            const double ev = evaluate();
            m["eval_loss"] = ev;
            r.evalLosses.emplace_back(s.step, ev);
            if (std::isnan(s.bestEval) || ev < s.bestEval - s.o.minDelta) {
                s.bestEval = ev;
                s.badEvals = 0;
            } else if (s.o.patience > 0 && ++s.badEvals >= s.o.patience) {
                stop = true;
                r.stoppedEarly = true;
            }
        }
        ctx.report("train", s.step, s.o.steps, std::move(m));
        const bool byTime = s.o.saveMinutes > 0 &&
                            std::chrono::duration<double>(Clock::now() - lastSave).count() >= s.o.saveMinutes * 60.0;
        if (stopAll && s.step < s.o.steps) {
            r.cancelled = true;
            break;
        }
        // Only rank 0 writes (the weights are the same on every rank); by time, rank 0 alone decides.
        if (!s.ckptDir.empty() && ((saveSteps > 0 && s.step % saveSteps == 0) || (byTime && s.rank() == 0)) &&
            s.step < s.o.steps && !stop) {
            r.lastCheckpoint = s.rank() == 0 ? saveCheckpoint() : (fs::path(s.ckptDir) / checkpointName(s.step)).string();
            ++r.periodicCheckpoints;
            lastSave = Clock::now();
        }
        if (stop) break;
    }
    if (!s.ckptDir.empty() && (ran > 0 || r.cancelled) &&
        (r.lastCheckpoint.empty() || stepOfName(fs::path(r.lastCheckpoint).filename().string()) != s.step))
        r.lastCheckpoint = s.rank() == 0 ? saveCheckpoint() : (fs::path(s.ckptDir) / checkpointName(s.step)).string();
    if (r.alreadyFinished) r.finalLoss = s.lastLoss;
    r.step = s.step;
    r.bestEvalLoss = s.bestEval;
    r.tokensPerSecond = busy > 0 ? double(tokens) / busy : 0.0;
    return r;
}

}  // namespace qcw
