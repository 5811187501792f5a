#pragma once
// Byte-budget compression: the encodings one matrix may take (each a self-contained unit: its
// id, how it factorizes with its error, the bytes it stores, the op the loader rebuilds), the
// candidates offered per matrix, and compressToBudget (declared in compress.h), which
// measures each matrix's sensitivity on calibration data, solves the joint (method, rank,
// bits) allocation under the byte budget and installs the chosen encodings. Internal (torch).
#include "kernels/linear.h"
#include "model/phi_model.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qcw {

struct EncodingSpec {
    // "f16": 16-bit; "q8", "q4": blocks (GPTQ under calibration); "lowrank": activation-aware
    // SVD of rank `rank` with both factors in `format`; "q4+lqer": q4 blocks plus a rank-`rank`
    // correction of their error with factors in q8.
    std::string method = "f16";
    kernels::Format format = kernels::Format::F16;
    int rank = 0;
    std::string id() const;                              // "f16", "q4", "lowrank64-q8", "q4+lqer32"
    std::int64_t bytes(std::int64_t m, std::int64_t n) const;  // weights, factors and scales
    int tensors() const;                                 // tensors it writes (for the header)
    int bits() const;                                    // bits of its stored values
};

struct EncodedMatrix {
    EncodingSpec spec;
    at::Tensor approx;                  // float32 [m, n]: what the op computes
    std::shared_ptr<LinearOp> op;       // packed for the CPU kernels, with the bias
    double error = 0;                   // relative output error squared (weight error without calibration)
};

// The encodings offered for an m x n matrix (16-bit, q8, q4, low-rank at several ranks in
// q8 and q4, q4 plus corrections of rank 32 and 64 where they are cheaper than q8).
std::vector<EncodingSpec> candidateEncodings(std::int64_t m, std::int64_t n);

// Encodes w under the calibration Gram matrix (undefined: none) with every spec, sharing the
// quantizations and SVDs between them; ops are built only when `withOps`.
std::vector<EncodedMatrix> encodeAll(const at::Tensor& w, const at::Tensor& bias, const at::Tensor& xtx,
                                     const std::vector<EncodingSpec>& specs, bool gptq, bool withOps);

}  // namespace qcw
