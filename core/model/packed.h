#pragma once
// Linear maps whose weights stay in their stored form (fp32, fp16, bf16, or 8-/4-bit blocks)
// and run on the CPU kernels of core/kernels with fp32 activations: a 16-bit checkpoint is
// 2 bytes a parameter in memory (its file mapping, when the file's layout is the compute
// layout), not 4. Built by the loader for inference (LoadOptions::weights); frozen (no
// trainable tensors but the bias).
#include "kernels/linear.h"
#include "model/phi_model.h"

#include <initializer_list>
#include <memory>

namespace qcw {

// A weight view and whatever keeps its bytes alive (a file mapping or a PackedMatrix).
struct PackedWeight {
    kernels::WeightView view;
    std::shared_ptr<const void> owner;

    static PackedWeight fromMatrix(kernels::PackedMatrix m);
    // Packs a float tensor [rows, cols] into `format`.
    static PackedWeight fromTensor(const at::Tensor& w, kernels::Format format);
    at::Tensor dense() const;  // fp32 [rows, cols]
};

// y = x W^T + b, or with `fused` GELU, gelu(x W^T + b) in one pass (forwardGelu).
class PackedLinear final : public LinearOp {
public:
    PackedLinear(PackedWeight w, at::Tensor bias, std::string method = "dense");
    at::Tensor forward(const at::Tensor& x) const override;
    at::Tensor forwardGelu(const at::Tensor& x) const override;
    std::int64_t inFeatures() const override { return w_.view.cols; }
    std::int64_t outFeatures() const override { return w_.view.rows; }
    std::int64_t parameterCount() const override;
    std::string method() const override { return method_; }
    at::Tensor denseWeight() const override { return w_.dense(); }
    at::Tensor bias() const override { return bias_; }
    void to(at::Device device, at::ScalarType dtype) override;
    std::vector<std::pair<std::string, at::Tensor*>> namedParameters() override;
    std::int64_t storedBytes() const override;
    const PackedWeight& weight() const { return w_; }

private:
    at::Tensor run(const at::Tensor& x, kernels::Epilogue e) const;
    PackedWeight w_;
    at::Tensor bias_;  // fp32 or undefined
    std::string method_;
};

// y = (x R^T) L^T + b with both factors packed: L [out, r], R [r, in].
class PackedLowRankLinear final : public LinearOp {
public:
    PackedLowRankLinear(PackedWeight left, PackedWeight right, at::Tensor bias, std::string method = "svd");
    at::Tensor forward(const at::Tensor& x) const override;
    at::Tensor forwardGelu(const at::Tensor& x) const override;
    std::int64_t inFeatures() const override { return right_.view.cols; }
    std::int64_t outFeatures() const override { return left_.view.rows; }
    std::int64_t parameterCount() const override;
    std::string method() const override { return method_; }
    at::Tensor denseWeight() const override;
    at::Tensor bias() const override { return bias_; }
    void to(at::Device device, at::ScalarType dtype) override;
    std::vector<std::pair<std::string, at::Tensor*>> namedParameters() override;
    std::int64_t storedBytes() const override;
    std::int64_t rank() const { return right_.view.rows; }
    const PackedWeight& left() const { return left_; }
    const PackedWeight& right() const { return right_; }

private:
    at::Tensor run(const at::Tensor& x, kernels::Epilogue e) const;
    PackedWeight left_, right_;
    at::Tensor bias_;
    std::string method_;
};

// While one exists (in any thread), LibTorch's intra-op threads are 1: the kernels' own pool
// does the heavy work of a packed model's step, and LibTorch's OpenMP threads, spinning
// after each small op, would take the cores from it (measured on the phi-1.5 shape, 2 cores:
// 7.1 tok/s decoding with LibTorch at 2 threads against 11.6-13.3 at 1). The count LibTorch
// had is restored when the last scope ends. PhiModel::forward and decodeStep each hold one;
// loops over many steps (generate, the server's batcher) hold an outer one, because changing
// LibTorch's count costs about 0.1 ms each way (measured) while a nested scope costs nothing.
class KernelThreadScope {
public:
    explicit KernelThreadScope(bool active);
    ~KernelThreadScope();
    KernelThreadScope(const KernelThreadScope&) = delete;
    KernelThreadScope& operator=(const KernelThreadScope&) = delete;

private:
    bool active_;
};

// True when some linear map of the model runs on the CPU kernels.
bool usesKernels(const PhiModel& model);

// Several maps of the same input in one pass of the kernels (q, k and v): dense maps in one
// call, low-rank maps' first factors in that same call and their second factors in one more.
// Returns false (and computes nothing) unless every op is packed and x is fp32 on the CPU.
bool packedForwardMany(std::initializer_list<const LinearOp*> ops, const at::Tensor& x, at::Tensor* outs);

}  // namespace qcw
