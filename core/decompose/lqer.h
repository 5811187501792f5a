#pragma once
// Low-rank maps with quantized factors, and low-rank correction of quantization (LQER /
// QERA): W ~ Q(W) + L R with L R the best rank-r fit of the quantization error W - Q(W) under
// the calibration inputs (SVD of (W - Q(W)) S with S S^T = X^T X, then unscaled by S^-1), its
// factors quantized too. Internal to core (torch types).
#include "decompose/quantize.h"

#include <ATen/ATen.h>

namespace qcw {

struct QuantizedFactors {
    BlockMatrix left, right;  // W ~ left [m, r] x right [r, n]
    at::Tensor approx() const;  // float32 left x right, dequantized
};

// The rank-r factors of activation-aware SVD (whitened by X^T X when `xtx` is defined, plain
// SVD otherwise), split evenly, taken from a precomputed factorization `lr` of rank >= r when
// given; each factor in `format`: with `xtx` the right one by GPTQ under X^T X and the left
// one by GPTQ under R' X^T X R'^T (R' the quantized right factor: its error is fed forward),
// else both by rounding.
struct LowRankBasis {
    at::Tensor left, right;  // float64, rank = right.size(0)
};
LowRankBasis lowRankBasis(const at::Tensor& w, const at::Tensor& xtx, int maxRank);
QuantizedFactors quantizeFactors(const LowRankBasis& basis, int rank, const at::Tensor& xtx, kernels::Format format);

struct LqerResult {
    BlockMatrix base;
    QuantizedFactors correction;
    at::Tensor approx() const;
};
// base: Q(W) by GPTQ under xtx (rounding without); the correction of rank r in `factorFormat`.
LqerResult lqer(const at::Tensor& w, const at::Tensor& xtx, kernels::Format baseFormat, int rank,
                kernels::Format factorFormat);
// The same from a base already quantized (candidates of several ranks share one base).
LqerResult lqerFromBase(const at::Tensor& w, const at::Tensor& xtx, const BlockMatrix& base, int rank,
                        kernels::Format factorFormat);

}  // namespace qcw
