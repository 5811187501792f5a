#include "model/engine.h"

#include "common/error.h"
#include "model/engine_impl.h"
#include "model/loader.h"
#include "model/packed.h"
#include "model/quantized.h"
#include "kernels/linear.h"

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
    std::string weights = opts.weights;
    if (weights == "auto") {
        const at::Device device = parseDevice(opts.device);
        weights = device.is_cpu() && parseComputeDtype(opts.dtype, device) == at::kFloat ? "stored" : "compute";
    } else {
        checkWeightsMode(weights);
    }
    // The threads go to the kernels' pool; LibTorch's own count is set only for the compute
    // path (with packed weights its ops run on one thread: KernelThreadScope).
    if (opts.threads > 0) {
        kernels::setThreads(opts.threads);
        if (weights == "compute" && at::get_num_threads() != opts.threads) at::set_num_threads(opts.threads);
    }
    auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Engine> e(new Engine());
    // Built in place: from a moved temporary GCC 12 warns (-Wmaybe-uninitialized, a false positive).
    e->impl_.reset(new Impl{Checkpoint::open(dir), {}, {}, 0, weights});
    e->impl_->summary = summarize(e->impl_->checkpoint);
    e->impl_->model = loadPhiModel(e->impl_->checkpoint,
                                   LoadOptions().onDevice(opts.device).withDtype(opts.dtype).withWeights(weights), ctx);
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
std::string Engine::weightsMode() const { return impl_->weights; }
std::string Engine::kernelIsa() const { return impl_->weights == "compute" ? "" : kernels::isaName(kernels::activeIsa()); }
double Engine::loadSeconds() const { return impl_->loadSeconds; }
std::int64_t Engine::parameterCount() const { return impl_->model.parameterCount(); }

std::int64_t Engine::weightBytes() const {
    auto& m = impl_->model;
    std::int64_t bytes = 0;
    for (auto& [name, t] : m.parameters())
        if (t && t->defined()) bytes += static_cast<std::int64_t>(t->nbytes());
    // Packed and int8 weights are not trainable parameters: their own count, less the bias that
    // parameters() already counted. A tied lm_head packed over the embedding adds nothing.
    for (auto& [name, op] : m.linearOps()) {
        const std::int64_t stored = (*op)->storedBytes();
        if (stored < 0) continue;
        const at::Tensor b = (*op)->bias();
        bytes += stored - (b.defined() ? static_cast<std::int64_t>(b.nbytes()) : 0);
        if (auto* p = dynamic_cast<const PackedLinear*>(op->get()))
            if (p->weight().view.data == m.embedTokens.data_ptr()) bytes -= p->weight().view.bytes();
    }
    return bytes;
}

std::int64_t Engine::weightBytesPerToken() const {
    auto& m = impl_->model;
    std::int64_t bytes = static_cast<std::int64_t>(m.embedTokens.nbytes()) / std::max<std::int64_t>(1, m.embedTokens.size(0));
    for (auto& [name, op] : m.linearOps()) {
        const std::int64_t stored = (*op)->storedBytes();
        if (stored >= 0) {
            bytes += stored;
        } else {
            for (auto& [n, t] : (*op)->namedParameters())
                if (t && t->defined()) bytes += static_cast<std::int64_t>(t->nbytes());
        }
    }
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
