#include "model/packed.h"

#include "common/error.h"

#include <ATen/Parallel.h>

#include <cstring>
#include <mutex>

namespace qcw {

namespace {

bool kernelInput(const at::Tensor& x) { return x.device().is_cpu() && x.scalar_type() == at::kFloat; }

at::Tensor outputLike(const at::Tensor& x, std::int64_t out) {
    auto shape = x.sizes().vec();
    shape.back() = out;
    return at::empty(shape, x.options());
}

const float* biasPtr(const at::Tensor& b) { return b.defined() ? b.data_ptr<float>() : nullptr; }

at::Tensor fp32Bias(at::Tensor b) {
    if (!b.defined()) return b;
    return b.to(at::kCPU, at::kFloat).contiguous();
}

}  // namespace

PackedWeight PackedWeight::fromMatrix(kernels::PackedMatrix m) {
    auto owned = std::make_shared<kernels::PackedMatrix>(std::move(m));
    PackedWeight p;
    p.view = owned->view();
    p.owner = owned;
    return p;
}

PackedWeight PackedWeight::fromTensor(const at::Tensor& w, kernels::Format format) {
    if (w.dim() != 2) fail("pack", "a weight to pack must be 2-D");
    at::Tensor f = w.to(at::kCPU, at::kFloat).contiguous();
    return fromMatrix(kernels::pack(f.data_ptr<float>(), f.size(0), f.size(1), f.size(1), format));
}

at::Tensor PackedWeight::dense() const {
    std::vector<float> d = kernels::dequantize(view);
    at::Tensor t = at::empty({view.rows, view.cols}, at::TensorOptions().dtype(at::kFloat));
    std::memcpy(t.data_ptr<float>(), d.data(), d.size() * sizeof(float));
    return t;
}

// ---- PackedLinear -----------------------------------------------------------------------------

PackedLinear::PackedLinear(PackedWeight w, at::Tensor bias, std::string method)
    : w_(std::move(w)), bias_(fp32Bias(std::move(bias))), method_(std::move(method)) {
    if (bias_.defined() && bias_.numel() != w_.view.rows) fail("PackedLinear", "bias size differs from the output size");
}

at::Tensor PackedLinear::run(const at::Tensor& xIn, kernels::Epilogue e) const {
    if (!kernelInput(xIn)) {  // another device or dtype: the dense weight through ATen
        at::Tensor y = at::linear(xIn, denseWeight().to(xIn.device(), xIn.scalar_type()),
                                  bias_.defined() ? bias_.to(xIn.device(), xIn.scalar_type()) : bias_);
        return e == kernels::Epilogue::GeluTanh ? geluNew(y) : y;
    }
    if (xIn.size(-1) != w_.view.cols) fail("PackedLinear", "input has " + std::to_string(xIn.size(-1)) + " features, expected " + std::to_string(w_.view.cols));
    at::Tensor x = xIn.contiguous();
    at::Tensor y = outputLike(x, w_.view.rows);
    const std::int64_t n = x.numel() / w_.view.cols;
    kernels::linear(x.data_ptr<float>(), n, w_.view.cols, w_.view, biasPtr(bias_), y.data_ptr<float>(), w_.view.rows, e);
    return y;
}

at::Tensor PackedLinear::forward(const at::Tensor& x) const { return run(x, kernels::Epilogue::None); }
at::Tensor PackedLinear::forwardGelu(const at::Tensor& x) const { return run(x, kernels::Epilogue::GeluTanh); }

std::int64_t PackedLinear::parameterCount() const {
    return w_.view.rows * w_.view.cols + (bias_.defined() ? bias_.numel() : 0);
}

std::int64_t PackedLinear::storedBytes() const {
    return w_.view.bytes() + (bias_.defined() ? static_cast<std::int64_t>(bias_.nbytes()) : 0);
}

void PackedLinear::to(at::Device device, at::ScalarType) {
    if (!device.is_cpu()) fail("PackedLinear", "packed weights run on the CPU; load the model with weights 'compute' for " + device.str());
}

std::vector<std::pair<std::string, at::Tensor*>> PackedLinear::namedParameters() {
    if (bias_.defined()) return {{"bias", &bias_}};
    return {};
}

// ---- PackedLowRankLinear ------------------------------------------------------------------------

PackedLowRankLinear::PackedLowRankLinear(PackedWeight left, PackedWeight right, at::Tensor bias, std::string method)
    : left_(std::move(left)), right_(std::move(right)), bias_(fp32Bias(std::move(bias))), method_(std::move(method)) {
    if (left_.view.cols != right_.view.rows) fail("PackedLowRankLinear", "the factors' inner dimensions differ");
    if (bias_.defined() && bias_.numel() != left_.view.rows) fail("PackedLowRankLinear", "bias size differs from the output size");
}

at::Tensor PackedLowRankLinear::run(const at::Tensor& xIn, kernels::Epilogue e) const {
    if (!kernelInput(xIn)) {
        const auto d = xIn.device();
        const auto t = xIn.scalar_type();
        at::Tensor h = at::linear(xIn, right_.dense().to(d, t));
        at::Tensor y = at::linear(h, left_.dense().to(d, t), bias_.defined() ? bias_.to(d, t) : bias_);
        return e == kernels::Epilogue::GeluTanh ? geluNew(y) : y;
    }
    if (xIn.size(-1) != right_.view.cols) fail("PackedLowRankLinear", "input has " + std::to_string(xIn.size(-1)) + " features, expected " + std::to_string(right_.view.cols));
    at::Tensor x = xIn.contiguous();
    const std::int64_t n = x.numel() / right_.view.cols, r = right_.view.rows;
    at::Tensor h = at::empty({n, r}, x.options());
    kernels::linear(x.data_ptr<float>(), n, right_.view.cols, right_.view, nullptr, h.data_ptr<float>(), r);
    at::Tensor y = outputLike(x, left_.view.rows);
    kernels::linear(h.data_ptr<float>(), n, r, left_.view, biasPtr(bias_), y.data_ptr<float>(), left_.view.rows, e);
    return y;
}

at::Tensor PackedLowRankLinear::forward(const at::Tensor& x) const { return run(x, kernels::Epilogue::None); }
at::Tensor PackedLowRankLinear::forwardGelu(const at::Tensor& x) const { return run(x, kernels::Epilogue::GeluTanh); }

at::Tensor PackedLowRankLinear::denseWeight() const { return at::matmul(left_.dense(), right_.dense()); }

std::int64_t PackedLowRankLinear::parameterCount() const {
    return left_.view.rows * left_.view.cols + right_.view.rows * right_.view.cols + (bias_.defined() ? bias_.numel() : 0);
}

std::int64_t PackedLowRankLinear::storedBytes() const {
    return left_.view.bytes() + right_.view.bytes() + (bias_.defined() ? static_cast<std::int64_t>(bias_.nbytes()) : 0);
}

void PackedLowRankLinear::to(at::Device device, at::ScalarType) {
    if (!device.is_cpu()) fail("PackedLowRankLinear", "packed weights run on the CPU; load the model with weights 'compute' for " + device.str());
}

std::vector<std::pair<std::string, at::Tensor*>> PackedLowRankLinear::namedParameters() {
    if (bias_.defined()) return {{"bias", &bias_}};
    return {};
}

// ---- LibTorch's threads while the kernels run ---------------------------------------------------

namespace {
std::mutex g_scopeMutex;
int g_scopes = 0;
int g_savedThreads = 0;
}  // namespace

KernelThreadScope::KernelThreadScope(bool active) : active_(active) {
    if (!active_) return;
    std::lock_guard<std::mutex> lock(g_scopeMutex);
    if (g_scopes++ == 0) {
        g_savedThreads = at::get_num_threads();
        if (g_savedThreads != 1) at::set_num_threads(1);
    }
}

KernelThreadScope::~KernelThreadScope() {
    if (!active_) return;
    std::lock_guard<std::mutex> lock(g_scopeMutex);
    if (--g_scopes == 0 && g_savedThreads != 1 && g_savedThreads > 0) at::set_num_threads(g_savedThreads);
}

bool usesKernels(const PhiModel& model) {
    return dynamic_cast<const PackedLinear*>(model.lmHead.get()) || dynamic_cast<const PackedLowRankLinear*>(model.lmHead.get()) ||
           (!model.blocks.empty() && (dynamic_cast<const PackedLinear*>(model.blocks[0].fc1.get()) ||
                                      dynamic_cast<const PackedLowRankLinear*>(model.blocks[0].fc1.get())));
}

// ---- several maps, one pass ------------------------------------------------------------------------

bool packedForwardMany(std::initializer_list<const LinearOp*> ops, const at::Tensor& xIn, at::Tensor* outs) {
    if (!kernelInput(xIn)) return false;
    struct Item {
        const PackedLinear* dense = nullptr;
        const PackedLowRankLinear* lowRank = nullptr;
    };
    std::vector<Item> items;
    for (const LinearOp* op : ops) {
        Item it{dynamic_cast<const PackedLinear*>(op), dynamic_cast<const PackedLowRankLinear*>(op)};
        if (!it.dense && !it.lowRank) return false;
        if ((it.dense ? it.dense->inFeatures() : it.lowRank->inFeatures()) != xIn.size(-1)) return false;
        items.push_back(it);
    }
    at::Tensor x = xIn.contiguous();
    const std::int64_t in = x.size(-1), n = x.numel() / in;
    std::vector<kernels::LinearJob> first, second;
    std::vector<at::Tensor> hidden(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
        const Item& it = items[i];
        const LinearOp& op = it.dense ? static_cast<const LinearOp&>(*it.dense) : *it.lowRank;
        outs[i] = outputLike(x, op.outFeatures());
        const at::Tensor& b = op.bias();  // fp32 on the CPU (packed constructors)
        if (it.dense) {
            first.push_back({&it.dense->weight().view, b.defined() ? b.data_ptr<float>() : nullptr, outs[i].data_ptr<float>(),
                             it.dense->outFeatures(), kernels::Epilogue::None, nullptr, 0});
        } else {
            const std::int64_t r = it.lowRank->rank();
            hidden[i] = at::empty({n, r}, x.options());
            first.push_back({&it.lowRank->right().view, nullptr, hidden[i].data_ptr<float>(), r, kernels::Epilogue::None, nullptr, 0});
            second.push_back({&it.lowRank->left().view, b.defined() ? b.data_ptr<float>() : nullptr, outs[i].data_ptr<float>(),
                              it.lowRank->outFeatures(), kernels::Epilogue::None, hidden[i].data_ptr<float>(), r});
        }
    }
    kernels::linearMany(x.data_ptr<float>(), n, in, first.data(), static_cast<int>(first.size()));
    if (!second.empty()) kernels::linearMany(nullptr, n, 0, second.data(), static_cast<int>(second.size()));
    return true;
}

}  // namespace qcw
