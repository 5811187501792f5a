// Byte-level BPE: model tables, encoding (added tokens, pre-tokenizer, merges), decoding.
#include "tokenizer/tokenizer.h"

#include "common/error.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

#include <algorithm>
#include <queue>
#include <tuple>

namespace qcw {

// ---------------------------------------------------------------------------------------
// GPT-2's byte <-> character map.

namespace {

struct ByteMap {
    std::string toChar[256];              // UTF-8 of the printable stand-in of each byte
    std::unordered_map<std::uint32_t, std::uint8_t> fromCp;
    ByteMap() {
        bool direct[256] = {};
        for (int b = '!'; b <= '~'; ++b) direct[b] = true;
        for (int b = 0xA1; b <= 0xAC; ++b) direct[b] = true;
        for (int b = 0xAE; b <= 0xFF; ++b) direct[b] = true;
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            const std::uint32_t cp = direct[b] ? std::uint32_t(b) : std::uint32_t(256 + n++);
            appendUtf8(toChar[b], cp);
            fromCp[cp] = static_cast<std::uint8_t>(b);
        }
    }
};

const ByteMap& byteMap() {
    static const ByteMap m;
    return m;
}

}  // namespace

const std::string& byteToUnicode(std::uint8_t byte) { return byteMap().toChar[byte]; }

std::string bytesToByteLevel(std::string_view bytes) {
    const auto& m = byteMap();
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) out += m.toChar[b];
    return out;
}

bool byteLevelToBytes(std::string_view token, std::string& out) {
    out.clear();
    if (!isValidUtf8(token)) return false;
    const auto& m = byteMap();
    std::size_t i = 0;
    while (i < token.size()) {
        int len = 0;
        const std::uint32_t cp = decodeCodePoint(token.data() + i, len);
        auto it = m.fromCp.find(cp);
        if (it == m.fromCp.end()) return false;
        out += static_cast<char>(it->second);
        i += static_cast<std::size_t>(len);
    }
    return true;
}

// ---------------------------------------------------------------------------------------
// Construction.

void Tokenizer::Impl::build(const std::string& where) {
    const BpeModelData& d = data;
    int maxId = -1;
    tokenToIdMap.reserve(d.vocab.size() + d.addedTokens.size());
    for (const auto& [tok, id] : d.vocab) {
        if (id < 0) fail(where, "vocab token '" + tok + "' has a negative id " + std::to_string(id));
        if (!tokenToIdMap.emplace(tok, id).second) fail(where, "vocab token '" + tok + "' is listed twice");
        maxId = std::max(maxId, id);
    }
    for (const auto& a : d.addedTokens) {
        if (a.id < 0) fail(where, "added token '" + a.content + "' has a negative id");
        if (a.content.empty()) fail(where, "added token " + std::to_string(a.id) + " has empty content");
        if (!isValidUtf8(a.content)) fail(where, "added token " + std::to_string(a.id) + " is not valid UTF-8");
        maxId = std::max(maxId, a.id);
    }
    if (maxId > 50'000'000) fail(where, "token id " + std::to_string(maxId) + " is implausibly large");
    const std::size_t n = static_cast<std::size_t>(maxId + 1);
    idToken.assign(n, std::string());
    idBytes.assign(n, std::string());
    idKnown.assign(n, 0);
    idSpecial.assign(n, 0);
    std::string bytes;
    for (const auto& [tok, id] : d.vocab) {
        if (idKnown[id]) fail(where, "id " + std::to_string(id) + " is given to both '" + idToken[id] + "' and '" + tok + "'");
        idKnown[id] = 1;
        idToken[id] = tok;
        // Like the Hugging Face ByteLevel decoder: characters outside the byte alphabet make
        // the token decode to its own UTF-8.
        idBytes[id] = byteLevelToBytes(tok, bytes) ? bytes : tok;
    }
    for (int b = 0; b < 256; ++b) {
        auto it = tokenToIdMap.find(byteToUnicode(static_cast<std::uint8_t>(b)));
        byteId[b] = it == tokenToIdMap.end() ? -1 : it->second;
    }
    unkId = -1;
    if (d.unkToken) {
        auto it = tokenToIdMap.find(*d.unkToken);
        if (it == tokenToIdMap.end()) fail(where, "unk_token '" + *d.unkToken + "' is not in the vocabulary");
        unkId = it->second;
    }
    merges.reserve(d.merges.size() * 2);
    int rank = 0;
    for (const auto& [a, b] : d.merges) {
        auto ia = tokenToIdMap.find(a);
        auto ib = tokenToIdMap.find(b);
        auto ic = tokenToIdMap.find(a + b);
        if (ia == tokenToIdMap.end() || ib == tokenToIdMap.end() || ic == tokenToIdMap.end())
            fail(where, "merge " + std::to_string(rank) + " ('" + a + "' '" + b + "') uses a token missing from the vocabulary");
        // The first (lowest-rank) occurrence of a pair wins, as in every BPE implementation.
        merges.emplace(pairKey(ia->second, ib->second), MergeInfo{rank, ic->second});
        ++rank;
    }
    // Added tokens last: merges and byte tokens resolve through the model vocab only.
    for (const auto& a : d.addedTokens) {
        // An added token decodes to its content (also when it is in the model vocab).
        idKnown[a.id] = 1;
        idToken[a.id] = a.content;
        idBytes[a.id] = a.content;
        idSpecial[a.id] = a.special ? 1 : 0;
        tokenToIdMap[a.content] = a.id;  // added tokens win lookups, as in Hugging Face
    }
    // Added-token tries: pass 0 holds non-normalized tokens, pass 1 normalized ones.
    for (auto& t : tries) t = Trie();
    for (std::size_t k = 0; k < d.addedTokens.size(); ++k) {
        const auto& a = d.addedTokens[k];
        tries[a.normalized ? 1 : 0].insert(a.content, static_cast<int>(k));
    }
}

void Tokenizer::Impl::Trie::insert(const std::string& s, int tokenIndex) {
    if (nodes.empty()) nodes.emplace_back();
    int cur = 0;
    for (unsigned char c : s) {
        int next = -1;
        for (const auto& [byte, child] : nodes[static_cast<std::size_t>(cur)].children)
            if (byte == c) next = child;
        if (next < 0) {
            next = static_cast<int>(nodes.size());
            nodes[static_cast<std::size_t>(cur)].children.emplace_back(c, next);
            nodes.emplace_back();
        }
        cur = next;
    }
    if (nodes[static_cast<std::size_t>(cur)].token < 0) nodes[static_cast<std::size_t>(cur)].token = tokenIndex;
    first[static_cast<unsigned char>(s[0])] = true;
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::fromModelData(BpeModelData data, const std::string& where) {
    auto impl = std::make_unique<Impl>();
    impl->data = std::move(data);
    impl->build(where);
    return std::unique_ptr<Tokenizer>(new Tokenizer(std::move(impl)));
}

// ---------------------------------------------------------------------------------------
// Encoding.

namespace {

bool isWordChar(std::string_view s, std::size_t pos, bool before) {
    // The character just before `pos` (before=true) or at `pos`.
    if (before) {
        if (pos == 0) return false;
        std::size_t p = pos - 1;
        while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
        int len = 0;
        const std::uint32_t cp = decodeCodePoint(s.data() + p, len);
        const auto cls = codePointClass(cp);
        return cls == kLetter || cls == kNumber || cp == '_';
    }
    if (pos >= s.size()) return false;
    int len = 0;
    const std::uint32_t cp = decodeCodePoint(s.data() + pos, len);
    const auto cls = codePointClass(cp);
    return cls == kLetter || cls == kNumber || cp == '_';
}

std::size_t spaceBefore(std::string_view s, std::size_t pos, std::size_t limit) {
    while (pos > limit) {
        std::size_t p = pos - 1;
        while (p > limit && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) --p;
        int len = 0;
        if (codePointClass(decodeCodePoint(s.data() + p, len)) != kSpace) break;
        pos = p;
    }
    return pos;
}

std::size_t spaceAfter(std::string_view s, std::size_t pos, std::size_t limit) {
    while (pos < limit) {
        int len = 0;
        if (codePointClass(decodeCodePoint(s.data() + pos, len)) != kSpace) break;
        pos += static_cast<std::size_t>(len);
    }
    return pos;
}

}  // namespace

bool Tokenizer::Impl::allowed(int tokenIndex, const EncodeOptions& opt) const {
    if (!opt.matchAddedTokens) return false;
    return opt.matchSpecialTokens || !data.addedTokens[static_cast<std::size_t>(tokenIndex)].special;
}

void Tokenizer::Impl::splitAdded(std::string_view text, std::size_t begin, std::size_t end, int pass,
                                 const EncodeOptions& opt, std::vector<Segment>& out) const {
    const Trie& trie = tries[pass];
    auto plain = [&](std::size_t a, std::size_t b) {
        if (a >= b) return;
        if (pass == 0 && !tries[1].nodes.empty()) splitAdded(text, a, b, 1, opt, out);
        else out.push_back({a, b, -1});
    };
    if (trie.nodes.empty() || !opt.matchAddedTokens) {
        plain(begin, end);
        return;
    }
    std::size_t segStart = begin;
    std::size_t pos = begin;
    while (pos < end) {
        if (!trie.first[static_cast<unsigned char>(text[pos])]) {
            ++pos;
            continue;
        }
        // Longest allowed token starting at pos.
        int best = -1;
        std::size_t bestEnd = pos;
        int node = 0;
        for (std::size_t q = pos; q < end; ++q) {
            const auto c = static_cast<unsigned char>(text[q]);
            int next = -1;
            for (const auto& [byte, child] : trie.nodes[static_cast<std::size_t>(node)].children)
                if (byte == c) next = child;
            if (next < 0) break;
            node = next;
            const int tok = trie.nodes[static_cast<std::size_t>(node)].token;
            if (tok >= 0 && allowed(tok, opt)) {
                best = tok;
                bestEnd = q + 1;
            }
        }
        if (best < 0) {
            ++pos;
            continue;
        }
        const AddedToken& a = data.addedTokens[static_cast<std::size_t>(best)];
        if (a.singleWord && (isWordChar(text, pos, true) || isWordChar(text, bestEnd, false))) {
            pos = bestEnd;
            continue;
        }
        std::size_t mStart = pos;
        std::size_t mEnd = bestEnd;
        if (a.lstrip) mStart = spaceBefore(text, mStart, segStart);
        if (a.rstrip) mEnd = spaceAfter(text, mEnd, end);
        plain(segStart, mStart);
        out.push_back({mStart, mEnd, a.id});
        segStart = pos = mEnd;
    }
    plain(segStart, end);
}

void Tokenizer::Impl::bpeWord(std::string_view word, std::vector<int>& out, std::size_t& dropped) const {
    if (word.empty()) return;
    if (data.ignoreMerges) {
        auto it = tokenToIdMap.find(bytesToByteLevel(word));
        if (it != tokenToIdMap.end()) {
            out.push_back(it->second);
            return;
        }
    }
    std::vector<int> sym;
    sym.reserve(word.size());
    for (unsigned char b : word) {
        const int id = byteId[b];
        if (id >= 0) sym.push_back(id);
        else if (unkId >= 0) sym.push_back(unkId);
        else ++dropped;
    }
    if (sym.size() < 2) {
        out.insert(out.end(), sym.begin(), sym.end());
        return;
    }
    constexpr int kNone = std::numeric_limits<int>::max();
    auto lookup = [&](int a, int b, int& newId) {
        auto it = merges.find(pairKey(a, b));
        if (it == merges.end()) return kNone;
        newId = it->second.newId;
        return it->second.rank;
    };
    if (sym.size() <= 256) {
        // Repeatedly merge the lowest-rank pair, leftmost first.
        std::vector<int> rank(sym.size() - 1), made(sym.size() - 1);
        for (std::size_t i = 0; i + 1 < sym.size(); ++i) rank[i] = lookup(sym[i], sym[i + 1], made[i]);
        while (sym.size() > 1) {
            std::size_t best = 0;
            for (std::size_t i = 1; i < rank.size(); ++i)
                if (rank[i] < rank[best]) best = i;
            if (rank[best] == kNone) break;
            sym[best] = made[best];
            sym.erase(sym.begin() + static_cast<std::ptrdiff_t>(best) + 1);
            rank.erase(rank.begin() + static_cast<std::ptrdiff_t>(best));
            made.erase(made.begin() + static_cast<std::ptrdiff_t>(best));
            if (best < rank.size()) rank[best] = lookup(sym[best], sym[best + 1], made[best]);
            if (best > 0) rank[best - 1] = lookup(sym[best - 1], sym[best], made[best - 1]);
        }
        out.insert(out.end(), sym.begin(), sym.end());
        return;
    }
    // Long words: a heap of (rank, position) over a linked list, the same order as above.
    const std::size_t n = sym.size();
    std::vector<int> prev(n), next(n);
    std::vector<char> alive(n, 1);
    for (std::size_t i = 0; i < n; ++i) {
        prev[i] = static_cast<int>(i) - 1;
        next[i] = i + 1 < n ? static_cast<int>(i + 1) : -1;
    }
    using Entry = std::tuple<int, int, int>;  // rank, left position, new id
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
    auto push = [&](int left) {
        if (left < 0 || next[static_cast<std::size_t>(left)] < 0) return;
        int made = 0;
        const int r = lookup(sym[static_cast<std::size_t>(left)], sym[static_cast<std::size_t>(next[static_cast<std::size_t>(left)])], made);
        if (r != kNone) heap.emplace(r, left, made);
    };
    for (std::size_t i = 0; i + 1 < n; ++i) push(static_cast<int>(i));
    while (!heap.empty()) {
        const auto [r, left, made] = heap.top();
        heap.pop();
        const auto l = static_cast<std::size_t>(left);
        if (!alive[l] || next[l] < 0) continue;
        const auto rgt = static_cast<std::size_t>(next[l]);
        int check = 0;
        if (lookup(sym[l], sym[rgt], check) != r || check != made) continue;  // stale entry
        sym[l] = made;
        alive[rgt] = 0;
        next[l] = next[rgt];
        if (next[rgt] >= 0) prev[static_cast<std::size_t>(next[rgt])] = left;
        push(prev[l]);
        push(left);
    }
    for (int i = 0; i >= 0; i = next[static_cast<std::size_t>(i)]) out.push_back(sym[static_cast<std::size_t>(i)]);
}

void Tokenizer::Impl::encodeWord(std::string_view word, std::vector<int>& out, std::size_t& dropped) const {
    constexpr std::size_t kMaxCachedWord = 64;
    constexpr std::size_t kMaxCacheEntries = 1u << 17;
    if (word.size() > kMaxCachedWord) {
        bpeWord(word, out, dropped);
        return;
    }
    const std::string key(word);
    {
        std::lock_guard<std::mutex> lock(cacheMutex);
        auto it = cache.find(key);
        if (it != cache.end()) {
            out.insert(out.end(), it->second.ids.begin(), it->second.ids.end());
            dropped += it->second.dropped;
            return;
        }
    }
    CachedWord w;
    bpeWord(word, w.ids, w.dropped);
    out.insert(out.end(), w.ids.begin(), w.ids.end());
    dropped += w.dropped;
    std::lock_guard<std::mutex> lock(cacheMutex);
    if (cache.size() >= kMaxCacheEntries) cache.clear();
    cache.emplace(key, std::move(w));
}

EncodeResult Tokenizer::encode(std::string_view input, const EncodeOptions& options) const {
    const Impl& m = *impl_;
    EncodeResult result;
    std::string cleaned;
    std::string_view text = input;
    if (!isValidUtf8(input)) {
        Utf8Sanitized s = sanitizeUtf8(input);
        result.invalidUtf8 = s.invalid;
        cleaned = std::move(s.text);
        text = cleaned;
    }
    result.ids.reserve(text.size() / 3 + 4);
    std::vector<Impl::Segment> segments;
    m.splitAdded(text, 0, text.size(), m.tries[0].nodes.empty() ? 1 : 0, options, segments);
    std::string prefixed;
    for (const auto& seg : segments) {
        if (seg.id >= 0) {
            result.ids.push_back(seg.id);
            continue;
        }
        std::string_view piece = text.substr(seg.begin, seg.end - seg.begin);
        if (m.data.preTokenizer.addPrefixSpace && piece.front() != ' ') {
            prefixed = " ";
            prefixed += piece;
            piece = prefixed;
        }
        if (!m.data.preTokenizer.useRegex) {
            m.encodeWord(piece, result.ids, result.droppedBytes);
            continue;
        }
        forEachGpt2Word(piece, [&](std::size_t pos, std::size_t len) {
            m.encodeWord(piece.substr(pos, len), result.ids, result.droppedBytes);
        });
    }
    return result;
}

// ---------------------------------------------------------------------------------------
// Decoding and lookups.

const std::string* Tokenizer::tokenBytes(int id) const {
    const Impl& m = *impl_;
    if (id < 0 || static_cast<std::size_t>(id) >= m.idKnown.size() || !m.idKnown[static_cast<std::size_t>(id)]) return nullptr;
    return &m.idBytes[static_cast<std::size_t>(id)];
}

std::string Tokenizer::decodeBytes(const std::vector<int>& ids, const DecodeOptions& options) const {
    std::string out;
    out.reserve(ids.size() * 4);
    for (int id : ids) {
        const std::string* b = tokenBytes(id);
        if (!b) {
            if (options.skipUnknown) continue;
            fail("decode", "token id " + std::to_string(id) + " is not in the vocabulary (size " +
                               std::to_string(vocabSize()) + ")");
        }
        if (options.skipSpecial && impl_->idSpecial[static_cast<std::size_t>(id)]) continue;
        out += *b;
    }
    return out;
}

std::string Tokenizer::decode(const std::vector<int>& ids, const DecodeOptions& options) const {
    return sanitizeUtf8(decodeBytes(ids, options)).text;
}

int Tokenizer::vocabSize() const { return static_cast<int>(impl_->idKnown.size()); }

std::optional<int> Tokenizer::tokenToId(const std::string& token) const {
    auto it = impl_->tokenToIdMap.find(token);
    if (it == impl_->tokenToIdMap.end()) return std::nullopt;
    return it->second;
}

std::string Tokenizer::idToToken(int id) const {
    if (!tokenBytes(id)) return {};
    return impl_->idToken[static_cast<std::size_t>(id)];
}

bool Tokenizer::isSpecial(int id) const { return tokenBytes(id) && impl_->idSpecial[static_cast<std::size_t>(id)]; }

const std::vector<AddedToken>& Tokenizer::addedTokens() const { return impl_->data.addedTokens; }
std::size_t Tokenizer::mergeCount() const { return impl_->data.merges.size(); }
const BpeModelData& Tokenizer::modelData() const { return impl_->data; }

// ---------------------------------------------------------------------------------------
// Streaming decoder.

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, DecodeOptions options)
    : tokenizer_(tokenizer), options_(options) {}

std::string StreamDecoder::push(int id) { return push(std::vector<int>{id}); }

std::string StreamDecoder::push(const std::vector<int>& ids) {
    pending_ += tokenizer_.decodeBytes(ids, options_);
    const std::size_t n = completeUtf8Prefix(pending_);
    if (n == 0) return {};
    std::string out = sanitizeUtf8(std::string_view(pending_).substr(0, n)).text;
    pending_.erase(0, n);
    return out;
}

std::string StreamDecoder::flush() {
    std::string out = sanitizeUtf8(pending_).text;
    pending_.clear();
    return out;
}

void StreamDecoder::reset() { pending_.clear(); }

}  // namespace qcw
