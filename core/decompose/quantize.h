#pragma once
// Block quantization of matrices in the kernels' Q8 and Q4 forms (core/kernels/linear.h):
// blocks of 32 along a row, one fp16 scale per block, exactly llama.cpp's Q8_0 and Q4_0
// reference rules (so a block is bit-identical to what GGML's quantizer writes), by plain
// rounding or by GPTQ-style error feedback under the calibration inputs' Gram matrix
// H = X^T X. Internal to core (torch types).
#include "model/encoded.h"

#include <ATen/ATen.h>


namespace qcw {

// Plain rounding of every block (the reference rules above).
BlockMatrix quantizeRtn(const at::Tensor& w, kernels::Format format);

// GPTQ (Frantar et al. 2022) with the blocks' own scales: columns are quantized left to
// right and each column's rounding error, divided by the Cholesky factor of H^-1, is pushed
// onto the columns not yet quantized, so the output error ||(W - Q) X^T|| is what is
// minimised, not the weight error. A block's scale is taken from its values as updated when
// the block is reached. H [cols, cols] (float64 or float32) with `damp` times its mean
// diagonal added; columns no input ever reaches are zeroed. An undefined H is rounding.
BlockMatrix quantizeGptq(const at::Tensor& w, const at::Tensor& xtx, kernels::Format format, double damp = 0.01);

}  // namespace qcw

namespace qcw {
// Blocks for a matrix that already holds dequantized block values: quantizeRtn, checked to
// give back exactly `w`; throws qcw::Error when it does not.
BlockMatrix requantizeExactly(const at::Tensor& w, kernels::Format format);
}  // namespace qcw
