#pragma once
// GGUF export for llama.cpp, Ollama and LM Studio (plain data, no torch types). The file is
// GGUF v3 for llama.cpp's `phi2` architecture: token_embd, blk.N.attn_{norm,q,k,v,output},
// blk.N.ffn_{up,down}, output_norm, output (weights and biases), the hyper-parameters phi2
// reads, and the tokenizer (tokenizer.ggml.model "gpt2": tokens, token types, merges).
// Every linear map is written dense: a factorized model's factors are multiplied back out
// (GgufExportResult says what that costs), a fine-tuned model is the merged one its training
// exported.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qcw {

class RunContext;

struct GgufExportOptions {
    std::string type = "f16";        // f32, f16, q8_0, q4_0 (the 2-D weights; norms and biases stay f32)
    std::string name;                // general.name; default: the model folder's name
    bool modelfile = false;          // also write an Ollama Modelfile beside the .gguf
};

struct GgufExportResult {
    std::string path, modelfilePath;
    std::int64_t bytes = 0;           // the .gguf
    std::int64_t sourceBytes = 0;     // the model folder's weights (*.safetensors)
    int tensors = 0;
    std::map<std::string, int> typeCounts;   // "F32" -> n, "Q8_0" -> n ...
    std::vector<std::string> rebuilt;        // linear maps that were factorized, written dense
    std::string factorizedMethods;           // e.g. "svd"
    int vocab = 0;
    bool realTokenizer = false;              // false: a placeholder vocabulary (no tokenizer.json)
};

// Throws qcw::Error naming the file or value at fault; the output appears whole or not at all.
GgufExportResult exportGguf(const std::string& modelDir, const std::string& out, const GgufExportOptions& opts,
                            RunContext& ctx);

// ggml's Q8_0 / Q4_0 blocks of 32 values (34 and 18 bytes: an fp16 scale, then the values),
// quantized as ggml's reference quantizer does. `n` is a multiple of 32.
void quantizeQ8_0(const float* x, std::int64_t n, std::uint8_t* out);
void quantizeQ4_0(const float* x, std::int64_t n, std::uint8_t* out);
// Values of those blocks back as floats (for tests).
void dequantizeQ8_0(const std::uint8_t* in, std::int64_t n, float* out);
void dequantizeQ4_0(const std::uint8_t* in, std::int64_t n, float* out);

// A GGUF file's header read back: version, metadata (scalars as strings, arrays as their
// length) and tensor directory. For tests and `--check`; throws qcw::Error on a malformed file.
struct GgufInfo {
    std::uint32_t version = 0;
    std::map<std::string, std::string> meta;
    struct Tensor {
        std::string name;
        std::vector<std::int64_t> dims;  // ggml order: dims[0] is the row length
        std::uint32_t type = 0;
        std::uint64_t offset = 0;
    };
    std::vector<Tensor> tensors;
    std::uint64_t dataOffset = 0;
};
GgufInfo readGgufInfo(const std::string& path);

}  // namespace qcw
