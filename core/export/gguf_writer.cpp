// The GGUF container, the Q8_0 / Q4_0 block quantizers and the vocabulary (no ATen here; c10's
// Half gives IEEE fp16 with round-to-nearest-even).
#include "common/error.h"
#include "common/files.h"
#include "common/run_context.h"
#include "export/gguf.h"
#include "export/gguf_internal.h"

#include <c10/util/Half.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;

namespace qcw {

namespace {

constexpr std::uint64_t kAlign = 32;
constexpr std::uint32_t kTypeU8 = 0, kTypeI8 = 1, kTypeU16 = 2, kTypeI16 = 3, kTypeU32 = 4, kTypeI32 = 5, kTypeF32 = 6,
                        kTypeBool = 7, kTypeString = 8, kTypeArray = 9, kTypeU64 = 10, kTypeI64 = 11, kTypeF64 = 12;

template <typename V>
void put(std::string& s, V v) {
    char b[sizeof(V)];
    std::memcpy(b, &v, sizeof(V));  // the project builds for little-endian hosts only, as GGUF is
    s.append(b, sizeof(V));
}
void putStr(std::string& s, const std::string& v) {
    put<std::uint64_t>(s, v.size());
    s += v;
}

std::uint16_t toHalfBits(float f) { return c10::Half(f).x; }
float fromHalfBits(std::uint16_t h) {
    c10::Half v;
    v.x = h;
    return static_cast<float>(v);
}

}  // namespace

void quantizeQ8_0(const float* x, std::int64_t n, std::uint8_t* out) {
    for (std::int64_t b = 0; b < n / 32; ++b, x += 32, out += 34) {
        float amax = 0;
        for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        const std::uint16_t dh = toHalfBits(d);
        std::memcpy(out, &dh, 2);
        for (int j = 0; j < 32; ++j) out[2 + j] = static_cast<std::uint8_t>(static_cast<std::int8_t>(std::roundf(x[j] * id)));
    }
}

void quantizeQ4_0(const float* x, std::int64_t n, std::uint8_t* out) {
    for (std::int64_t b = 0; b < n / 32; ++b, x += 32, out += 18) {
        float amax = 0, m = 0;  // the value of largest magnitude, sign kept (first one on ties)
        for (int j = 0; j < 32; ++j)
            if (std::fabs(x[j]) > amax) {
                amax = std::fabs(x[j]);
                m = x[j];
            }
        const float d = m / -8.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        const std::uint16_t dh = toHalfBits(d);
        std::memcpy(out, &dh, 2);
        for (int j = 0; j < 16; ++j) {
            const int lo = std::min(15, static_cast<int>(static_cast<std::int8_t>(x[j] * id + 8.5f)));
            const int hi = std::min(15, static_cast<int>(static_cast<std::int8_t>(x[j + 16] * id + 8.5f)));
            out[2 + j] = static_cast<std::uint8_t>(lo | (hi << 4));
        }
    }
}

void dequantizeQ8_0(const std::uint8_t* in, std::int64_t n, float* out) {
    for (std::int64_t b = 0; b < n / 32; ++b, in += 34, out += 32) {
        std::uint16_t dh;
        std::memcpy(&dh, in, 2);
        const float d = fromHalfBits(dh);
        for (int j = 0; j < 32; ++j) out[j] = d * static_cast<float>(static_cast<std::int8_t>(in[2 + j]));
    }
}

void dequantizeQ4_0(const std::uint8_t* in, std::int64_t n, float* out) {
    for (std::int64_t b = 0; b < n / 32; ++b, in += 18, out += 32) {
        std::uint16_t dh;
        std::memcpy(&dh, in, 2);
        const float d = fromHalfBits(dh);
        for (int j = 0; j < 16; ++j) {
            out[j] = d * static_cast<float>((in[2 + j] & 0x0f) - 8);
            out[j + 16] = d * static_cast<float>((in[2 + j] >> 4) - 8);
        }
    }
}

namespace gguf {

const char* typeName(std::uint32_t t) {
    switch (t) {
        case kF32: return "F32";
        case kF16: return "F16";
        case kQ4_0: return "Q4_0";
        case kQ8_0: return "Q8_0";
        default: return "?";
    }
}

std::uint64_t typeBytes(std::uint32_t t, std::uint64_t n) {
    switch (t) {
        case kF32: return 4 * n;
        case kF16: return 2 * n;
        case kQ4_0: return n / 32 * 18;
        case kQ8_0: return n / 32 * 34;
        default: fail("gguf", "unknown tensor type " + std::to_string(t));
    }
}

void Writer::addString(const std::string& key, const std::string& v) {
    putStr(kv_, key);
    put<std::uint32_t>(kv_, kTypeString);
    putStr(kv_, v);
    ++nkv_;
}
void Writer::addU32(const std::string& key, std::uint32_t v) {
    putStr(kv_, key);
    put<std::uint32_t>(kv_, kTypeU32);
    put<std::uint32_t>(kv_, v);
    ++nkv_;
}
void Writer::addF32(const std::string& key, float v) {
    putStr(kv_, key);
    put<std::uint32_t>(kv_, kTypeF32);
    put<float>(kv_, v);
    ++nkv_;
}
void Writer::addBool(const std::string& key, bool v) {
    putStr(kv_, key);
    put<std::uint32_t>(kv_, kTypeBool);
    put<std::uint8_t>(kv_, v ? 1 : 0);
    ++nkv_;
}
void Writer::addStringArray(const std::string& key, const std::vector<std::string>& v) {
    putStr(kv_, key);
    put<std::uint32_t>(kv_, kTypeArray);
    put<std::uint32_t>(kv_, kTypeString);
    put<std::uint64_t>(kv_, v.size());
    for (const auto& s : v) putStr(kv_, s);
    ++nkv_;
}
void Writer::addI32Array(const std::string& key, const std::vector<std::int32_t>& v) {
    putStr(kv_, key);
    put<std::uint32_t>(kv_, kTypeArray);
    put<std::uint32_t>(kv_, kTypeI32);
    put<std::uint64_t>(kv_, v.size());
    for (auto x : v) put<std::int32_t>(kv_, x);
    ++nkv_;
}

void Writer::addTensor(const std::string& name, const std::vector<std::int64_t>& shape, std::uint32_t type) {
    std::uint64_t n = 1;
    for (auto d : shape) n *= static_cast<std::uint64_t>(d);
    if ((type == kQ8_0 || type == kQ4_0) && shape.back() % 32 != 0)
        fail(name, "rows of " + std::to_string(shape.back()) + " values cannot be written as " + typeName(type));
    T t{name, shape, type, dataBytes_, typeBytes(type, n)};
    dataBytes_ += t.bytes;
    dataBytes_ += (kAlign - dataBytes_ % kAlign) % kAlign;
    tensors_.push_back(std::move(t));
}

void Writer::write(std::ostream& out, const std::function<std::vector<float>(std::size_t)>& fetch, RunContext& ctx) const {
    std::string head = "GGUF";
    put<std::uint32_t>(head, 3);
    put<std::uint64_t>(head, tensors_.size());
    put<std::uint64_t>(head, nkv_);
    head += kv_;
    for (const auto& t : tensors_) {
        putStr(head, t.name);
        put<std::uint32_t>(head, static_cast<std::uint32_t>(t.shape.size()));
        for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put<std::uint64_t>(head, static_cast<std::uint64_t>(*it));
        put<std::uint32_t>(head, t.type);
        put<std::uint64_t>(head, t.offset);
    }
    head.append((kAlign - head.size() % kAlign) % kAlign, '\0');
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    std::uint64_t pos = 0;
    std::vector<std::uint8_t> buf;
    for (std::size_t i = 0; i < tensors_.size(); ++i) {
        ctx.checkCancelled();
        const auto& t = tensors_[i];
        const std::vector<float> v = fetch(i);
        const auto n = static_cast<std::int64_t>(v.size());
        QCW_ASSERT(static_cast<std::uint64_t>(n) * 1 == t.bytes / (t.type == kF32 ? 4 : t.type == kF16 ? 2 : 1) ||
                       t.type == kQ8_0 || t.type == kQ4_0,
                   "tensor size");
        buf.assign(t.bytes, 0);
        switch (t.type) {
            case kF32: std::memcpy(buf.data(), v.data(), t.bytes); break;
            case kF16:
                for (std::int64_t j = 0; j < n; ++j) {
                    const std::uint16_t h = toHalfBits(v[static_cast<std::size_t>(j)]);
                    std::memcpy(buf.data() + 2 * j, &h, 2);
                }
                break;
            case kQ8_0: quantizeQ8_0(v.data(), n, buf.data()); break;
            case kQ4_0: quantizeQ4_0(v.data(), n, buf.data()); break;
        }
        QCW_ASSERT(pos == t.offset, "tensor offset");
        out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
        pos += t.bytes;
        const std::uint64_t pad = (kAlign - pos % kAlign) % kAlign;
        static const char zeros[kAlign] = {0};
        out.write(zeros, static_cast<std::streamsize>(pad));
        pos += pad;
        ctx.report("export", static_cast<long long>(i + 1), static_cast<long long>(tensors_.size()), {}, t.name);
    }
    if (!out) fail("gguf", "write failed (disk full?)");
}

namespace {

void appendUtf8(std::string& s, std::uint32_t cp) {
    if (cp < 0x80) s += static_cast<char>(cp);
    else if (cp < 0x800) {
        s += static_cast<char>(0xc0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        s += static_cast<char>(0xe0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        s += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

// GPT-2's byte-to-symbol table: printable Latin-1 bytes stand for themselves, the other bytes
// take the code points from 256 up, in byte order.
std::vector<std::string> byteSymbols() {
    std::vector<std::string> out(256);
    std::uint32_t next = 256;
    for (std::uint32_t b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
        appendUtf8(out[b], printable ? b : next++);
    }
    return out;
}

}  // namespace

Vocab loadVocab(const std::string& modelDir, std::int64_t nVocab) {
    Vocab v;
    const fs::path path = fs::path(modelDir) / "tokenizer.json";
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        const auto bytes = byteSymbols();
        for (std::int64_t i = 0; i < nVocab; ++i) {
            v.tokens.push_back(i < 256 ? bytes[static_cast<std::size_t>(i)] : "[PAD" + std::to_string(i) + "]");
            v.types.push_back(i < 256 ? 1 : 5);
        }
        return v;
    }
    auto j = nlohmann::json::parse(readTextFile(path.string(), 256u << 20), nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("model") || !j["model"].is_object())
        fail(path.string(), "is not a tokenizer.json (no \"model\" object)");
    const auto& model = j["model"];
    if (model.value("type", std::string()) != "BPE")
        fail(path.string(), "has a " + model.value("type", std::string("?")) + " model; GGUF export handles byte-level BPE only");
    if (!model.contains("vocab") || !model["vocab"].is_object()) fail(path.string(), "has no BPE vocab");
    std::vector<std::string> byId(static_cast<std::size_t>(nVocab));
    std::vector<std::int32_t> types(static_cast<std::size_t>(nVocab), 5);
    for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
        if (!it.value().is_number_integer()) continue;
        const auto id = it.value().get<std::int64_t>();
        if (id < 0 || id >= nVocab) fail(path.string(), "token '" + it.key() + "' has id " + std::to_string(id) +
                                                             ", outside the model's vocabulary of " + std::to_string(nVocab));
        byId[static_cast<std::size_t>(id)] = it.key();
        types[static_cast<std::size_t>(id)] = 1;
    }
    if (j.contains("added_tokens") && j["added_tokens"].is_array())
        for (const auto& a : j["added_tokens"]) {
            if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content")) continue;
            const auto id = a["id"].get<std::int64_t>();
            if (id < 0 || id >= nVocab) continue;
            byId[static_cast<std::size_t>(id)] = a["content"].get<std::string>();
            types[static_cast<std::size_t>(id)] = a.value("special", false) ? 3 : 4;
        }
    for (std::int64_t i = 0; i < nVocab; ++i) {
        auto& t = byId[static_cast<std::size_t>(i)];
        if (t.empty()) {
            t = "[PAD" + std::to_string(i) + "]";
            types[static_cast<std::size_t>(i)] = 5;
        }
    }
    if (model.contains("merges") && model["merges"].is_array())
        for (const auto& m : model["merges"]) {
            if (m.is_string()) v.merges.push_back(m.get<std::string>());
            else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
                v.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
        }
    v.tokens = std::move(byId);
    v.types = std::move(types);
    v.real = true;
    return v;
}

}  // namespace gguf

GgufInfo readGgufInfo(const std::string& path) {
    auto map = MappedFile::open(path);
    const std::uint8_t* p = map->data();
    const std::size_t size = map->size();
    std::size_t at = 0;
    auto need = [&](std::size_t n) {
        if (n > size || at > size - n) fail(path, "is truncated at byte " + std::to_string(at));
    };
    auto rd = [&](auto& v) {
        need(sizeof(v));
        std::memcpy(&v, p + at, sizeof(v));
        at += sizeof(v);
    };
    auto rdStr = [&]() {
        std::uint64_t n;
        rd(n);
        need(n);
        std::string s(reinterpret_cast<const char*>(p + at), n);
        at += n;
        return s;
    };
    need(4);
    if (std::memcmp(p, "GGUF", 4) != 0) fail(path, "is not a GGUF file (bad magic)");
    at = 4;
    GgufInfo info;
    std::uint64_t nt, nkv;
    rd(info.version);
    rd(nt);
    rd(nkv);
    if (nt > (1u << 20) || nkv > (1u << 20)) fail(path, "has an implausible tensor or key count");
    auto scalar = [&](std::uint32_t type) -> std::string {
        switch (type) {
            case kTypeU8: { std::uint8_t v; rd(v); return std::to_string(v); }
            case kTypeI8: { std::int8_t v; rd(v); return std::to_string(v); }
            case kTypeU16: { std::uint16_t v; rd(v); return std::to_string(v); }
            case kTypeI16: { std::int16_t v; rd(v); return std::to_string(v); }
            case kTypeU32: { std::uint32_t v; rd(v); return std::to_string(v); }
            case kTypeI32: { std::int32_t v; rd(v); return std::to_string(v); }
            case kTypeF32: { float v; rd(v); return std::to_string(v); }
            case kTypeBool: { std::uint8_t v; rd(v); return v ? "true" : "false"; }
            case kTypeString: return rdStr();
            case kTypeU64: { std::uint64_t v; rd(v); return std::to_string(v); }
            case kTypeI64: { std::int64_t v; rd(v); return std::to_string(v); }
            case kTypeF64: { double v; rd(v); return std::to_string(v); }
            default: fail(path, "has an unknown metadata type " + std::to_string(type));
        }
    };
    for (std::uint64_t i = 0; i < nkv; ++i) {
        const std::string key = rdStr();
        std::uint32_t type;
        rd(type);
        if (type == kTypeArray) {
            std::uint32_t et;
            std::uint64_t n;
            rd(et);
            rd(n);
            if (n > size) fail(path, "array '" + key + "' is longer than the file");
            for (std::uint64_t k = 0; k < n; ++k) scalar(et);
            info.meta[key] = "[" + std::to_string(n) + "]";
        } else {
            info.meta[key] = scalar(type);
        }
    }
    for (std::uint64_t i = 0; i < nt; ++i) {
        GgufInfo::Tensor t;
        t.name = rdStr();
        std::uint32_t nd;
        rd(nd);
        if (nd > 4) fail(path, "tensor '" + t.name + "' has " + std::to_string(nd) + " dimensions");
        for (std::uint32_t d = 0; d < nd; ++d) {
            std::uint64_t v;
            rd(v);
            t.dims.push_back(static_cast<std::int64_t>(v));
        }
        rd(t.type);
        rd(t.offset);
        info.tensors.push_back(std::move(t));
    }
    info.dataOffset = (at + kAlign - 1) / kAlign * kAlign;
    return info;
}

}  // namespace qcw
