#pragma once
// JSON Lines: one JSON value per line. Every reader of a JSONL file in the project goes through
// here, so blank lines, errors and their "file:line" prefixes behave the same everywhere.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <functional>
#include <string>

namespace qcw {

// Calls fn(value, where) for each non-blank line of `path` in order; `where` is "path:line",
// for errors about that record. A line that is not JSON is an error naming it. fn returns
// false to stop reading. Files above maxBytes are refused (see readTextFile).
void forEachJsonLine(const std::string& path,
                     const std::function<bool(const nlohmann::json& value, const std::string& where)>& fn,
                     std::size_t maxBytes = std::size_t(1) << 30);

}  // namespace qcw
