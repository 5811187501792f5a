// The teacher's top-k logits, computed once and kept on disk.
#include "train/train.h"

#include "common/error.h"
#include "io/safetensors.h"
#include "model/loader.h"

#include <c10/core/InferenceMode.h>

#include <cstring>
#include <string>

namespace qcw {

std::uint64_t hashWindows(const std::vector<std::vector<std::int64_t>>& windows) {
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&](std::uint64_t v) {
        for (int b = 0; b < 8; ++b) {
            h ^= (v >> (8 * b)) & 0xffu;
            h *= 1099511628211ull;
        }
    };
    mix(windows.size());
    for (const auto& w : windows) {
        mix(w.size());
        for (auto id : w) mix(static_cast<std::uint64_t>(id));
    }
    return h;
}

TeacherTopK computeTeacherTopK(const PhiModel& teacher, const std::vector<std::vector<std::int64_t>>& windows, int k,
                               int batch, const RunContext& ctx) {
    if (windows.empty()) fail("teacher cache", "no training windows");
    const auto N = static_cast<std::int64_t>(windows.size()), L = static_cast<std::int64_t>(windows[0].size());
    if (k < 1 || k > teacher.config.vocabSize)
        fail("--teacher-top-k " + std::to_string(k), "must be in [1, " + std::to_string(teacher.config.vocabSize) + "]");
    if (batch < 1) batch = 1;
    TeacherTopK c;
    c.values = at::empty({N, L, k}, at::kHalf);
    c.indices = at::empty({N, L, k}, at::kInt);
    c10::InferenceMode guard;
    for (std::int64_t i = 0; i < N; i += batch) {
        ctx.checkCancelled();
        const std::int64_t b = std::min<std::int64_t>(batch, N - i);
        at::Tensor ids = at::empty({b, L}, at::kLong);
        for (std::int64_t j = 0; j < b; ++j) {
            const auto& w = windows[static_cast<std::size_t>(i + j)];
            if (static_cast<std::int64_t>(w.size()) != L) fail("teacher cache", "training windows differ in length");
            std::memcpy(ids.data_ptr<std::int64_t>() + j * L, w.data(), static_cast<std::size_t>(L) * sizeof(std::int64_t));
        }
        ForwardArgs args;
        args.inputIds = ids.to(teacher.device);
        auto top = at::topk(teacher.forward(args).to(at::kFloat), k, -1, true, true);
        c.values.narrow(0, i, b).copy_(std::get<0>(top).to(at::kCPU, at::kHalf));
        c.indices.narrow(0, i, b).copy_(std::get<1>(top).to(at::kCPU, at::kInt));
        ctx.report("teacher-cache", static_cast<long long>(i + b), static_cast<long long>(N));
    }
    c.windowsHash = hashWindows(windows);
    return c;
}

void saveTeacherTopK(const TeacherTopK& c, const std::string& path) {
    if (!c.values.defined()) fail(path, "no teacher top-k to save");
    at::Tensor v = c.values.contiguous(), ix = c.indices.contiguous();
    auto shape = [](const at::Tensor& t) { return std::vector<std::int64_t>(t.sizes().begin(), t.sizes().end()); };
    writeSafetensors(path, {{"values", DType::F16, shape(v), v.data_ptr(), {}}, {"indices", DType::I32, shape(ix), ix.data_ptr(), {}}},
                     {{"format", "qcw-teacher-topk/1"}, {"windows_hash", std::to_string(c.windowsHash)},
                      {"k", std::to_string(c.k())}});
}

TeacherTopK loadTeacherTopK(const std::string& path, const std::vector<std::vector<std::int64_t>>& windows, int k) {
    auto f = SafetensorsFile::open(path);
    const auto& meta = f->metadata();
    auto get = [&](const char* key) {
        auto it = meta.find(key);
        if (it == meta.end()) fail(path, std::string("is not a teacher top-k cache (no '") + key + "' in its metadata)");
        return it->second;
    };
    if (get("format") != "qcw-teacher-topk/1") fail(path, "has an unknown teacher-cache format '" + get("format") + "'");
    if (get("windows_hash") != std::to_string(hashWindows(windows)))
        fail(path, "was computed on other training windows (data, --seq-len or tokenizer changed); delete it to recompute");
    if (get("k") != std::to_string(k)) fail(path, "holds the top " + get("k") + ", not --teacher-top-k " + std::to_string(k));
    const TensorView* v = f->find("values");
    const TensorView* ix = f->find("indices");
    const std::vector<std::int64_t> want{static_cast<std::int64_t>(windows.size()),
                                        windows.empty() ? 0 : static_cast<std::int64_t>(windows[0].size()), k};
    if (!v || !ix || v->dtype != DType::F16 || ix->dtype != DType::I32 || v->shape != want || ix->shape != want)
        fail(path, "has values/indices of the wrong dtype or shape for these windows");
    TeacherTopK c;
    c.values = at::empty(want, at::kHalf);
    c.indices = at::empty(want, at::kInt);
    std::memcpy(c.values.data_ptr(), v->data, v->nbytes);
    std::memcpy(c.indices.data_ptr(), ix->data, ix->nbytes);
    c.windowsHash = hashWindows(windows);
    return c;
}

}  // namespace qcw
