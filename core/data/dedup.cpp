#include "data/dedup.h"

#include <algorithm>
#include <limits>

namespace qcw {

namespace {
std::uint64_t splitmix(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
}  // namespace

std::string normalizeForDedup(const std::string& text) {
    std::string r;
    r.reserve(text.size());
    bool pendingSpace = false;
    for (char c : text) {
        if (space(c)) {
            pendingSpace = !r.empty();
            continue;
        }
        if (pendingSpace) r += ' ';
        pendingSpace = false;
        r += (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
    }
    return r;
}

std::uint64_t fnv1a64(const std::string& bytes) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 0x100000001b3ull;
    }
    return h;
}

std::vector<std::uint64_t> minhashSignature(const std::string& text, int numHashes, int shingleWords) {
    std::string norm = normalizeForDedup(text);
    std::vector<std::uint64_t> words;
    std::size_t p = 0;
    while (p < norm.size()) {
        std::size_t e = norm.find(' ', p);
        if (e == std::string::npos) e = norm.size();
        std::uint64_t h = 0xcbf29ce484222325ull;
        for (std::size_t i = p; i < e; ++i) {
            h ^= static_cast<unsigned char>(norm[i]);
            h *= 0x100000001b3ull;
        }
        words.push_back(h);
        p = e + 1;
    }
    std::vector<std::uint64_t> shingles;
    std::size_t k = std::size_t(std::max(1, shingleWords));
    if (words.size() <= k) {
        std::uint64_t h = 0;
        for (auto w : words) h = splitmix(h ^ w);
        shingles.push_back(h);
    } else {
        for (std::size_t i = 0; i + k <= words.size(); ++i) {
            std::uint64_t h = 0;
            for (std::size_t j = 0; j < k; ++j) h = splitmix(h ^ words[i + j]);
            shingles.push_back(h);
        }
    }
    std::sort(shingles.begin(), shingles.end());
    shingles.erase(std::unique(shingles.begin(), shingles.end()), shingles.end());
    std::vector<std::uint64_t> sig(std::size_t(numHashes), std::numeric_limits<std::uint64_t>::max());
    for (std::uint64_t s : shingles)
        for (int i = 0; i < numHashes; ++i) {
            std::uint64_t h = splitmix(s ^ (0x5851F42D4C957F2Dull * std::uint64_t(i + 1)));
            if (h < sig[std::size_t(i)]) sig[std::size_t(i)] = h;
        }
    return sig;
}

double jaccardEstimate(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b) {
    if (a.empty() || a.size() != b.size()) return 0.0;
    std::size_t same = 0;
    for (std::size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
    return double(same) / double(a.size());
}

DuplicateFilter::DuplicateFilter(double jaccardThreshold, int numHashes, int bands, int shingleWords)
    : threshold_(jaccardThreshold), numHashes_(numHashes), bands_(bands), rows_(numHashes / bands),
      shingle_(shingleWords), buckets_(std::size_t(bands)) {}

DuplicateFilter::Verdict DuplicateFilter::check(const std::string& text) {
    std::uint64_t h = fnv1a64(normalizeForDedup(text));
    if (!exact_.insert(h).second) return Verdict::Exact;
    if (threshold_ >= 1.0) return Verdict::New;
    auto sig = minhashSignature(text, numHashes_, shingle_);
    std::vector<std::uint64_t> keys(static_cast<std::size_t>(bands_));
    for (int b = 0; b < bands_; ++b) {
        std::uint64_t k = std::uint64_t(b) * 0x9E3779B97F4A7C15ull;
        for (int r = 0; r < rows_; ++r) k = splitmix(k ^ sig[std::size_t(b * rows_ + r)]);
        keys[std::size_t(b)] = k;
        auto it = buckets_[std::size_t(b)].find(k);
        if (it == buckets_[std::size_t(b)].end()) continue;
        for (int other : it->second)
            if (jaccardEstimate(sig, signatures_[std::size_t(other)]) >= threshold_) return Verdict::Near;
    }
    int id = int(signatures_.size());
    signatures_.push_back(std::move(sig));
    for (int b = 0; b < bands_; ++b) buckets_[std::size_t(b)][keys[std::size_t(b)]].push_back(id);
    return Verdict::New;
}

}  // namespace qcw
