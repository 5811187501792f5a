#pragma once
// Internal: the torch side of Engine, for core code that needs the model itself.
#include "io/checkpoint.h"
#include "model/engine.h"
#include "model/phi_model.h"

namespace qcw {

struct Engine::Impl {
    Checkpoint checkpoint;
    ModelSummary summary;
    PhiModel model;
    double loadSeconds = 0;
    std::string weights = "compute";
};

}  // namespace qcw
