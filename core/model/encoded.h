#pragma once
// Linear maps stored in 8-/4-bit blocks (the kernels' Q8 and Q4, bit-identical to GGML's
// Q8_0 and Q4_0 blocks) and how a snapshot stores and rebuilds them. One unit for the writer
// (compress) and the loader:
//   <T>.q8 (I8 [rows, 32 * blocks]) + <T>.q8_scale (F16 [rows, blocks])   a Q8 matrix
//   <T>.q4 (U8 [rows, 16 * blocks]) + <T>.q4_scale (F16 [rows, blocks])   a Q4 matrix
// where <T> is <layer>.weight (a quantized dense map), <layer>.lowrank_left / _right (a
// low-rank map with quantized factors), <layer>.lqer_left / _right (the low-rank correction
// added to a quantized <layer>.weight: W ~ Q(W) + L R), or model.embed_tokens.weight.
#include "io/checkpoint.h"
#include "kernels/linear.h"
#include "model/packed.h"
#include "model/phi_model.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace qcw {

// A matrix [rows, cols] in Q8 or Q4 blocks. Layout per row: blocksPerRow blocks of 32 int8
// values (Q8) or 16 bytes (Q4: element j in the low nibble of byte j, element j + 16 in the
// high nibble), padded past cols with the code of 0; scales [rows, blocksPerRow] as fp16 bits.
struct BlockMatrix {
    kernels::Format format = kernels::Format::Q8;
    std::int64_t rows = 0, cols = 0;
    std::vector<std::uint8_t> data;
    std::vector<std::uint16_t> scales;

    std::int64_t blocksPerRow() const { return (cols + kernels::kBlock - 1) / kernels::kBlock; }
    std::int64_t bytesPerBlock() const { return format == kernels::Format::Q8 ? 32 : 16; }
    std::int64_t storedBytes() const { return static_cast<std::int64_t>(data.size() + 2 * scales.size()); }
    at::Tensor dequantize() const;   // float32 [rows, cols]
    PackedWeight packed() const;     // for the CPU kernels (scales widened to fp32, exactly)
    // From a packed Q8/Q4 view whose scales are fp16 values (as packed() makes them).
    static BlockMatrix fromView(const kernels::WeightView& v, const std::string& what);
    static BlockMatrix zeros(kernels::Format format, std::int64_t rows, std::int64_t cols);
};

// Bytes a rows x cols matrix takes stored in `format` (Q8: 34 per 32 values, Q4: 18 per 32,
// padding blocks included; F16/BF16: 2 a value; F32: 4).
std::int64_t storedMatrixBytes(std::int64_t rows, std::int64_t cols, kernels::Format format);

// GGML's reference rules for one block of 32 floats (quantize_row_q8_0_ref, _q4_0_ref):
// Q8: d = max|x| / 127, q = roundf(x / d); Q4: d = m / -8 with m the first value of largest
// magnitude, q = min(15, (int)(x / d + 8.5)). Values use the fp32 scale; the fp16 one is kept.
void quantizeBlockQ8(const float* x, std::int8_t* q, std::uint16_t* scale);
void quantizeBlockQ4(const float* x, std::uint8_t* q, std::uint16_t* scale);
// The fp32 scale and inverse of one block by those rules (for error-feedback quantizers).
void blockScale(const float* x, kernels::Format format, float& d, float& id);

// y = base(x) + correction(x): a quantized map and the low-rank map fitted to its error.
// The bias lives in `base`.
class SumLinear final : public LinearOp {
public:
    SumLinear(std::shared_ptr<LinearOp> base, std::shared_ptr<LinearOp> correction, std::string method);
    at::Tensor forward(const at::Tensor& x) const override;
    std::int64_t inFeatures() const override { return base_->inFeatures(); }
    std::int64_t outFeatures() const override { return base_->outFeatures(); }
    std::int64_t parameterCount() const override;
    std::string method() const override { return method_; }
    at::Tensor denseWeight() const override;
    at::Tensor bias() const override { return base_->bias(); }
    void to(at::Device device, at::ScalarType dtype) override;
    std::vector<std::pair<std::string, at::Tensor*>> namedParameters() override { return base_->namedParameters(); }
    std::int64_t storedBytes() const override;
    const LinearOp& base() const { return *base_; }
    const LinearOp& correction() const { return *correction_; }

private:
    std::shared_ptr<LinearOp> base_, correction_;
    std::string method_;
};

// --- writing ----------------------------------------------------------------------------------
// The tensors that store `op` under `name` (bias excluded) when it is an encoded map (a packed
// dense map: Q8/Q4 blocks, or its 16/32-bit weight as such; a packed low-rank map with at
// least one Q8/Q4 factor; or a SumLinear);
// false, adding nothing, otherwise. Each is handed to `add` (name, tensor on the CPU).
using TensorSink = std::function<void(const std::string&, const at::Tensor&)>;
bool encodedTensors(const std::string& name, const LinearOp& op, const TensorSink& add);
// The tensors of one block matrix stored as <base>.q8|q4 and <base>.q8_scale|q4_scale.
void blockMatrixTensors(const std::string& base, const BlockMatrix& m, const TensorSink& add);

// --- loading ----------------------------------------------------------------------------------
// Whether `base` is stored as a block matrix (<base>.q8 or <base>.q4).
bool hasBlockMatrix(const Checkpoint& ckpt, const std::string& base);
// Reads <base>.q8|q4 and its scales, checked against [rows, cols] (cols <= 0: any, from the
// data); throws qcw::Error naming the file and tensor otherwise.
BlockMatrix readBlockMatrix(const Checkpoint& ckpt, const std::string& base, std::int64_t rows, std::int64_t cols);
// Whether the linear map `name` is stored encoded (a quantized weight or quantized factors).
bool hasEncodedLinear(const Checkpoint& ckpt, const std::string& name);
// Builds it: packed for the CPU kernels when `packed`, else dense tensors of `dtype` on
// `device` (dequantized; trainable as any dense or low-rank map).
std::shared_ptr<LinearOp> loadEncodedLinear(const Checkpoint& ckpt, const std::string& name, std::int64_t out,
                                            std::int64_t in, at::Tensor bias, bool packed, at::ScalarType dtype,
                                            at::Device device);

}  // namespace qcw
