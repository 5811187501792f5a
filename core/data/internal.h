#pragma once
// Shared between document.cpp and dataset.cpp; not part of the public API.
#include "data/data.h"

#include <vector>

namespace qcw::detail {

// Maps offsets in a scrubbed text back to the extracted text (bytes, lines, PDF pages).
class PositionMapper {
public:
    explicit PositionMapper(const DocumentReport& doc);
    SourcePosition map(std::size_t begin, std::size_t end) const;

private:
    std::size_t toOriginal(std::size_t off, bool endOffset) const;
    int lineOf(std::size_t off) const;
    std::vector<std::size_t> newlines_, formfeeds_;
    const std::vector<RedactionSpan>* spans_;
    std::vector<long long> delta_;      // delta_[i]: bytes removed by spans[0..i)
    std::vector<int> removedLines_;     // removedLines_[i]: newlines removed by spans[0..i)
    bool pdf_ = false;
};

// Cuts `text` into pieces of at most maxTokens tokens with `overlap` tokens repeated,
// preferring paragraph, line and word boundaries. Returns [begin, end) byte ranges.
std::vector<std::pair<std::size_t, std::size_t>> chunkRanges(const std::string& text, int maxTokens, int overlap,
                                                             const TokenizeFn& tokenize);
int countTokens(const std::string& text, const TokenizeFn& tokenize);

}  // namespace qcw::detail
