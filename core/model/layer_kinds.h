#pragma once
// The stored layer kinds the loader rebuilds (loader.cpp's LinearBuilder::kinds()): "encoded",
// "int8", "dense", "lowrank-int8", "lowrank", "tucker", "tt", in the order it recognises them.
// Each decomposition strategy names the kinds it stores (decompose/strategies/registry.h).
#include <string>
#include <vector>

namespace qcw {

std::vector<std::string> storedLayerKinds();

}  // namespace qcw
