#include "data/formats/util.h"

#include <cctype>
#include <filesystem>

namespace qcw::formats {

using nlohmann::json;

std::string lower(std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string trimmed(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
    return s.substr(b, e - b);
}

std::string clip(const std::string& s, std::size_t maxChars) {
    if (s.size() <= maxChars) return s;
    std::size_t cut = s.rfind("\n\n", maxChars);
    if (cut == std::string::npos || cut < maxChars / 2) cut = s.rfind('\n', maxChars);
    if (cut == std::string::npos || cut < maxChars / 2) cut = s.rfind(' ', maxChars);
    if (cut == std::string::npos || cut < maxChars / 2) {
        cut = maxChars;
        while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
    }
    return trimmed(s.substr(0, cut)) + " ...";
}

std::string baseName(const std::string& path) { return std::filesystem::path(path).filename().string(); }

std::string scalarText(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "null";
    return v.dump();
}

void flattenJson(const json& v, const std::string& path, std::vector<std::string>& lines, std::size_t maxLines,
                 int depth) {
    if (lines.size() >= maxLines) return;
    if (depth > 300) return;
    if (v.is_object()) {
        if (v.empty()) lines.push_back(path + ": {}");
        for (auto it = v.begin(); it != v.end() && lines.size() < maxLines; ++it)
            flattenJson(it.value(), path.empty() ? it.key() : path + "." + it.key(), lines, maxLines, depth + 1);
    } else if (v.is_array()) {
        if (v.empty()) lines.push_back(path + ": []");
        for (std::size_t i = 0; i < v.size() && lines.size() < maxLines; ++i)
            flattenJson(v[i], path + "[" + std::to_string(i) + "]", lines, maxLines, depth + 1);
    } else {
        lines.push_back(path + ": " + scalarText(v));
    }
}

std::string joinLines(const std::vector<std::string>& lines, const char* prefix) {
    std::string r;
    for (const auto& l : lines) r += prefix + l + "\n";
    return r;
}

void addWholeSection(DocumentReport& r, const std::string& kind) {
    DocSection s;
    s.kind = kind;
    s.title = baseName(r.path);
    s.text = r.text;
    s.begin = 0;
    s.end = r.text.size();
    s.verbatim = true;
    r.sections.push_back(std::move(s));
}

std::string extensionOf(const std::string& path) {
    std::string ext = lower(std::filesystem::path(path).extension().string());
    return ext.empty() ? ext : ext.substr(1);
}

}  // namespace qcw::formats
