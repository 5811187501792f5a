#pragma once
// The plain-data facade over the torch model for app/ and ui/: no torch types here.
#include "common/run_context.h"
#include "io/inventory.h"
#include "io/phi_config.h"
#include "model/generate.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qcw {

struct EngineOptions {
    std::string device = "cpu";
    std::string dtype = "auto";
    int threads = 0;  // 0: leave LibTorch's default (every core)
    // How the linear maps are held (LoadOptions::weights), or "auto": "stored" on the CPU with
    // float32 compute (the CPU kernels on the file's own bytes), "compute" otherwise.
    std::string weights = "auto";
};

// A row-major float32 array with its shape.
struct HostTensor {
    std::vector<std::int64_t> shape;
    std::vector<float> data;
};

struct ForwardResult {
    HostTensor logits;                     // [B, T, V]
    std::vector<HostTensor> hiddenStates;  // when asked: embedding output, each block, final norm
};

class Engine {
public:
    static std::unique_ptr<Engine> load(const std::string& dir, const EngineOptions& opts = {},
                                        const RunContext& ctx = RunContext::none());
    ~Engine();

    const PhiConfig& config() const;
    const ModelSummary& summary() const;
    std::string deviceName() const;
    // The CUDA device index the model lives on (0 when the device was given as plain "cuda");
    // -1 on the CPU.
    int cudaDeviceIndex() const;
    std::string computeDtype() const;
    // The weights mode in use ("compute", "stored", "q8", ...) and the kernels' instruction set
    // ("avx512", "avx2", "generic"; empty with weights "compute").
    std::string weightsMode() const;
    std::string kernelIsa() const;
    double loadSeconds() const;
    std::int64_t parameterCount() const;
    // Bytes of the loaded weights as held for compute (factors, int8 weights and scales included).
    std::int64_t weightBytes() const;
    // Bytes of weights one decode step reads: every linear map whole, one embedding row.
    std::int64_t weightBytesPerToken() const;

    // ids and mask are row-major [batch, time]; mask may be empty (all ones).
    ForwardResult forward(const std::vector<std::int64_t>& ids, const std::vector<std::int64_t>& mask,
                          std::int64_t batch, std::int64_t time, bool hiddenStates = false) const;

    std::vector<std::vector<std::int64_t>> generate(const std::vector<std::vector<std::int64_t>>& prompts,
                                                    const GenerateOptions& opts, const TokenCallback& onToken = {},
                                                    const RunContext& ctx = RunContext::none(),
                                                    GenerationStats* stats = nullptr) const;

    struct Impl;
    Impl& impl() const { return *impl_; }

private:
    Engine();
    std::unique_ptr<Impl> impl_;
};

// Peak resident set size of this process so far, in bytes (VmHWM).
std::size_t peakRssBytes();
std::size_t currentRssBytes();

}  // namespace qcw
