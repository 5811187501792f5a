// The Phi table: PhiForCausalLM's tensor names (transformers' modeling_phi.py) and llama.cpp's
// phi2 names, in model order. The one place these names are spelled (see io/arch.h).
#include "io/arch.h"

namespace qcw {

const Architecture& phiArchitecture() {
    using R = ArchTensor::Role;
    using P = ArchTensor::Presence;
    static const Architecture arch{
        "PhiForCausalLM",
        "phi2",
        "model.layers.{bid}",
        {
            {TensorId::TokenEmbd, R::Embedding, "model.embed_tokens", "token_embd", "embedding", {Dim::Vocab, Dim::Hidden}},
            {TensorId::AttnNorm, R::Norm, "model.layers.{bid}.input_layernorm", "blk.{bid}.attn_norm", "layernorm", {Dim::Hidden}},
            {TensorId::AttnQ, R::Linear, "model.layers.{bid}.self_attn.q_proj", "blk.{bid}.attn_q", "attn_q", {Dim::Hidden, Dim::Hidden}},
            {TensorId::AttnK, R::Linear, "model.layers.{bid}.self_attn.k_proj", "blk.{bid}.attn_k", "attn_k", {Dim::KvHidden, Dim::Hidden}},
            {TensorId::AttnV, R::Linear, "model.layers.{bid}.self_attn.v_proj", "blk.{bid}.attn_v", "attn_v", {Dim::KvHidden, Dim::Hidden}},
            {TensorId::AttnOut, R::Linear, "model.layers.{bid}.self_attn.dense", "blk.{bid}.attn_output", "attn_out", {Dim::Hidden, Dim::Hidden}},
            {TensorId::AttnQNorm, R::Norm, "model.layers.{bid}.self_attn.q_layernorm", "blk.{bid}.attn_q_norm", "layernorm", {Dim::HeadDim}, P::QkLayerNorm},
            {TensorId::AttnKNorm, R::Norm, "model.layers.{bid}.self_attn.k_layernorm", "blk.{bid}.attn_k_norm", "layernorm", {Dim::HeadDim}, P::QkLayerNorm},
            {TensorId::FfnUp, R::Linear, "model.layers.{bid}.mlp.fc1", "blk.{bid}.ffn_up", "mlp_fc1", {Dim::Intermediate, Dim::Hidden}},
            {TensorId::FfnDown, R::Linear, "model.layers.{bid}.mlp.fc2", "blk.{bid}.ffn_down", "mlp_fc2", {Dim::Hidden, Dim::Intermediate}},
            {TensorId::OutputNorm, R::Norm, "model.final_layernorm", "output_norm", "layernorm", {Dim::Hidden}},
            {TensorId::Output, R::Linear, "lm_head", "output", "lm_head", {Dim::Vocab, Dim::Hidden}, P::Untied},
        },
    };
    return arch;
}

}  // namespace qcw
