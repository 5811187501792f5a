#pragma once
// Singular-value spectra of a model's matrices, as plain data for the CLI and the UI
// (spectra.cpp). The statistics of one spectrum: decompose/spectra_stats.h.
#include "common/run_context.h"
#include "decompose/spectra_stats.h"

#include <string>
#include <vector>

namespace qcw {

struct MatrixSpectrum {
    std::string name;                    // tensor name, e.g. model.layers.0.mlp.fc1.weight
    std::string storage = "dense";       // how the checkpoint stores it: dense, or the factorized
                                         // layer's method (svd, tucker, tt, int8, lowrank-int8)
    std::vector<double> singularValues;  // descending, all min(rows, cols) of them
    SpectralStats stats;                 // of the first numericalRank values
    // Singular values above s_max * max(rows, cols) * eps(float32): the rank the matrix has in
    // the float32 arithmetic it was computed in (the rest is rounding noise).
    int numericalRank = 0;
};

// Spectra of every compressible matrix whose name contains `filter` (empty: all); in a
// compressed snapshot also of every factorized layer, as "<layer>.weight" (see below). Reads one
// tensor at a time from the memory map and releases it afterwards.
std::vector<MatrixSpectrum> computeSpectra(const std::string& modelDir, const std::string& filter = {},
                                           const RunContext& ctx = RunContext::none());

// The spectrum of one 2-D tensor named exactly `tensorName` (any matrix: embeddings and
// lm_head too). In a compressed snapshot, "<layer>.weight" of a factorized layer (low-rank,
// Tucker, tensor-train or int8) is the dense matrix its factors rebuild: only that layer's
// tensors are read, never the whole model. Throws qcw::Error (one line) when the model has no
// such tensor or it is not a matrix; qcw::Cancelled when `ctx` is cancelled before the
// decomposition starts.
MatrixSpectrum computeMatrixSpectrum(const std::string& modelDir, const std::string& tensorName,
                                     const RunContext& ctx = RunContext::none());

}  // namespace qcw
