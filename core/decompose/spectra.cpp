#include "decompose/spectra_api.h"

#include "common/error.h"
#include "decompose/decompose.h"
#include "io/checkpoint.h"
#include "io/inventory.h"
#include "model/loader.h"

#include <c10/core/InferenceMode.h>

namespace qcw {

std::vector<MatrixSpectrum> computeSpectra(const std::string& modelDir, const std::string& filter, const RunContext& ctx) {
    c10::InferenceMode guard;
    Checkpoint ckpt = Checkpoint::open(modelDir);
    const ModelSummary summary = summarize(ckpt);
    std::vector<const LayerInfo*> todo;
    for (const auto& l : summary.layers)
        if (l.compressible && (filter.empty() || l.name.find(filter) != std::string::npos)) todo.push_back(&l);
    std::vector<MatrixSpectrum> out;
    for (std::size_t i = 0; i < todo.size(); ++i) {
        ctx.checkCancelled();
        const TensorView* v = ckpt.find(todo[i]->name);
        at::Tensor w = tensorFromView(*v, at::kFloat, at::kCPU);
        ckpt.fileOf(v->name)->release(*v);
        MatrixSpectrum s;
        s.name = v->name;
        s.singularValues = singularValues(w);
        s.stats = spectralStats(s.singularValues, w.size(0), w.size(1));
        out.push_back(std::move(s));
        ctx.report("spectra", static_cast<long long>(i + 1), static_cast<long long>(todo.size()), {}, v->name);
    }
    return out;
}

MatrixSpectrum computeMatrixSpectrum(const std::string& modelDir, const std::string& tensorName,
                                     const RunContext& ctx) {
    c10::InferenceMode guard;
    ctx.checkCancelled();
    Checkpoint ckpt = Checkpoint::open(modelDir);
    const TensorView* v = ckpt.find(tensorName);
    if (!v) fail("spectrum", "no tensor '" + tensorName + "' in " + modelDir);
    if (v->shape.size() != 2) {
        std::string shape;
        for (std::size_t i = 0; i < v->shape.size(); ++i) shape += (i ? " x " : "") + std::to_string(v->shape[i]);
        fail("spectrum", "'" + tensorName + "' is not a matrix (shape " + (shape.empty() ? "scalar" : shape) + ")");
    }
    at::Tensor w = tensorFromView(*v, at::kFloat, at::kCPU);
    ckpt.fileOf(v->name)->release(*v);
    ctx.checkCancelled();
    MatrixSpectrum s;
    s.name = v->name;
    s.singularValues = singularValues(w);
    s.stats = spectralStats(s.singularValues, w.size(0), w.size(1));
    return s;
}

}  // namespace qcw
