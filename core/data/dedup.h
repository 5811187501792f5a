#pragma once
// Duplicate detection for training records: exact (hash of normalised text) and near
// (MinHash over word shingles, LSH banding, Jaccard estimate checked against a threshold).
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace qcw {

// Lower-cased ASCII, whitespace runs collapsed to one space, trimmed.
std::string normalizeForDedup(const std::string& text);
std::uint64_t fnv1a64(const std::string& bytes);

std::vector<std::uint64_t> minhashSignature(const std::string& text, int numHashes = 128, int shingleWords = 5);
double jaccardEstimate(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b);

class DuplicateFilter {
public:
    enum class Verdict { New, Exact, Near };

    explicit DuplicateFilter(double jaccardThreshold = 0.8, int numHashes = 128, int bands = 32, int shingleWords = 5);
    // Records the text unless it duplicates one already seen.
    Verdict check(const std::string& text);

private:
    double threshold_;
    int numHashes_, bands_, rows_, shingle_;
    std::unordered_set<std::uint64_t> exact_;
    std::vector<std::vector<std::uint64_t>> signatures_;
    std::vector<std::unordered_map<std::uint64_t, std::vector<int>>> buckets_;
};

}  // namespace qcw
