#pragma once
// Saving a model as a snapshot directory, beside the loader that reads one (model/loader.h):
// config.json and model.safetensors (factors for factorized layers, blocks for encoded ones),
// tensor names from the architecture table (io/arch.h).
#include "io/safetensors.h"
#include "model/phi_model.h"

#include <optional>
#include <string>

namespace qcw {

struct BlockMatrix;

struct SnapshotOptions {
    // Floating-point tensors are stored as this dtype (F32, F16 or BF16), else as held.
    std::optional<DType> floatDtype;
    // The embedding as these 8-/4-bit blocks (the caller derives them from the held, dequantized
    // embedding), else the held embedding.
    const BlockMatrix* embeddingBlocks = nullptr;
    // Written as compression.json when not empty (a compressed snapshot).
    std::string compressionJson;
};

// Writes config.json, model.safetensors and (see above) compression.json into `dir`, which
// must exist and be empty (e.g. a temporary directory of buildDirectoryAtomically).
void writeModelSnapshot(const PhiModel& model, const std::string& dir, const SnapshotOptions& opts = {});

}  // namespace qcw
