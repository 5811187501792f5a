#pragma once
// Helpers shared by the torch tests of the model and the compressor (the torch-free ones are in
// test_support.h).
#include "model/phi_model.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace qcw::test {

// n windows of len token ids drawn uniformly below vocab by LibTorch's CPU generator at seed.
inline std::vector<std::vector<std::int64_t>> randomWindows(int n, int len, int vocab, std::uint64_t seed) {
    auto g = at::detail::createCPUGenerator(seed);
    at::Tensor t = at::randint(vocab, {n, len}, g, at::kLong);
    std::vector<std::vector<std::int64_t>> out(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        const std::int64_t* row = t[i].data_ptr<std::int64_t>();
        out[static_cast<std::size_t>(i)] = std::vector<std::int64_t>(row, row + len);
    }
    return out;
}

// The logits of a plain forward pass over ids [batch, length].
inline at::Tensor logitsOf(const PhiModel& m, const at::Tensor& ids) {
    ForwardArgs a;
    a.inputIds = ids;
    return m.forward(a);
}

}  // namespace qcw::test
