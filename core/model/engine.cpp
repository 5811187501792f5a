#include "model/engine.h"

#include "common/error.h"
#include "model/engine_impl.h"
#include "model/loader.h"
#include "model/quantized.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>

namespace qcw {

Engine::Engine() = default;
Engine::~Engine() = default;

std::unique_ptr<Engine> Engine::load(const std::string& dir, const EngineOptions& opts, const RunContext& ctx) {
    if (opts.threads > 0) at::set_num_threads(opts.threads);
    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Engine> e(new Engine());
    e->impl_ = std::make_unique<Impl>(Impl{Checkpoint::open(dir), {}, {}, 0});
    e->impl_->summary = summarize(e->impl_->checkpoint);
    e->impl_->model = loadPhiModel(e->impl_->checkpoint, LoadOptions().onDevice(opts.device).withDtype(opts.dtype), ctx);
    e->impl_->loadSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return e;
}

const PhiConfig& Engine::config() const { return impl_->model.config; }
const ModelSummary& Engine::summary() const { return impl_->summary; }
std::string Engine::deviceName() const { return impl_->model.device.str(); }
int Engine::cudaDeviceIndex() const {
    const at::Device& d = impl_->model.device;
    if (!d.is_cuda()) return -1;
    return d.has_index() ? d.index() : 0;
}
std::string Engine::computeDtype() const { return std::string(c10::toString(impl_->model.dtype)); }
double Engine::loadSeconds() const { return impl_->loadSeconds; }
std::int64_t Engine::parameterCount() const { return impl_->model.parameterCount(); }

std::int64_t Engine::weightBytes() const {
    auto& m = impl_->model;
    std::int64_t bytes = 0;
    for (auto& [name, t] : m.parameters())
        if (t && t->defined()) bytes += static_cast<std::int64_t>(t->nbytes());
    for (auto& [name, op] : m.linearOps())  // int8 weights are not trainable parameters
        if (auto* q = dynamic_cast<const Int8Linear*>(op->get()))
            bytes += static_cast<std::int64_t>(q->qweight().nbytes() + q->scale().nbytes());
    return bytes;
}

namespace {
HostTensor toHost(const at::Tensor& t) {
    HostTensor h;
    auto c = t.to(at::kCPU, at::kFloat).contiguous();
    h.shape.assign(c.sizes().begin(), c.sizes().end());
    h.data.resize(static_cast<std::size_t>(c.numel()));
    std::memcpy(h.data.data(), c.data_ptr<float>(), h.data.size() * sizeof(float));
    return h;
}
}  // namespace

ForwardResult Engine::forward(const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& mask,
                              std::int64_t batch, std::int64_t time, bool hiddenStates) const {
    if (batch <= 0 || time <= 0 || static_cast<std::int64_t>(ids.size()) != batch * time)
        fail("forward", "input_ids hold " + std::to_string(ids.size()) + " values, expected batch x time = " +
                            std::to_string(batch) + " x " + std::to_string(time));
    if (!mask.empty() && mask.size() != ids.size())
        fail("forward", "attention_mask must have the same shape as input_ids");
    c10::InferenceMode guard;
    auto lopts = at::TensorOptions().dtype(at::kLong);
    ForwardArgs a;
    a.inputIds = at::from_blob(const_cast<std::int64_t*>(ids.data()), {batch, time}, lopts).clone();
    if (!mask.empty()) a.attentionMask = at::from_blob(const_cast<std::int64_t*>(mask.data()), {batch, time}, lopts).clone();
    std::vector<at::Tensor> hidden;
    if (hiddenStates) a.hiddenStates = &hidden;
    ForwardResult r;
    r.logits = toHost(impl_->model.forward(a));
    for (const auto& h : hidden) r.hiddenStates.push_back(toHost(h));
    return r;
}

std::vector<std::vector<std::int64_t>> Engine::generate(const std::vector<std::vector<std::int64_t>>& prompts,
                                                        const GenerateOptions& opts, const TokenCallback& onToken,
                                                        const RunContext& ctx, GenerationStats* stats) const {
    return qcw::generate(impl_->model, prompts, opts, onToken, ctx, stats);
}

namespace {
std::size_t statusField(const char* key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::size_t n = std::strlen(key);
    while (std::getline(in, line))
        if (line.compare(0, n, key) == 0) {
            std::istringstream s(line.substr(n));
            std::size_t kb = 0;
            s >> kb;
            return kb * 1024;
        }
    return 0;
}
}  // namespace

std::size_t peakRssBytes() { return statusField("VmHWM:"); }
std::size_t currentRssBytes() { return statusField("VmRSS:"); }

}  // namespace qcw
