#pragma once
// Attention of one new query position over a key/value cache on the CPU (a decode step), fp32.
// No torch here; the model calls it for a static cache (model/phi_model.cpp). Floor: it reads
// 2 x len x kv_heads x head_dim floats of cache per row and does as many multiply-adds; the
// explicit ATen form it replaces ran two batched GEMMs of one row each (OpenBLAS packing its
// operands per call), a mask add, a softmax and four copies over the cache's whole capacity.
#include <cstdint>

namespace qcw::kernels {

struct DecodeAttention {
    std::int64_t batch = 0;
    int heads = 0, kvHeads = 0, headDim = 0;  // heads % kvHeads == 0 (grouped queries)
    const float* q = nullptr;     // [batch, heads, headDim], contiguous
    const float* k = nullptr;     // [batch, kvHeads, capacity, headDim], contiguous
    const float* v = nullptr;     // same layout as k
    std::int64_t capacity = 0;    // positions the cache holds per row
    std::int64_t length = 0;      // positions [0, length) take part (the rest are never attended)
    const float* mask = nullptr;  // additive, row b at mask + b * maskStride, length floats; may be null
    std::int64_t maskStride = 0;
    float scale = 1.f;            // applied to q . k before the mask, as the explicit form does
    float* out = nullptr;         // [batch, heads, headDim], contiguous
};

// out = softmax(q K^T * scale + mask) V per row and head, over positions [0, length). A row whose
// positions are all masked gets a uniform average, as softmax over equal values gives.
void decodeAttention(const DecodeAttention& a);

// y = v * sigmoid(2 u), u = sqrt(2 / pi) (v + 0.044715 v^3): transformers' "gelu_new" (the tanh
// form, 0.5 v (1 + tanh u), rewritten), in place over n floats, vectorisable: no libm call.
void geluTanhInPlace(float* y, std::int64_t n);

}  // namespace qcw::kernels
