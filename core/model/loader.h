#pragma once
// Builds a PhiModel from a checkpoint: every tensor is validated against the config, copied
// out of the memory map into the compute dtype, and its mapped pages are released so the
// file is not resident twice.
#include "common/run_context.h"
#include "io/checkpoint.h"
#include "model/phi_model.h"

namespace qcw {

struct LoadOptions {
    std::string device = "cpu";   // "cpu", "cuda", "cuda:1"
    std::string dtype = "auto";   // "auto" (fp32 on CPU, bf16 on CUDA), "float32", "float16", "bfloat16"
    LoadOptions& onDevice(std::string d) { device = std::move(d); return *this; }
    LoadOptions& withDtype(std::string d) { dtype = std::move(d); return *this; }
};

at::Device parseDevice(const std::string& name);
at::ScalarType parseComputeDtype(const std::string& name, const at::Device& device);
at::ScalarType toScalarType(DType t);

// Copies one tensor out of the map as a contiguous tensor of `dtype` on `device`.
at::Tensor tensorFromView(const TensorView& v, at::ScalarType dtype, at::Device device);

PhiModel loadPhiModel(const Checkpoint& ckpt, const LoadOptions& opts = {}, const RunContext& ctx = RunContext::none());

}  // namespace qcw
