// UTF-8 sanitizing and GPT-2's pre-tokenizer pattern, by hand over Unicode class tables.
#include "tokenizer/unicode.h"

#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <array>

namespace qcw {

namespace {

struct ClassRange {
    std::uint32_t first;
    std::uint32_t last;
    std::uint8_t cls;
};

const ClassRange kRanges[] = {
#include "tokenizer/unicode_tables.inc"
};

struct BmpTable {
    std::array<std::uint8_t, 0x10000> cls{};
    BmpTable() {
        for (const auto& r : kRanges) {
            if (r.first > 0xFFFF) break;
            for (std::uint32_t c = r.first; c <= std::min<std::uint32_t>(r.last, 0xFFFF); ++c) cls[c] = r.cls;
        }
    }
};

const BmpTable& bmp() {
    static const BmpTable t;
    return t;
}

// Expected continuation count and allowed range of the first continuation for a lead byte;
// len 0 marks a byte that can never start a sequence.
struct LeadInfo {
    int len;
    unsigned char lo;
    unsigned char hi;
};

inline LeadInfo leadInfo(unsigned char b) {
    if (b < 0x80) return {1, 0, 0};
    if (b < 0xC2) return {0, 0, 0};
    if (b < 0xE0) return {2, 0x80, 0xBF};
    if (b == 0xE0) return {3, 0xA0, 0xBF};
    if (b == 0xED) return {3, 0x80, 0x9F};
    if (b < 0xF0) return {3, 0x80, 0xBF};
    if (b == 0xF0) return {4, 0x90, 0xBF};
    if (b < 0xF4) return {4, 0x80, 0xBF};
    if (b == 0xF4) return {4, 0x80, 0x8F};
    return {0, 0, 0};
}

// Length of the well-formed character at s[i] (1..4), or -k where k is the number of bytes
// forming the maximal ill-formed subpart (k >= 1), or 0 when the bytes up to the end are a
// valid but incomplete start of a character.
inline int scanChar(const unsigned char* s, std::size_t n, std::size_t i) {
    const unsigned char b = s[i];
    if (b < 0x80) return 1;
    const LeadInfo li = leadInfo(b);
    if (li.len == 0) return -1;
    std::size_t j = i + 1;
    for (int k = 1; k < li.len; ++k, ++j) {
        if (j >= n) return 0;
        const unsigned char c = s[j];
        const unsigned char lo = k == 1 ? li.lo : 0x80;
        const unsigned char hi = k == 1 ? li.hi : 0xBF;
        if (c < lo || c > hi) return -k;
    }
    return li.len;
}

const char kReplacement[] = "\xEF\xBF\xBD";

}  // namespace

std::uint8_t codePointClass(std::uint32_t cp) {
    if (cp < 0x10000) return bmp().cls[cp];
    const ClassRange* begin = std::begin(kRanges);
    const ClassRange* end = std::end(kRanges);
    const ClassRange* it = std::upper_bound(begin, end, cp, [](std::uint32_t v, const ClassRange& r) { return v < r.first; });
    if (it == begin) return kOther;
    --it;
    return cp <= it->last ? it->cls : std::uint8_t(kOther);
}

bool isValidUtf8(std::string_view bytes) {
    const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    std::size_t i = 0;
    while (i < n) {
        // Eight ASCII bytes at a time.
        while (i + 8 <= n) {
            std::uint64_t w;
            std::memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        const int len = scanChar(s, n, i);
        if (len <= 0) return false;
        i += static_cast<std::size_t>(len);
    }
    return true;
}

Utf8Sanitized sanitizeUtf8(std::string_view bytes) {
    Utf8Sanitized out;
    if (isValidUtf8(bytes)) {
        out.text.assign(bytes.data(), bytes.size());
        return out;
    }
    const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    out.text.reserve(n + 16);
    std::size_t i = 0;
    while (i < n) {
        const int len = scanChar(s, n, i);
        if (len > 0) {
            out.text.append(bytes.data() + i, static_cast<std::size_t>(len));
            i += static_cast<std::size_t>(len);
        } else {
            out.text.append(kReplacement, 3);
            ++out.invalid;
            i += len == 0 ? n - i : static_cast<std::size_t>(-len);
        }
    }
    return out;
}

std::size_t completeUtf8Prefix(std::string_view bytes) {
    const auto* s = reinterpret_cast<const unsigned char*>(bytes.data());
    const std::size_t n = bytes.size();
    // Only the last three bytes can begin an unfinished sequence, and a lead byte always
    // starts a sequence in a forward scan (no character owns it as a continuation).
    for (std::size_t p = n > 3 ? n - 3 : 0; p < n; ++p)
        if (s[p] >= 0xC2 && s[p] <= 0xF4 && scanChar(s, n, p) == 0) return p;
    return n;
}

std::uint32_t decodeCodePoint(const char* p, int& len) {
    const auto* s = reinterpret_cast<const unsigned char*>(p);
    const unsigned char b = s[0];
    if (b < 0x80) {
        len = 1;
        return b;
    }
    if (b < 0xE0) {
        len = 2;
        return (std::uint32_t(b & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if (b < 0xF0) {
        len = 3;
        return (std::uint32_t(b & 0x0F) << 12) | (std::uint32_t(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    }
    len = 4;
    return (std::uint32_t(b & 0x07) << 18) | (std::uint32_t(s[1] & 0x3F) << 12) | (std::uint32_t(s[2] & 0x3F) << 6) |
           (s[3] & 0x3F);
}

void appendUtf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

namespace {

struct Cp {
    std::uint32_t cp;
    int len;
    std::uint8_t cls;
};

// The character at s[i] of an n-byte text. A lead byte whose sequence would run past the
// end (text that is not valid UTF-8) counts as one U+FFFD byte, so no read leaves the text.
inline Cp cpAt(const char* s, std::size_t i, std::size_t n) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) return {b, 1, bmp().cls[b]};
    const std::size_t need = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (b < 0xC0 || n - i < need) return {0xFFFD, 1, codePointClass(0xFFFD)};
    Cp c;
    c.cp = decodeCodePoint(s + i, c.len);
    c.cls = codePointClass(c.cp);
    return c;
}

}  // namespace

void forEachGpt2Word(std::string_view text, const std::function<void(std::size_t, std::size_t)>& emit) {
    const char* s = text.data();
    const std::size_t n = text.size();
    const auto& table = bmp().cls;
    // Class of the character at i with its length; ASCII inline.
    auto at = [&](std::size_t i) -> Cp {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) return {b, 1, table[b]};
        return cpAt(s, i, n);
    };
    // End of the run of characters of class `cls` starting at i.
    auto runEnd = [&](std::size_t i, std::uint8_t cls) {
        while (i < n) {
            const Cp c = at(i);
            if (c.cls != cls) break;
            i += static_cast<std::size_t>(c.len);
        }
        return i;
    };
    std::size_t i = 0;
    while (i < n) {
        const char b = s[i];
        // 's|'t|'re|'ve|'m|'ll|'d
        if (b == '\'' && i + 1 < n) {
            const char b1 = s[i + 1];
            if (b1 == 's' || b1 == 't' || b1 == 'm' || b1 == 'd') {
                emit(i, 2);
                i += 2;
                continue;
            }
            if (i + 2 < n) {
                const char b2 = s[i + 2];
                if ((b1 == 'r' && b2 == 'e') || (b1 == 'v' && b2 == 'e') || (b1 == 'l' && b2 == 'l')) {
                    emit(i, 3);
                    i += 3;
                    continue;
                }
            }
        }
        const Cp c = at(i);
        //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+  with the leading space
        if (b == ' ' && i + 1 < n) {
            const Cp d = at(i + 1);
            if (d.cls != kSpace) {
                const std::size_t j = runEnd(i + 1 + static_cast<std::size_t>(d.len), d.cls);
                emit(i, j - i);
                i = j;
                continue;
            }
        }
        if (c.cls != kSpace) {
            const std::size_t j = runEnd(i + static_cast<std::size_t>(c.len), c.cls);
            emit(i, j - i);
            i = j;
            continue;
        }
        // \s+(?!\S) | \s+
        std::size_t j = i + static_cast<std::size_t>(c.len);
        std::size_t lastStart = i;
        while (j < n) {
            const Cp d = at(j);
            if (d.cls != kSpace) break;
            lastStart = j;
            j += static_cast<std::size_t>(d.len);
        }
        if (j < n && lastStart > i) j = lastStart;  // leave the last space to the next word
        emit(i, j - i);
        i = j;
    }
}

std::vector<std::string_view> splitGpt2Words(std::string_view text) {
    std::vector<std::string_view> words;
    forEachGpt2Word(text, [&](std::size_t pos, std::size_t len) { words.push_back(text.substr(pos, len)); });
    return words;
}

}  // namespace qcw
