#pragma once
// The GGUF v3 container, written by this project (internal to core/export).
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace qcw {
class RunContext;
}

namespace qcw::gguf {

enum GgmlType : std::uint32_t { kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 8 };
const char* typeName(std::uint32_t t);
// Bytes of `n` values of type t (n a multiple of 32 for the block types).
std::uint64_t typeBytes(std::uint32_t t, std::uint64_t n);

class Writer {
public:
    void addString(const std::string& key, const std::string& v);
    void addU32(const std::string& key, std::uint32_t v);
    void addF32(const std::string& key, float v);
    void addBool(const std::string& key, bool v);
    void addStringArray(const std::string& key, const std::vector<std::string>& v);
    void addI32Array(const std::string& key, const std::vector<std::int32_t>& v);
    // `shape` in row-major order ([rows, cols]); written reversed, as ggml counts dimensions.
    void addTensor(const std::string& name, const std::vector<std::int64_t>& shape, std::uint32_t type);
    std::size_t tensorCount() const { return tensors_.size(); }
    std::uint32_t tensorType(std::size_t i) const { return tensors_[i].type; }

    // Writes the whole file; `fetch(i)` gives tensor i's values as float32, row-major.
    void write(std::ostream& out, const std::function<std::vector<float>(std::size_t)>& fetch, RunContext& ctx) const;

private:
    struct T {
        std::string name;
        std::vector<std::int64_t> shape;
        std::uint32_t type;
        std::uint64_t offset, bytes;
    };
    std::string kv_;
    std::uint64_t nkv_ = 0;
    std::vector<T> tensors_;
    std::uint64_t dataBytes_ = 0;
};

// The vocabulary of a model folder for tokenizer.ggml.*: tokenizer.json's BPE model (tokens by
// id up to nVocab, types 1 normal / 3 control / 4 user-defined / 5 unused, merges "a b").
// Without tokenizer.json: the 256 GPT-2 byte symbols then unused [PADn] entries.
struct Vocab {
    std::vector<std::string> tokens, merges;
    std::vector<std::int32_t> types;
    bool real = false;
};
Vocab loadVocab(const std::string& modelDir, std::int64_t nVocab);

}  // namespace qcw::gguf
