#pragma once
// Helpers the format files share (not public API): text trimming and clipping, JSON
// flattening, whole-document sections, Markdown heading pairs (Markdown and HTML), and the
// ARM refinement of JSON.
#include "data/data.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace qcw::formats {

std::string lower(std::string s);
std::string trimmed(const std::string& s);
// Cuts at a paragraph/line/word boundary so the result has at most `maxChars` bytes.
std::string clip(const std::string& s, std::size_t maxChars);
std::string baseName(const std::string& path);
// Lower-case extension without the dot ("" when none).
std::string extensionOf(const std::string& path);
std::string joinLines(const std::vector<std::string>& lines, const char* prefix = "");

std::string scalarText(const nlohmann::json& v);
// `path: value` lines for every scalar, at most `maxLines`.
void flattenJson(const nlohmann::json& v, const std::string& path, std::vector<std::string>& lines,
                 std::size_t maxLines, int depth = 0);

// The whole scrubbed text as one verbatim section of this kind.
void addWholeSection(DocumentReport& r, const std::string& kind);

// Markdown (markdown.cpp): one pair per heading with a body.
void markdownPairs(DocumentReport& r, std::size_t maxChars);

// ARM (arm.cpp): JSON that is an ARM template or parameter file, and its structure.
bool looksLikeArm(const nlohmann::json& j);
void parseArm(DocumentReport& r, const nlohmann::json& j, const DataOptions& o);

}  // namespace qcw::formats
