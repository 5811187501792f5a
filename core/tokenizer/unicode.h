#pragma once
// Internal Unicode helpers of the tokenizer module.
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

namespace qcw {

enum : std::uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3 };

// \p{L} / \p{N} / JavaScript \s / anything else, for one code point.
std::uint8_t codePointClass(std::uint32_t cp);
bool isValidUtf8(std::string_view bytes);
// Decodes one character of valid UTF-8 at p.
std::uint32_t decodeCodePoint(const char* p, int& len);
void appendUtf8(std::string& out, std::uint32_t cp);
// Calls emit(offset, length) for each word of GPT-2's pattern in valid UTF-8 `text`.
void forEachGpt2Word(std::string_view text, const std::function<void(std::size_t, std::size_t)>& emit);

}  // namespace qcw
