#include "model/phi_model.h"

#include "common/error.h"
#include "io/arch.h"
#include "kernels/attention.h"
#include "model/packed.h"

#include <ATen/core/grad_mode.h>
#include <torch/version.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

// LibTorch 2.x has scaled_dot_product_attention (flash / memory-efficient kernels on CUDA).
#if TORCH_VERSION_MAJOR >= 2
#define QCW_HAVE_SDPA 1
#endif

namespace qcw {

at::Tensor DenseLinear::forward(const at::Tensor& x) const { return at::linear(x, weight_, bias_); }

std::int64_t DenseLinear::parameterCount() const {
    return weight_.numel() + (bias_.defined() ? bias_.numel() : 0);
}

void DenseLinear::to(at::Device device, at::ScalarType dtype) {
    weight_ = weight_.to(device, dtype);
    if (bias_.defined()) bias_ = bias_.to(device, dtype);
}

std::vector<at::Tensor*> LinearOp::parameters() {
    std::vector<at::Tensor*> out;
    for (auto& [name, t] : namedParameters()) out.push_back(t);
    return out;
}

std::vector<std::pair<std::string, at::Tensor*>> DenseLinear::namedParameters() {
    std::vector<std::pair<std::string, at::Tensor*>> out{{"weight", &weight_}};
    if (bias_.defined()) out.emplace_back("bias", &bias_);
    return out;
}

KVCache staticCacheFrom(const KVCache& grown, std::int64_t capacity) {
    if (grown.isStatic() || grown.k.empty() || !grown.k[0].defined()) fail("decode", "no prefilled cache to copy");
    const std::int64_t filled = grown.length();
    if (capacity < filled) fail("decode", "cache capacity below the prefilled length");
    KVCache cache;
    for (std::size_t i = 0; i < grown.k.size(); ++i) {
        auto shape = grown.k[i].sizes().vec();
        shape[2] = capacity;
        cache.k.push_back(at::zeros(shape, grown.k[i].options()));
        cache.v.push_back(at::zeros(shape, grown.v[i].options()));
        cache.k.back().narrow(2, 0, filled).copy_(grown.k[i]);
        cache.v.back().narrow(2, 0, filled).copy_(grown.v[i]);
    }
    cache.slot = at::full({1}, filled, at::TensorOptions().device(grown.k[0].device()).dtype(at::kLong));
    cache.filled = filled;
    return cache;
}

at::Tensor geluNew(const at::Tensor& x) { return at::gelu(x, "tanh"); }

namespace {

at::Tensor layerNorm(const at::Tensor& x, const LayerNormWeights& w, double eps) {
    return at::layer_norm(x, {x.size(-1)}, w.weight, w.bias, eps);
}

at::Tensor rotateHalf(const at::Tensor& x) {
    const auto half = x.size(-1) / 2;
    auto x1 = x.narrow(-1, 0, half);
    auto x2 = x.narrow(-1, half, half);
    return at::cat({-x2, x1}, -1);
}

// Applies the rotary embedding to the first `cos.size(-1)` channels of x [B, h, T, d].
at::Tensor applyRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
    const auto rot = cos.size(-1);
    auto xRot = x.narrow(-1, 0, rot);
    auto xPass = x.narrow(-1, rot, x.size(-1) - rot);
    auto out = xRot * cos + rotateHalf(xRot) * sin;
    return at::cat({out, xPass}, -1);
}

// The rotary embedding in place on x = [B, T, heads, hd] (contiguous fp32, the linear map's
// output before the head transpose), with cos/sin [B, 1, T, rot] whose two halves are equal
// (emb = cat(freqs, freqs)): one pass instead of the ten ATen ops of applyRotary, for
// inference on the CPU (an in-place op would break autograd).
void rotaryInPlace(at::Tensor& x, std::int64_t heads, std::int64_t hd, const at::Tensor& cosT, const at::Tensor& sinT) {
    const std::int64_t B = cosT.size(0), T = cosT.size(2), rot = cosT.size(3), half = rot / 2;
    float* p = x.data_ptr<float>();
    const float* c = cosT.data_ptr<float>();
    const float* sn = sinT.data_ptr<float>();
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t t = 0; t < T; ++t) {
            const float* cb = c + (b * T + t) * rot;
            const float* sb = sn + (b * T + t) * rot;
            for (std::int64_t h = 0; h < heads; ++h) {
                float* v = p + ((b * T + t) * heads + h) * hd;
                for (std::int64_t i = 0; i < half; ++i) {
                    const float x1 = v[i], x2 = v[i + half];
                    v[i] = x1 * cb[i] - x2 * sb[i];
                    v[i + half] = x2 * cb[i + half] + x1 * sb[i + half];
                }
            }
        }
}

// LayerNorm of `rows` rows of n floats into out, as at::layer_norm computes it on the CPU
// (mean and biased variance of the row, then (x - mean) / sqrt(var + eps) * w + b).
void layerNormRows(const float* x, std::int64_t rows, std::int64_t n, const float* w, const float* b, double eps,
                   float* out) {
    for (std::int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * n;
        double sum = 0, sq = 0;
        for (std::int64_t i = 0; i < n; ++i) sum += xr[i];
        const double mean = sum / double(n);
        for (std::int64_t i = 0; i < n; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
        const float inv = static_cast<float>(1.0 / std::sqrt(sq / double(n) + eps)), m = static_cast<float>(mean);
        float* o = out + r * n;
        for (std::int64_t i = 0; i < n; ++i) o[i] = (xr[i] - m) * inv * (w ? w[i] : 1.f) + (b ? b[i] : 0.f);
    }
}

bool rotaryInPlaceApplies(const at::Tensor& q, const at::Tensor& k, const at::Tensor& cosT, const at::Tensor& sinT) {
    return !at::GradMode::is_enabled() && q.device().is_cpu() && q.scalar_type() == at::kFloat &&
           k.scalar_type() == at::kFloat && q.is_contiguous() && k.is_contiguous() && cosT.scalar_type() == at::kFloat &&
           cosT.is_contiguous() && sinT.is_contiguous() && cosT.dim() == 4 && cosT.size(1) == 1 && cosT.size(3) % 2 == 0;
}

}  // namespace

std::pair<at::Tensor, at::Tensor> PhiModel::rotaryTables(const at::Tensor& positions) const {
    // Float32 as transformers computes them, then cast to the compute dtype.
    const int rot = config.rotaryDim();
    const auto lopts = at::TensorOptions().device(device).dtype(at::kLong);
    auto invFreq = 1.0 / at::pow(config.ropeTheta, at::arange(0, rot, 2, lopts).to(at::kFloat) / double(rot));
    auto freqs = positions.to(at::kFloat).unsqueeze(-1) * invFreq.view({1, 1, -1});  // [B, T, rot/2]
    auto emb = at::cat({freqs, freqs}, -1);
    return {emb.cos().to(dtype).unsqueeze(1), emb.sin().to(dtype).unsqueeze(1)};  // [B, 1, T, rot]
}

double PhiModel::maskValue() const {
    return dtype == at::kFloat ? double(std::numeric_limits<float>::lowest())
           : dtype == at::kHalf ? -65504.0
                                : -3.3895313892515355e38;
}

AttentionInputs PhiModel::attentionInputs(std::int64_t B, std::int64_t T, std::int64_t past,
                                          const at::Tensor& attentionMask, const at::Tensor& positionIds) const {
    const std::int64_t total = past + T;
    const auto lopts = at::TensorOptions().device(device).dtype(at::kLong);
    AttentionInputs in;
    at::Tensor positions = positionIds.defined() ? positionIds.to(device, at::kLong)
                                                 : (at::arange(T, lopts) + past).unsqueeze(0).expand({B, T});
    std::tie(in.cos, in.sin) = rotaryTables(positions);

    // Additive mask [B, 1, T, total]: causal, plus key padding. Masked entries get the dtype's
    // lowest value, as transformers' eager attention does.
    auto qpos = (at::arange(T, lopts) + past).view({T, 1});
    auto kpos = at::arange(total, lopts).view({1, total});
    auto allowed = (kpos <= qpos).view({1, 1, T, total});
    if (attentionMask.defined()) {
        if (attentionMask.dim() != 2 || attentionMask.size(0) != B || attentionMask.size(1) != total)
            fail("forward", "attention_mask must be [batch, past + time] = [" + std::to_string(B) + ", " +
                                std::to_string(total) + "]");
        auto keyOk = attentionMask.to(device).ne(0).view({B, 1, 1, total});
        allowed = allowed.logical_and(keyOk);
    } else {
        allowed = allowed.expand({B, 1, T, total});
    }
    in.mask = at::zeros({B, 1, T, total}, at::TensorOptions().device(device).dtype(dtype))
                  .masked_fill(allowed.logical_not(), maskValue());
    // A query that may attend to no key at all (a left-padding position) gets a zero attention
    // output, as PyTorch's scaled_dot_product_attention does since 2.5 and hence transformers'
    // default attention.
    if (attentionMask.defined()) in.rowHasKeys = allowed.any(-1, true).to(dtype);
    return in;
}

at::Tensor PhiModel::embed(const at::Tensor& ids) const {
    at::Tensor e = at::embedding(embedTokens, ids);
    return e.scalar_type() == dtype ? e : e.to(dtype);
}

namespace {

// The CPU decode step's attention through kernels::decodeAttention, over the written part of a
// static fp32 cache only (the explicit form below runs over the whole capacity under the mask).
bool decodeAttentionApplies(const at::Tensor& q, const at::Tensor& cacheK, const AttentionInputs& in) {
    return q.device().is_cpu() && q.scalar_type() == at::kFloat && q.size(2) == 1 && cacheK.scalar_type() == at::kFloat &&
           cacheK.is_contiguous() && in.mask.defined() && in.mask.scalar_type() == at::kFloat && in.mask.dim() == 4 &&
           in.mask.size(0) == q.size(0) && in.mask.size(3) == cacheK.size(2) && in.mask.stride(3) == 1 &&
           !in.rowHasKeys.defined() && in.decodeLength <= cacheK.size(2);
}

at::Tensor decodeAttentionCpu(const at::Tensor& q, const at::Tensor& cacheK, const at::Tensor& cacheV,
                              const AttentionInputs& in, double scale) {
    if (!decodeAttentionApplies(q, cacheK, in) || !cacheV.is_contiguous() || cacheV.scalar_type() != at::kFloat)
        return at::Tensor();
    const at::Tensor qc = q.contiguous();  // [B, heads, 1, hd]: the same bytes as [B, 1, heads * hd]
    at::Tensor out = at::empty({q.size(0), 1, q.size(1) * q.size(3)}, qc.options());
    kernels::DecodeAttention a;
    a.batch = q.size(0);
    a.heads = static_cast<int>(q.size(1));
    a.kvHeads = static_cast<int>(cacheK.size(1));
    a.headDim = static_cast<int>(q.size(3));
    a.q = qc.data_ptr<float>();
    a.k = cacheK.data_ptr<float>();
    a.v = cacheV.data_ptr<float>();
    a.capacity = cacheK.size(2);
    a.length = in.decodeLength;
    a.mask = in.mask.data_ptr<float>();
    a.maskStride = in.mask.stride(0);
    a.scale = static_cast<float>(scale);
    a.out = out.data_ptr<float>();
    kernels::decodeAttention(a);
    return out;
}

}  // namespace

// A decode step's block on the CPU with few ATen calls: LayerNorm, the cache write and the
// residual sum as plain loops, the rotary embedding and attention in place, the linear maps on
// the kernels. Each ATen call costs a few microseconds of dispatch, which on a small model is
// as much as its arithmetic. Undefined when the inputs are not what it handles (the general
// path then runs).
at::Tensor PhiModel::decodeBlockCpu(const PhiBlock& blk, const at::Tensor& h, const AttentionInputs& in,
                                    at::Tensor& cacheK, at::Tensor& cacheV, const at::Tensor& cacheSlot) const {
    const PhiConfig& c = config;
    if (c.qkLayerNorm || !h.device().is_cpu() || h.scalar_type() != at::kFloat || !h.is_contiguous() || h.dim() != 3 ||
        h.size(1) != 1 ||
        at::GradMode::is_enabled() || cacheSlot.numel() != 1 || !cacheK.is_contiguous() || !cacheV.is_contiguous() ||
        cacheK.scalar_type() != at::kFloat || cacheV.scalar_type() != at::kFloat ||
        !blk.inputLayerNorm.weight.defined() || blk.inputLayerNorm.weight.scalar_type() != at::kFloat ||
        (blk.inputLayerNorm.bias.defined() && blk.inputLayerNorm.bias.scalar_type() != at::kFloat))
        return at::Tensor();
    const std::int64_t B = h.size(0), H = h.size(2);
    const std::int64_t nH = c.numHeads, nKv = c.numKvHeads, hd = c.headDim(), cap = cacheK.size(2);
    const std::int64_t slot = in.decodeLength - 1;
    if (cacheK.size(0) != B || cacheK.size(1) != nKv || cacheK.size(3) != hd) return at::Tensor();
    at::Tensor x = at::empty_like(h);
    layerNormRows(h.data_ptr<float>(), B, H, blk.inputLayerNorm.weight.data_ptr<float>(),
                  blk.inputLayerNorm.bias.defined() ? blk.inputLayerNorm.bias.data_ptr<float>() : nullptr, c.layerNormEps,
                  x.data_ptr<float>());
    at::Tensor qkv[3];
    if (!packedForwardMany({blk.q.get(), blk.k.get(), blk.v.get()}, x, qkv)) {
        qkv[0] = blk.q->forward(x);
        qkv[1] = blk.k->forward(x);
        qkv[2] = blk.v->forward(x);
    }
    for (auto& t : qkv)
        if (!t.is_contiguous()) t = t.contiguous();
    if (!rotaryInPlaceApplies(qkv[0], qkv[1], in.cos, in.sin) || in.cos.size(0) != B || in.cos.size(2) != 1)
        return at::Tensor();
    rotaryInPlace(qkv[0], nH, hd, in.cos, in.sin);
    rotaryInPlace(qkv[1], nKv, hd, in.cos, in.sin);
    {  // this position's keys and values into their slot: [B, 1, kv, hd] -> [B, kv, cap, hd]
        const float* kp = qkv[1].data_ptr<float>();
        const float* vp = qkv[2].data_ptr<float>();
        float* K = cacheK.data_ptr<float>();
        float* V = cacheV.data_ptr<float>();
        for (std::int64_t b = 0; b < B; ++b)
            for (std::int64_t g = 0; g < nKv; ++g) {
                const std::int64_t dst = ((b * nKv + g) * cap + slot) * hd, src = (b * nKv + g) * hd;
                std::memcpy(K + dst, kp + src, sizeof(float) * static_cast<std::size_t>(hd));
                std::memcpy(V + dst, vp + src, sizeof(float) * static_cast<std::size_t>(hd));
            }
    }
    const at::Tensor q = qkv[0].view({B, 1, nH, hd}).transpose(1, 2);
    at::Tensor attn = decodeAttentionCpu(q, cacheK, cacheV, in, 1.0 / std::sqrt(double(hd)));
    if (!attn.defined()) fail("decode", "internal check failed: the CPU decode attention refused its inputs");
    at::Tensor attnOut = blk.dense->forward(attn);
    at::Tensor mlpOut = blk.fc2->forward(blk.fc1->forwardGelu(x));
    if (!attnOut.is_contiguous() || !mlpOut.is_contiguous() || attnOut.scalar_type() != at::kFloat ||
        mlpOut.scalar_type() != at::kFloat)
        return attnOut + mlpOut + h;
    float* o = attnOut.data_ptr<float>();
    const float* m = mlpOut.data_ptr<float>();
    const float* r = h.data_ptr<float>();
    for (std::int64_t i = 0, n = attnOut.numel(); i < n; ++i) o[i] = o[i] + m[i] + r[i];  // (a + m) + h, as ATen adds
    return attnOut;
}

at::Tensor PhiModel::blockWith(const PhiBlock& blk, const at::Tensor& h, const AttentionInputs& in,
                               at::Tensor* cacheK, at::Tensor* cacheV, const at::Tensor& cacheSlot) const {
    const PhiConfig& c = config;
    const auto B = h.size(0), T = h.size(1);
    const int nH = c.numHeads, nKv = c.numKvHeads, hd = c.headDim();
    const double scale = 1.0 / std::sqrt(double(hd));
    if (cacheK && cacheSlot.defined() && in.decodeLength > 0 && T == 1) {
        at::Tensor out = decodeBlockCpu(blk, h, in, *cacheK, *cacheV, cacheSlot);
        if (out.defined()) return out;
    }
    auto x = layerNorm(h, blk.inputLayerNorm, c.layerNormEps);
    at::Tensor qkv[3];
    if (!packedForwardMany({blk.q.get(), blk.k.get(), blk.v.get()}, x, qkv)) {  // one pass over x on the CPU kernels
        qkv[0] = blk.q->forward(x);
        qkv[1] = blk.k->forward(x);
        qkv[2] = blk.v->forward(x);
    }
    const bool fastRotary = !c.qkLayerNorm && rotaryInPlaceApplies(qkv[0], qkv[1], in.cos, in.sin) &&
                            in.cos.size(0) == B && in.cos.size(2) == T;
    if (fastRotary) {
        rotaryInPlace(qkv[0], nH, hd, in.cos, in.sin);
        rotaryInPlace(qkv[1], nKv, hd, in.cos, in.sin);
    }
    auto q = qkv[0].view({B, T, nH, hd}).transpose(1, 2);
    auto k = qkv[1].view({B, T, nKv, hd}).transpose(1, 2);
    auto v = qkv[2].view({B, T, nKv, hd}).transpose(1, 2);
    if (c.qkLayerNorm) {
        q = layerNorm(q, blk.qLayerNorm, c.layerNormEps);
        k = layerNorm(k, blk.kLayerNorm, c.layerNormEps);
    }
    if (!fastRotary) {
        q = applyRotary(q, in.cos, in.sin);
        k = applyRotary(k, in.cos, in.sin);
    }
    if (cacheK && cacheSlot.defined()) {  // static cache: write in place, attend over the capacity
        cacheK->index_copy_(2, cacheSlot, k.to(cacheK->scalar_type()));
        cacheV->index_copy_(2, cacheSlot, v.to(cacheV->scalar_type()));
        k = *cacheK;
        v = *cacheV;
    } else if (cacheK) {
        *cacheK = cacheK->defined() ? at::cat({*cacheK, k}, 2) : k;
        *cacheV = cacheV->defined() ? at::cat({*cacheV, v}, 2) : v;
        k = *cacheK;
        v = *cacheV;
    }
    // A CPU decode step on a static fp32 cache: the written positions only, no copies.
    at::Tensor attn;  // [B, T, heads * head_dim]
    if (cacheK && cacheSlot.defined() && in.decodeLength > 0) attn = decodeAttentionCpu(q, *cacheK, *cacheV, in, scale);
    if (!attn.defined()) {
        if (nKv != nH) {
            k = k.repeat_interleave(nH / nKv, 1);
            v = v.repeat_interleave(nH / nKv, 1);
        }
        at::Tensor heads;  // [B, heads, T, head_dim]
#ifdef QCW_HAVE_SDPA
        // On CUDA, PyTorch's fused attention (what transformers uses by default); on CPU the
        // explicit form below, which the fixtures check against transformers' eager attention.
        if (device.is_cuda()) {
            heads = at::scaled_dot_product_attention(q, k, v, in.mask.to(q.scalar_type()), 0.0, false);
            if (in.rowHasKeys.defined()) heads = heads * in.rowHasKeys.to(heads.scalar_type());
        }
#endif
        if (!heads.defined()) {
            auto scores = at::matmul(q, k.transpose(-2, -1)) * scale + in.mask;
            auto probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
            if (in.rowHasKeys.defined()) probs = probs * in.rowHasKeys;
            heads = at::matmul(probs, v);
        }
        attn = heads.transpose(1, 2).reshape({B, T, nH * hd});
    }
    auto attnOut = blk.dense->forward(attn);
    auto mlpOut = blk.fc2->forward(blk.fc1->forwardGelu(x));
    return attnOut + mlpOut + h;
}

at::Tensor PhiModel::block(std::size_t index, const at::Tensor& h, const AttentionInputs& in, KVCache* cache) const {
    if (!cache) return blockWith(blocks[index], h, in);
    if (cache->k.size() < blocks.size()) {
        cache->k.resize(blocks.size());
        cache->v.resize(blocks.size());
    }
    return blockWith(blocks[index], h, in, &cache->k[index], &cache->v[index], cache->slot);
}

at::Tensor PhiModel::decodeStep(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& mask,
                                KVCache& cache) const {
    if (!cache.isStatic() || cache.k.size() != blocks.size())
        fail("decode", "decodeStep needs a static cache with one buffer per layer");
    KernelThreadScope threads(usesKernels(*this));
    AttentionInputs in;
    std::tie(in.cos, in.sin) = rotaryTables(positions);
    in.mask = mask;
    // On the CPU, attention runs over the positions up to the slot being written (the slot
    // tensor is in host memory there; reading it costs nothing).
    if (cache.slot.device().is_cpu() && cache.slot.scalar_type() == at::kLong && cache.slot.is_contiguous()) {
        const std::int64_t* sl = cache.slot.data_ptr<std::int64_t>();
        std::int64_t last = -1;
        for (std::int64_t i = 0; i < cache.slot.numel(); ++i) last = std::max(last, sl[i]);
        if (last >= 0 && last < cache.k[0].size(2)) in.decodeLength = last + 1;
    }
    auto h = embed(ids);
    for (std::size_t li = 0; li < blocks.size(); ++li) h = block(li, h, in, &cache);
    return head(h, true);
}

at::Tensor PhiModel::head(const at::Tensor& hIn, bool lastTokenOnly) const {
    // LayerNorm is per position: the last position alone when only its logits are wanted.
    const at::Tensor last = lastTokenOnly ? hIn.narrow(1, hIn.size(1) - 1, 1) : hIn;
    return lmHead->forward(layerNorm(last, finalLayerNorm, config.layerNormEps)).to(at::kFloat);
}

at::Tensor PhiModel::forward(const ForwardArgs& a) const {
    const PhiConfig& c = config;
    if (!a.inputIds.defined() || a.inputIds.dim() != 2) fail("forward", "input_ids must be a 2-D [batch, time] tensor");
    const auto B = a.inputIds.size(0);
    const auto T = a.inputIds.size(1);
    if (T == 0) fail("forward", "input_ids has no tokens");
    KernelThreadScope threads(usesKernels(*this));  // every caller: engine, eval, serve, calibration
    auto ids = a.inputIds.to(device, at::kLong);
    {
        auto lo = ids.min().item<std::int64_t>(), hi = ids.max().item<std::int64_t>();
        if (lo < 0 || hi >= c.vocabSize)
            fail("forward", "token id " + std::to_string(lo < 0 ? lo : hi) + " is outside the vocabulary [0, " +
                                std::to_string(c.vocabSize) + ")");
    }
    const std::int64_t past = a.cache ? a.cache->length() : 0;
    const AttentionInputs in = attentionInputs(B, T, past, a.attentionMask, a.positionIds);
    auto h = embed(ids);
    if (a.hiddenStates) a.hiddenStates->push_back(h.to(at::kFloat));
    for (std::size_t li = 0; li < blocks.size(); ++li) {
        h = block(li, h, in, a.cache);
        if (a.hiddenStates && li + 1 < blocks.size()) a.hiddenStates->push_back(h.to(at::kFloat));
    }
    if (a.hiddenStates) a.hiddenStates->push_back(layerNorm(h, finalLayerNorm, c.layerNormEps).to(at::kFloat));
    return head(h, a.lastTokenOnly);
}

std::int64_t PhiModel::parameterCount() const {
    std::int64_t n = embedTokens.numel() + finalLayerNorm.weight.numel() + finalLayerNorm.bias.numel();
    for (const auto& b : blocks) {
        n += b.inputLayerNorm.weight.numel() + b.inputLayerNorm.bias.numel();
        for (const auto* op : {&b.q, &b.k, &b.v, &b.dense, &b.fc1, &b.fc2}) n += (*op)->parameterCount();
        if (config.qkLayerNorm)
            n += b.qLayerNorm.weight.numel() + b.qLayerNorm.bias.numel() + b.kLayerNorm.weight.numel() +
                 b.kLayerNorm.bias.numel();
    }
    if (!config.tieWordEmbeddings) n += lmHead->parameterCount();
    else if (lmHead->bias().defined()) n += lmHead->bias().numel();
    return n;
}

std::vector<std::pair<std::string, std::shared_ptr<LinearOp>*>> PhiModel::linearOps() {
    std::vector<std::pair<std::string, std::shared_ptr<LinearOp>*>> out;
    const Architecture& arch = phiArchitecture();
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        const int bi = static_cast<int>(i);
        auto& b = blocks[i];
        out.emplace_back(arch.name(TensorId::AttnQ, bi), &b.q);
        out.emplace_back(arch.name(TensorId::AttnK, bi), &b.k);
        out.emplace_back(arch.name(TensorId::AttnV, bi), &b.v);
        out.emplace_back(arch.name(TensorId::AttnOut, bi), &b.dense);
        out.emplace_back(arch.name(TensorId::FfnUp, bi), &b.fc1);
        out.emplace_back(arch.name(TensorId::FfnDown, bi), &b.fc2);
    }
    out.emplace_back(arch.name(TensorId::Output), &lmHead);
    return out;
}

std::vector<std::pair<std::string, at::Tensor*>> PhiModel::parameterSlots() {
    std::vector<std::pair<std::string, at::Tensor*>> out;
    auto add = [&](const std::string& name, at::Tensor& t) {
        if (t.defined()) out.emplace_back(name, &t);
    };
    auto norm = [&](const std::string& name, LayerNormWeights& w) {
        add(name + kWeightSuffix, w.weight);
        add(name + kBiasSuffix, w.bias);
    };
    const Architecture& arch = phiArchitecture();
    add(arch.name(TensorId::TokenEmbd) + kWeightSuffix, embedTokens);
    auto ops = linearOps();
    std::size_t next = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        const int bi = static_cast<int>(i);
        norm(arch.name(TensorId::AttnNorm, bi), blocks[i].inputLayerNorm);
        if (config.qkLayerNorm) {
            norm(arch.name(TensorId::AttnQNorm, bi), blocks[i].qLayerNorm);
            norm(arch.name(TensorId::AttnKNorm, bi), blocks[i].kLayerNorm);
        }
        for (int k = 0; k < 6; ++k, ++next)
            for (auto& [n, t] : (*ops[next].second)->namedParameters()) out.emplace_back(ops[next].first + "." + n, t);
    }
    norm(arch.name(TensorId::OutputNorm), finalLayerNorm);
    for (auto& [n, t] : lmHead->namedParameters()) out.emplace_back(arch.name(TensorId::Output) + "." + n, t);
    return out;
}

std::vector<std::pair<std::string, at::Tensor*>> PhiModel::parameters() {
    std::vector<std::pair<std::string, at::Tensor*>> out;
    std::vector<const void*> seen;
    for (auto& slot : parameterSlots()) {
        const void* impl = slot.second->unsafeGetTensorImpl();
        if (std::find(seen.begin(), seen.end(), impl) != seen.end()) continue;
        seen.push_back(impl);
        out.push_back(slot);
    }
    return out;
}

}  // namespace qcw
