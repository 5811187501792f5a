#pragma once
// Byte-level BPE tokenizer (GPT-2 / Phi): loads Hugging Face tokenizer.json or GPT-2's
// encoder.json + vocab.bpe, encodes and decodes any UTF-8, decodes incrementally for
// streaming generation, and trains new vocabularies that it writes as standard
// tokenizer.json. Plain C++17 (+ nlohmann_json inside); no Qt, no torch.
//
// Pre-tokenization is GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// implemented by hand over Unicode 17 class tables taken from the JavaScript engine (the
// gpt-3-encoder peer). JavaScript's \s differs from Python `regex`'s in two code points:
// U+FEFF is whitespace here (not in Python), U+0085 is not (it is in Python).
//
// Thread safety: a loaded Tokenizer is immutable apart from an internal, locked word cache;
// encode/decode may run concurrently from several threads.
#include "common/run_context.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qcw {

// A token matched whole in the input before pre-tokenization and never split
// (Hugging Face "added_tokens"). Special tokens can be skipped when decoding.
struct AddedToken {
    int id = -1;
    std::string content;
    bool special = false;
    bool singleWord = false;  // only matches when not inside a word
    bool lstrip = false;      // absorbs whitespace on its left
    bool rstrip = false;      // absorbs whitespace on its right
    bool normalized = true;   // HF: matched after normalization (second pass here)
};

struct PreTokenizerOptions {
    bool addPrefixSpace = false;  // prepend ' ' when the text does not start with one
    bool useRegex = true;         // false: the whole segment is one word
};

// Everything a byte-level BPE tokenizer is made of.
struct BpeModelData {
    std::vector<std::pair<std::string, int>> vocab;          // byte-level token string -> id
    std::vector<std::pair<std::string, std::string>> merges; // in rank order
    std::vector<AddedToken> addedTokens;
    PreTokenizerOptions preTokenizer;
    bool ignoreMerges = false;               // HF option: a word found whole in vocab is one token
    std::optional<std::string> unkToken;     // used for bytes missing from the vocab
};

struct EncodeOptions {
    bool matchAddedTokens = true;    // false: added/special tokens are encoded as plain text
    bool matchSpecialTokens = true;  // false: only the non-special added tokens are matched
};

struct EncodeResult {
    std::vector<int> ids;
    std::size_t invalidUtf8 = 0;     // ill-formed UTF-8 sequences replaced by U+FFFD
    std::size_t droppedBytes = 0;    // bytes with no vocab entry and no unk token (0 for GPT-2)
    bool hadInvalidUtf8() const { return invalidUtf8 != 0; }
};

struct DecodeOptions {
    bool skipSpecial = false;  // leave out special added tokens
    bool skipUnknown = false;  // ids outside the vocabulary: skipped instead of an error
};

class Tokenizer {
public:
    // tokenizer.json (BPE model, ByteLevel pre-tokenizer/decoder, merges as "a b" or ["a","b"]).
    static std::unique_ptr<Tokenizer> fromTokenizerJsonFile(const std::string& path);
    static std::unique_ptr<Tokenizer> fromTokenizerJson(const std::string& jsonText,
                                                        const std::string& where = "tokenizer.json");
    // GPT-2's encoder.json (or HF vocab.json) + vocab.bpe (or merges.txt). No token is treated
    // as added/special unless listed in `specialTokens` (they must be in the vocabulary).
    static std::unique_ptr<Tokenizer> fromGpt2Files(const std::string& encoderJsonPath,
                                                    const std::string& vocabBpePath,
                                                    const std::vector<std::string>& specialTokens = {});
    static std::unique_ptr<Tokenizer> fromModelData(BpeModelData data, const std::string& where = "tokenizer");

    ~Tokenizer();
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    // Never throws on any input bytes: ill-formed UTF-8 is replaced by U+FFFD and counted.
    EncodeResult encode(std::string_view text, const EncodeOptions& options = {}) const;
    std::vector<int> encodeIds(std::string_view text) const { return encode(text).ids; }

    // Raw bytes of the tokens (may end inside a UTF-8 character).
    std::string decodeBytes(const std::vector<int>& ids, const DecodeOptions& options = {}) const;
    // Text: as decodeBytes, ill-formed UTF-8 replaced by U+FFFD. Unknown ids throw qcw::Error
    // unless options.skipUnknown.
    std::string decode(const std::vector<int>& ids, const DecodeOptions& options = {}) const;
    // Bytes of one token; nullptr for an unknown id.
    const std::string* tokenBytes(int id) const;

    int vocabSize() const;  // largest id + 1 (model vocab and added tokens)
    std::optional<int> tokenToId(const std::string& token) const;  // byte-level string or added content
    std::string idToToken(int id) const;                           // "" for an unknown id
    bool isSpecial(int id) const;
    const std::vector<AddedToken>& addedTokens() const;
    std::size_t mergeCount() const;

    // Standard tokenizer.json text (deterministic; loadable by Hugging Face tokenizers).
    std::string toTokenizerJson() const;
    void saveTokenizerJson(const std::string& path) const;  // atomic write

    const BpeModelData& modelData() const;

    struct Impl;

private:
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The tokenizer of a model directory: tokenizer.json, else vocab.json + merges.txt (HF GPT-2
// layout, with "<|endoftext|>" and added_tokens.json entries as special tokens).
// nullptr when the directory has neither; throws qcw::Error when one is present but broken.
std::unique_ptr<Tokenizer> loadTokenizerForModel(const std::string& modelDir);

// Feed ids one at a time, get back only complete UTF-8 text (held bytes of a partial
// character are released once the character completes; sequences that can never complete
// come out as U+FFFD). Concatenating every push() and the final flush() equals decode(ids).
// Keeps a reference: the tokenizer must outlive the decoder. Unknown ids throw qcw::Error
// unless options.skipUnknown (a model's padded vocabulary can emit ids the tokenizer lacks).
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options = {});
    std::string push(int id);
    std::string push(const std::vector<int>& ids);
    std::string flush();  // whatever is still held, ill-formed bytes as U+FFFD
    void reset();
    std::size_t pendingBytes() const { return pending_.size(); }

private:
    const Tokenizer& tokenizer_;
    DecodeOptions options_;
    std::string pending_;
};

struct BpeTrainerOptions {
    int vocabSize = 1000;                    // special tokens + 256 bytes + merges
    std::vector<std::string> specialTokens;  // get ids 0.. in the given order
    long long minFrequency = 2;              // a pair seen fewer times is never merged
    std::size_t maxTokenBytes = 0;           // 0: unlimited
    PreTokenizerOptions preTokenizer;
};

struct BpeTrainResult {
    std::unique_ptr<Tokenizer> tokenizer;
    std::size_t corpusBytes = 0;
    std::size_t uniqueWords = 0;
    std::size_t merges = 0;
    std::size_t invalidUtf8 = 0;  // ill-formed sequences replaced in the corpus
    bool stoppedEarly = false;    // ran out of pairs with minFrequency before vocabSize
};

// Deterministic: the same texts (in the same order) and options give the same tokenizer.
BpeTrainResult trainBpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options,
                        const RunContext& ctx = RunContext::none());

// UTF-8 helpers used by the tokenizer (exposed for tests and the UI).
struct Utf8Sanitized {
    std::string text;
    std::size_t invalid = 0;
};
// Replaces each maximal ill-formed subpart by U+FFFD (the WHATWG / Unicode practice).
Utf8Sanitized sanitizeUtf8(std::string_view bytes);
// Length of the longest prefix that ends on a character boundary and leaves out only a
// trailing incomplete (but so far valid) sequence.
std::size_t completeUtf8Prefix(std::string_view bytes);

// GPT-2's byte <-> printable character map ("Ġ" is the space byte).
const std::string& byteToUnicode(std::uint8_t byte);  // UTF-8 of the mapped character

// Pre-tokenization (exposed for tests): the words of GPT-2's pattern, as views into `text`
// (meant for valid UTF-8; other bytes never read past the text, each counts as one U+FFFD).
std::vector<std::string_view> splitGpt2Words(std::string_view text);

}  // namespace qcw
