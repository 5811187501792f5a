#pragma once
// Internal state of qcw::Tokenizer (shared by the module's .cpp files only).
#include "tokenizer/tokenizer.h"

#include <array>
#include <limits>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qcw {

// Byte-level string ("Ġhello") of raw bytes, and back (false when a character is not in
// the 256-character alphabet).
std::string bytesToByteLevel(std::string_view bytes);
bool byteLevelToBytes(std::string_view token, std::string& out);

inline std::uint64_t pairKey(int a, int b) {
    return (std::uint64_t(std::uint32_t(a)) << 32) | std::uint32_t(b);
}

struct Tokenizer::Impl {
    struct MergeInfo {
        int rank;
        int newId;
    };
    struct Trie {
        struct Node {
            std::vector<std::pair<unsigned char, int>> children;
            int token = -1;  // index into data.addedTokens
        };
        std::vector<Node> nodes;
        std::array<bool, 256> first{};
        void insert(const std::string& s, int tokenIndex);
    };
    struct Segment {
        std::size_t begin;
        std::size_t end;
        int id;  // added token id, or -1 for plain text
    };
    struct CachedWord {
        std::vector<int> ids;
        std::size_t dropped = 0;
    };

    BpeModelData data;
    std::unordered_map<std::string, int> tokenToIdMap;
    std::vector<std::string> idToken;  // byte-level string or added content
    std::vector<std::string> idBytes;  // decoded bytes
    std::vector<std::uint8_t> idKnown;
    std::vector<std::uint8_t> idSpecial;
    std::array<int, 256> byteId{};
    int unkId = -1;
    std::unordered_map<std::uint64_t, MergeInfo> merges;
    std::array<Trie, 2> tries;  // [0] non-normalized added tokens, [1] normalized

    mutable std::mutex cacheMutex;
    mutable std::unordered_map<std::string, CachedWord> cache;

    void build(const std::string& where);
    bool allowed(int tokenIndex, const EncodeOptions& opt) const;
    void splitAdded(std::string_view text, std::size_t begin, std::size_t end, int pass, const EncodeOptions& opt,
                    std::vector<Segment>& out) const;
    void bpeWord(std::string_view word, std::vector<int>& out, std::size_t& dropped) const;
    void encodeWord(std::string_view word, std::vector<int>& out, std::size_t& dropped) const;
};

}  // namespace qcw
