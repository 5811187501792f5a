#include "decompose/spectra_api.h"

#include "common/error.h"
#include "decompose/decompose.h"
#include "io/checkpoint.h"
#include "io/inventory.h"
#include "model/loader.h"

#include <c10/core/InferenceMode.h>

#include <limits>

namespace qcw {

namespace {

int numericalRank(const std::vector<double>& s, std::int64_t rows, std::int64_t cols) {
    if (s.empty()) return 0;
    const double tol = s.front() * double(std::max(rows, cols)) * double(std::numeric_limits<float>::epsilon());
    int r = 0;
    for (double v : s) r += v > tol ? 1 : 0;
    return r;
}

MatrixSpectrum spectrumOf(const std::string& name, const std::string& storage, const at::Tensor& w) {
    MatrixSpectrum s;
    s.name = name;
    s.storage = storage;
    s.singularValues = singularValues(w);
    s.numericalRank = numericalRank(s.singularValues, w.size(0), w.size(1));
    // Statistics of the values above the rounding floor: a rebuilt rank-r matrix has r, and
    // its float noise would otherwise count as a Marchenko-Pastur bulk.
    s.stats = spectralStats({s.singularValues.begin(), s.singularValues.begin() + s.numericalRank}, w.size(0), w.size(1));
    return s;
}

// The tensor that marks a factorized layer, one per storage kind.
const char* const kFirstFactor[] = {".lowrank_left", ".tucker_core", ".tt_core_0", ".qweight"};

// "<layer>.weight" of a factorized layer: the dense matrix its factors rebuild.
MatrixSpectrum factorizedSpectrum(const Checkpoint& ckpt, const std::string& tensorName, const RunContext& ctx) {
    const std::string layer = tensorName.substr(0, tensorName.size() - std::string(".weight").size());
    auto op = loadLinear(ckpt, layer, LoadOptions().withDtype("float32"), ctx);
    at::Tensor w = op->denseWeight().to(at::kFloat);
    ctx.checkCancelled();
    return spectrumOf(tensorName, op->method(), w);
}

}  // namespace

std::vector<MatrixSpectrum> computeSpectra(const std::string& modelDir, const std::string& filter, const RunContext& ctx) {
    c10::InferenceMode guard;
    Checkpoint ckpt = Checkpoint::open(modelDir);
    const ModelSummary summary = summarize(ckpt);
    // Dense matrices by tensor name; factorized layers (compressed snapshots) by their first
    // factor, as "<layer>.weight".
    struct Todo {
        std::string name;
        bool factorized;
    };
    std::vector<Todo> todo;
    for (const auto& l : summary.layers) {
        std::string name = l.name;
        bool factorized = false;
        if (!l.compressible) {
            for (const char* part : kFirstFactor) {
                const std::string p(part);
                if (name.size() > p.size() && name.compare(name.size() - p.size(), p.size(), p) == 0) {
                    name = name.substr(0, name.size() - p.size()) + ".weight";
                    factorized = true;
                    break;
                }
            }
            if (!factorized) continue;
        }
        if (filter.empty() || name.find(filter) != std::string::npos) todo.push_back({name, factorized});
    }
    std::vector<MatrixSpectrum> out;
    for (std::size_t i = 0; i < todo.size(); ++i) {
        ctx.checkCancelled();
        if (todo[i].factorized) {
            out.push_back(factorizedSpectrum(ckpt, todo[i].name, ctx));
        } else {
            const TensorView* v = ckpt.find(todo[i].name);
            at::Tensor w = tensorFromView(*v, at::kFloat, at::kCPU);
            ckpt.fileOf(v->name)->release(*v);
            out.push_back(spectrumOf(v->name, "dense", w));
        }
        ctx.report("spectra", static_cast<long long>(i + 1), static_cast<long long>(todo.size()), {}, todo[i].name);
    }
    return out;
}

MatrixSpectrum computeMatrixSpectrum(const std::string& modelDir, const std::string& tensorName,
                                     const RunContext& ctx) {
    c10::InferenceMode guard;
    ctx.checkCancelled();
    Checkpoint ckpt = Checkpoint::open(modelDir);
    const TensorView* v = ckpt.find(tensorName);
    const std::string suffix = ".weight";
    if (!v && tensorName.size() > suffix.size() &&
        tensorName.compare(tensorName.size() - suffix.size(), suffix.size(), suffix) == 0) {
        // A factorized layer: rebuild its dense matrix from its factors alone.
        const std::string layer = tensorName.substr(0, tensorName.size() - suffix.size());
        for (const char* part : kFirstFactor)
            if (ckpt.find(layer + part)) return factorizedSpectrum(ckpt, tensorName, ctx);
    }
    if (!v) fail("spectrum", "no tensor '" + tensorName + "' in " + modelDir);
    if (v->shape.size() != 2) {
        std::string shape;
        for (std::size_t i = 0; i < v->shape.size(); ++i) shape += (i ? " x " : "") + std::to_string(v->shape[i]);
        fail("spectrum", "'" + tensorName + "' is not a matrix (shape " + (shape.empty() ? "scalar" : shape) + ")");
    }
    at::Tensor w = tensorFromView(*v, at::kFloat, at::kCPU);
    ckpt.fileOf(v->name)->release(*v);
    ctx.checkCancelled();
    return spectrumOf(v->name, "dense", w);
}

}  // namespace qcw
