#pragma once
// Safetensors reader and writer (https://github.com/huggingface/safetensors format):
// 8-byte little-endian header length, a JSON header, then raw little-endian tensor data.
// The reader memory-maps the file and validates every header field before any tensor is
// touched: a malformed file gives one qcw::Error naming the file and the problem.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qcw {

class MappedFile;

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };

std::size_t dtypeSize(DType t);
const char* dtypeName(DType t);               // safetensors spelling: "F32", "BF16", ...
bool parseDType(const std::string& name, DType& out);

struct TensorView {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    const std::uint8_t* data = nullptr;        // into the memory map
    std::size_t nbytes = 0;
    std::size_t fileOffset = 0;                // absolute offset of data in the file
    std::int64_t numel() const;
};

class SafetensorsFile {
public:
    static constexpr std::uint64_t kMaxHeaderBytes = 100ull << 20;  // 100 MiB, as the reference library

    // Opens and validates; throws qcw::Error("<path>: <problem>").
    static std::shared_ptr<SafetensorsFile> open(const std::string& path);

    const std::string& path() const { return path_; }
    const std::vector<TensorView>& tensors() const { return tensors_; }
    const TensorView* find(const std::string& name) const;
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    std::size_t fileSize() const;
    // Drops the resident pages of a tensor after its data has been copied elsewhere.
    void release(const TensorView& t) const;
    const std::shared_ptr<MappedFile>& mapping() const { return map_; }

private:
    std::string path_;
    std::shared_ptr<MappedFile> map_;
    std::vector<TensorView> tensors_;
    std::map<std::string, std::size_t> index_;
    std::map<std::string, std::string> metadata_;
};

// One tensor to write. Either `data` points at nbytes of little-endian data, or `fill`
// produces them into a buffer (so huge checkpoints are written tensor by tensor).
struct TensorToWrite {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    const void* data = nullptr;
    std::function<void(void* dst, std::size_t nbytes)> fill;
    std::size_t nbytes() const;
};

// Writes atomically (temporary file, then rename). Tensors are laid out in the given order;
// the header is padded with spaces to a multiple of 8 bytes so data stays aligned.
void writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace qcw
