// Byte-level BPE trainer: counts GPT-2 words, then repeatedly merges the most frequent
// adjacent pair (ties: the smaller pair of ids), as the Hugging Face BpeTrainer does.
#include "common/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <queue>
#include <unordered_map>

namespace qcw {

namespace {

struct Word {
    std::vector<int> sym;
    long long freq = 0;
};

struct HeapEntry {
    long long count;
    std::uint64_t pair;
    bool operator<(const HeapEntry& o) const {  // max-heap: larger count, then smaller pair
        if (count != o.count) return count < o.count;
        return pair > o.pair;
    }
};

}  // namespace

BpeTrainResult trainBpe(const std::vector<std::string>& texts, const BpeTrainerOptions& options, const RunContext& ctx) {
    const int nSpecial = static_cast<int>(options.specialTokens.size());
    if (options.vocabSize < nSpecial + 256)
        fail("trainBpe", "vocab size " + std::to_string(options.vocabSize) + " is smaller than the " +
                             std::to_string(nSpecial + 256) + " special and byte tokens");
    BpeTrainResult result;

    // Vocabulary: special tokens, then the 256 byte characters by code point (GPT-2's order).
    BpeModelData d;
    d.preTokenizer = options.preTokenizer;
    std::vector<std::string> idStr;
    std::vector<std::size_t> idLen;  // bytes each token stands for
    std::unordered_map<std::string, int> strId;
    for (int i = 0; i < nSpecial; ++i) {
        const std::string& s = options.specialTokens[static_cast<std::size_t>(i)];
        if (s.empty() || !isValidUtf8(s)) fail("trainBpe", "special token " + std::to_string(i) + " is empty or not UTF-8");
        if (!strId.emplace(s, i).second) fail("trainBpe", "special token '" + s + "' is given twice");
        idStr.push_back(s);
        idLen.push_back(s.size());
        AddedToken a;
        a.id = i;
        a.content = s;
        a.special = true;
        a.normalized = false;
        d.addedTokens.push_back(a);
    }
    std::vector<std::pair<std::uint32_t, int>> alphabet;
    for (int b = 0; b < 256; ++b) {
        int len = 0;
        alphabet.emplace_back(decodeCodePoint(byteToUnicode(static_cast<std::uint8_t>(b)).data(), len), b);
    }
    std::sort(alphabet.begin(), alphabet.end());
    std::array<int, 256> byteId{};
    for (const auto& [cp, b] : alphabet) {
        const int id = static_cast<int>(idStr.size());
        const std::string& s = byteToUnicode(static_cast<std::uint8_t>(b));
        byteId[static_cast<std::size_t>(b)] = id;
        if (strId.count(s)) fail("trainBpe", "special token '" + s + "' collides with a byte token");
        strId.emplace(s, id);
        idStr.push_back(s);
        idLen.push_back(1);
    }

    // Word counts. Special tokens are cut out of the text first, as when encoding.
    std::unordered_map<std::string, long long> counts;
    std::size_t done = 0;
    for (const auto& raw : texts) {
        ctx.checkCancelled();
        Utf8Sanitized clean = sanitizeUtf8(raw);
        result.invalidUtf8 += clean.invalid;
        result.corpusBytes += clean.text.size();
        std::string_view text = clean.text;
        // Plain segments between special-token occurrences.
        std::vector<std::pair<std::size_t, std::size_t>> segments;
        std::size_t segStart = 0, pos = 0;
        while (pos < text.size()) {
            std::size_t best = 0;
            for (const auto& s : options.specialTokens)
                if (s.size() > best && text.compare(pos, s.size(), s) == 0) best = s.size();
            if (best == 0) {
                ++pos;
                continue;
            }
            segments.emplace_back(segStart, pos);
            segStart = pos = pos + best;
        }
        segments.emplace_back(segStart, text.size());
        std::string prefixed;
        for (const auto& [a, b] : segments) {
            if (a >= b) continue;
            std::string_view piece = text.substr(a, b - a);
            if (options.preTokenizer.addPrefixSpace && piece.front() != ' ') {
                prefixed = " " + std::string(piece);
                piece = prefixed;
            }
            if (!options.preTokenizer.useRegex) {
                ++counts[std::string(piece)];
                continue;
            }
            forEachGpt2Word(piece, [&](std::size_t p, std::size_t len) { ++counts[std::string(piece.substr(p, len))]; });
        }
        if (++done % 256 == 0 || done == texts.size())
            ctx.report("count", static_cast<long long>(done), static_cast<long long>(texts.size()));
    }
    // Sorted unique words: the order (and so every tie) does not depend on hashing.
    std::vector<std::pair<std::string, long long>> sortedWords(counts.begin(), counts.end());
    counts.clear();
    std::sort(sortedWords.begin(), sortedWords.end());
    std::vector<Word> words;
    words.reserve(sortedWords.size());
    for (const auto& [w, f] : sortedWords) {
        Word word;
        word.freq = f;
        for (unsigned char c : w) word.sym.push_back(byteId[c]);
        words.push_back(std::move(word));
    }
    sortedWords.clear();
    result.uniqueWords = words.size();

    // Pair statistics.
    std::unordered_map<std::uint64_t, long long> pairCount;
    std::unordered_map<std::uint64_t, std::vector<int>> where;
    for (std::size_t w = 0; w < words.size(); ++w) {
        const auto& s = words[w].sym;
        for (std::size_t i = 0; i + 1 < s.size(); ++i) {
            const auto k = pairKey(s[i], s[i + 1]);
            pairCount[k] += words[w].freq;
            auto& list = where[k];
            if (list.empty() || list.back() != static_cast<int>(w)) list.push_back(static_cast<int>(w));
        }
    }
    std::priority_queue<HeapEntry> heap;
    {
        std::vector<HeapEntry> initial;
        initial.reserve(pairCount.size());
        for (const auto& [k, c] : pairCount) initial.push_back({c, k});
        heap = std::priority_queue<HeapEntry>(std::less<HeapEntry>(), std::move(initial));
    }

    const long long minFreq = std::max<long long>(1, options.minFrequency);
    const int target = options.vocabSize;
    std::unordered_map<std::uint64_t, long long> delta;
    std::vector<int> affected;
    while (static_cast<int>(idStr.size()) < target) {
        if (heap.empty()) {
            result.stoppedEarly = true;
            break;
        }
        const HeapEntry top = heap.top();
        heap.pop();
        auto pc = pairCount.find(top.pair);
        const long long actual = pc == pairCount.end() ? 0 : pc->second;
        if (actual != top.count) {
            if (actual > 0 && actual < top.count) heap.push({actual, top.pair});
            continue;  // a larger count was pushed when it grew
        }
        if (actual < minFreq) {
            result.stoppedEarly = true;
            break;
        }
        const int a = static_cast<int>(top.pair >> 32);
        const int b = static_cast<int>(top.pair & 0xffffffffu);
        if (options.maxTokenBytes > 0 && idLen[static_cast<std::size_t>(a)] + idLen[static_cast<std::size_t>(b)] > options.maxTokenBytes) {
            pairCount.erase(top.pair);
            continue;
        }
        const std::string merged = idStr[static_cast<std::size_t>(a)] + idStr[static_cast<std::size_t>(b)];
        int newId;
        auto existing = strId.find(merged);
        if (existing != strId.end()) {
            newId = existing->second;
        } else {
            newId = static_cast<int>(idStr.size());
            strId.emplace(merged, newId);
            idStr.push_back(merged);
            idLen.push_back(idLen[static_cast<std::size_t>(a)] + idLen[static_cast<std::size_t>(b)]);
        }
        d.merges.emplace_back(idStr[static_cast<std::size_t>(a)], idStr[static_cast<std::size_t>(b)]);

        // Apply to every word holding the pair, collecting count changes.
        affected = std::move(where[top.pair]);
        where.erase(top.pair);
        std::sort(affected.begin(), affected.end());
        affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
        delta.clear();
        for (int wi : affected) {
            Word& w = words[static_cast<std::size_t>(wi)];
            auto& s = w.sym;
            bool has = false;
            for (std::size_t i = 0; i + 1 < s.size(); ++i)
                if (s[i] == a && s[i + 1] == b) {
                    has = true;
                    break;
                }
            if (!has) continue;
            for (std::size_t i = 0; i + 1 < s.size(); ++i) delta[pairKey(s[i], s[i + 1])] -= w.freq;
            std::vector<int> ns;
            ns.reserve(s.size());
            for (std::size_t i = 0; i < s.size();) {
                if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
                    ns.push_back(newId);
                    i += 2;
                } else {
                    ns.push_back(s[i]);
                    ++i;
                }
            }
            s.swap(ns);
            for (std::size_t i = 0; i + 1 < s.size(); ++i) {
                const auto k = pairKey(s[i], s[i + 1]);
                delta[k] += w.freq;
                if (s[i] == newId || s[i + 1] == newId) {
                    auto& list = where[k];
                    if (list.empty() || list.back() != wi) list.push_back(wi);
                }
            }
        }
        // Deterministic order of heap pushes is not needed (the heap order is total).
        for (const auto& [k, dv] : delta) {
            if (dv == 0) continue;
            long long& c = pairCount[k];
            c += dv;
            if (c <= 0) {
                pairCount.erase(k);
                continue;
            }
            if (dv > 0) heap.push({c, k});
        }
        pairCount.erase(top.pair);
        ++result.merges;
        if (result.merges % 100 == 0) {
            ctx.checkCancelled();
            ctx.report("train", static_cast<long long>(idStr.size()), target);
        }
    }
    ctx.report("train", static_cast<long long>(idStr.size()), target);

    // Special tokens are in the model vocab too, as the Hugging Face trainer writes them.
    for (std::size_t id = 0; id < idStr.size(); ++id)
        d.vocab.emplace_back(idStr[id], static_cast<int>(id));
    result.tokenizer = Tokenizer::fromModelData(std::move(d), "trainBpe");
    return result;
}

}  // namespace qcw
