#pragma once
// Builds a PhiModel from a checkpoint: every tensor is validated against the config, copied
// out of the memory map into the compute dtype, and its mapped pages are released so the
// file is not resident twice.
#include "common/run_context.h"
#include "io/checkpoint.h"
#include "model/phi_model.h"

#include <memory>
#include <utility>

namespace qcw {

struct LoadOptions {
    std::string device = "cpu";   // "cpu", "cuda", "cuda:1"
    std::string dtype = "auto";   // "auto" (fp32 on CPU, bf16 on CUDA), "float32", "float16", "bfloat16"
    // How the linear maps (dense weights and low-rank / int8 factors) are held:
    //   "compute": as tensors of the compute dtype (trainable; every device);
    //   "stored":  in the file's own form (fp32, fp16, bf16; int8 as 8-bit blocks), computed by
    //              the CPU kernels; where the file's layout is the kernels' (16/32-bit weights,
    //              int8 rows of a multiple of 32) the file mapping itself is the weight;
    //   "f32", "f16", "bf16", "q8", "q4": converted to that form at load, for the CPU kernels.
    // The packed forms need the CPU and fp32 compute. With them the token embedding stays in
    // its stored dtype too. Tucker and tensor-train layers are always held as tensors.
    std::string weights = "compute";
    LoadOptions& onDevice(std::string d) { device = std::move(d); return *this; }
    LoadOptions& withDtype(std::string d) { dtype = std::move(d); return *this; }
    LoadOptions& withWeights(std::string w) { weights = std::move(w); return *this; }
};

// Checks a weights mode ("compute", "stored", "f32", "f16", "bf16", "q8", "q4"); throws
// qcw::Error naming --weights otherwise.
void checkWeightsMode(const std::string& mode);

at::Device parseDevice(const std::string& name);
at::ScalarType parseComputeDtype(const std::string& name, const at::Device& device);
at::ScalarType toScalarType(DType t);

// Copies one tensor out of the map as a contiguous tensor of `dtype` on `device`.
at::Tensor tensorFromView(const TensorView& v, at::ScalarType dtype, at::Device device);

// The [out, in] shape of a linear map of a PhiForCausalLM with this config: `module` is
// model.layers.N.self_attn.{q_proj,k_proj,v_proj,dense}, model.layers.N.mlp.{fc1,fc2} or
// lm_head. Throws qcw::Error naming `module` otherwise.
std::pair<std::int64_t, std::int64_t> linearShape(const PhiConfig& config, const std::string& module);

// One linear map of a checkpoint, built alone, without loading the rest of the model: dense,
// int8, low-rank, Tucker (with its group's shared bases) or tensor-train, validated exactly as
// loadPhiModel validates it. A tied lm_head is the embedding matrix.
std::shared_ptr<LinearOp> loadLinear(const Checkpoint& ckpt, const std::string& module, const LoadOptions& opts = {},
                                     const RunContext& ctx = RunContext::none());

PhiModel loadPhiModel(const Checkpoint& ckpt, const LoadOptions& opts = {}, const RunContext& ctx = RunContext::none());

}  // namespace qcw
