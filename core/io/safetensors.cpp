#include "io/safetensors.h"

#include "common/error.h"
#include "common/files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>
#include <ostream>

namespace qcw {

using nlohmann::json;

std::size_t dtypeSize(DType t) {
    switch (t) {
        case DType::F64: case DType::I64: return 8;
        case DType::F32: case DType::I32: return 4;
        case DType::F16: case DType::BF16: case DType::I16: return 2;
        case DType::I8: case DType::U8: case DType::Bool: return 1;
    }
    return 0;
}

const char* dtypeName(DType t) {
    switch (t) {
        case DType::F32: return "F32";
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
        case DType::F64: return "F64";
        case DType::I64: return "I64";
        case DType::I32: return "I32";
        case DType::I16: return "I16";
        case DType::I8: return "I8";
        case DType::U8: return "U8";
        case DType::Bool: return "BOOL";
    }
    return "?";
}

bool parseDType(const std::string& name, DType& out) {
    static const std::pair<const char*, DType> table[] = {
        {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16}, {"F64", DType::F64},
        {"I64", DType::I64}, {"I32", DType::I32}, {"I16", DType::I16},   {"I8", DType::I8},
        {"U8", DType::U8},   {"BOOL", DType::Bool}};
    for (const auto& [n, t] : table)
        if (name == n) {
            out = t;
            return true;
        }
    return false;
}

std::int64_t TensorView::numel() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
    auto f = std::shared_ptr<SafetensorsFile>(new SafetensorsFile());
    f->path_ = path;
    f->map_ = MappedFile::open(path);
    const std::size_t size = f->map_->size();
    const std::uint8_t* base = f->map_->data();
    if (size < 8) fail(path, "truncated safetensors file: " + std::to_string(size) + " bytes, no header length");
    std::uint64_t headerLen = 0;
    for (int i = 7; i >= 0; --i) headerLen = (headerLen << 8) | base[i];
    if (headerLen > kMaxHeaderBytes)
        fail(path, "safetensors header of " + std::to_string(headerLen) + " bytes exceeds the " +
                       std::to_string(kMaxHeaderBytes >> 20) + " MiB limit");
    if (headerLen > size - 8)
        fail(path, "safetensors header length " + std::to_string(headerLen) + " runs past the end of the " +
                       std::to_string(size) + "-byte file (truncated?)");
    if (headerLen < 2) fail(path, "safetensors header is empty");
    const char* hbegin = reinterpret_cast<const char*>(base + 8);
    json header;
    try {
        header = json::parse(hbegin, hbegin + headerLen);
    } catch (const std::exception& e) {
        fail(path, std::string("safetensors header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) fail(path, "safetensors header is not a JSON object");

    const std::size_t dataStart = 8 + static_cast<std::size_t>(headerLen);
    const std::size_t dataSize = size - dataStart;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& name = it.key();
        const json& v = it.value();
        if (name == "__metadata__") {
            if (!v.is_object()) fail(path, "__metadata__ is not an object");
            for (auto m = v.begin(); m != v.end(); ++m)
                if (m.value().is_string()) f->metadata_[m.key()] = m.value().get<std::string>();
            continue;
        }
        const std::string where = path + ": tensor '" + name + "'";
        if (!v.is_object()) fail(where, "entry is not an object");
        if (!v.contains("dtype") || !v["dtype"].is_string()) fail(where, "missing dtype");
        if (!v.contains("shape") || !v["shape"].is_array()) fail(where, "missing shape");
        if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
            fail(where, "missing or malformed data_offsets");
        TensorView t;
        t.name = name;
        const std::string dt = v["dtype"].get<std::string>();
        if (!parseDType(dt, t.dtype)) fail(where, "unknown dtype '" + dt + "'");
        std::uint64_t numel = 1;
        for (const auto& d : v["shape"]) {
            if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<std::int64_t>() >= 0))
                fail(where, "shape has a negative or non-integer dimension");
            auto dim = d.get<std::uint64_t>();
            if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                fail(where, "shape has a dimension of " + std::to_string(dim) + ", beyond any real tensor");
            if (dim != 0 && numel > std::numeric_limits<std::uint64_t>::max() / dim / 8)
                fail(where, "shape is too large");
            numel *= dim;
            t.shape.push_back(static_cast<std::int64_t>(dim));
        }
        const auto& off = v["data_offsets"];
        if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            fail(where, "data_offsets are not non-negative integers");
        const std::uint64_t b = off[0].get<std::uint64_t>(), e = off[1].get<std::uint64_t>();
        if (b > e) fail(where, "data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + "] are reversed");
        if (e > dataSize)
            fail(where, "data_offsets end " + std::to_string(e) + " is beyond the " + std::to_string(dataSize) +
                            "-byte data section (truncated file?)");
        const std::uint64_t expected = numel * dtypeSize(t.dtype);
        if (e - b != expected)
            fail(where, "holds " + std::to_string(e - b) + " bytes but shape and dtype need " +
                            std::to_string(expected));
        t.nbytes = static_cast<std::size_t>(e - b);
        t.fileOffset = dataStart + static_cast<std::size_t>(b);
        t.data = base + t.fileOffset;
        f->tensors_.push_back(std::move(t));
    }
    // Tensors must not overlap one another.
    std::vector<const TensorView*> order;
    for (const auto& t : f->tensors_) order.push_back(&t);
    std::sort(order.begin(), order.end(),
              [](const TensorView* a, const TensorView* b) { return a->fileOffset < b->fileOffset; });
    for (std::size_t i = 1; i < order.size(); ++i) {
        const auto* prev = order[i - 1];
        const auto* cur = order[i];
        if (cur->nbytes > 0 && prev->fileOffset + prev->nbytes > cur->fileOffset)
            fail(path, "tensors '" + prev->name + "' and '" + cur->name + "' overlap in the data section");
    }
    for (std::size_t i = 0; i < f->tensors_.size(); ++i) f->index_[f->tensors_[i].name] = i;
    return f;
}

const TensorView* SafetensorsFile::find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::size_t SafetensorsFile::fileSize() const { return map_->size(); }

void SafetensorsFile::release(const TensorView& t) const { map_->release(t.fileOffset, t.nbytes); }

std::size_t TensorToWrite::nbytes() const {
    std::size_t n = dtypeSize(dtype);
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    return n;
}

void writeSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    json header = json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::size_t offset = 0;
    for (const auto& t : tensors) {
        if (!t.data && !t.fill) fail(path, "tensor '" + t.name + "' has no data to write");
        if (header.contains(t.name)) fail(path, "tensor '" + t.name + "' is listed twice");
        const std::size_t n = t.nbytes();
        header[t.name] = {{"dtype", dtypeName(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
        offset += n;
    }
    std::string h = header.dump();
    while (h.size() % 8 != 0) h.push_back(' ');
    writeFileAtomically(path, [&](std::ostream& out) {
        std::uint64_t len = h.size();
        unsigned char lenBytes[8];
        for (int i = 0; i < 8; ++i) lenBytes[i] = static_cast<unsigned char>((len >> (8 * i)) & 0xff);
        out.write(reinterpret_cast<const char*>(lenBytes), 8);
        out.write(h.data(), static_cast<std::streamsize>(h.size()));
        std::vector<std::uint8_t> buffer;
        for (const auto& t : tensors) {
            const std::size_t n = t.nbytes();
            if (t.data) {
                out.write(static_cast<const char*>(t.data), static_cast<std::streamsize>(n));
            } else {
                buffer.resize(n);
                t.fill(buffer.data(), n);
                out.write(reinterpret_cast<const char*>(buffer.data()), static_cast<std::streamsize>(n));
            }
            if (!out) fail(path, "write failed while writing tensor '" + t.name + "' (disk full?)");
        }
    });
}

}  // namespace qcw
