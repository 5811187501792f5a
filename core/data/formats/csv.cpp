// CSV / TSV (RFC 4180): rows become "column: value; column: value" lines before scrubbing,
// so a "password" column reads as `password: X` to the scrubber. One verbatim section.
#include "data/formats/format.h"
#include "data/formats/util.h"
#include "data/parsers.h"

namespace qcw::formats {

namespace {

std::string quoteIfNeeded(const std::string& v) {
    bool need = v.empty() || v.find_first_of(" \t\n;\"") != std::string::npos;
    if (!need) return v;
    std::string r = "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') r += '\\';
        r += (c == '\n' || c == '\r') ? ' ' : c;
    }
    return r + "\"";
}

// Rows become "header: value; header: value" lines, so column names give values context
// (a "password" column reads as `password: X` to the scrubber).
std::string renderCsv(const std::string& text, char delim) {
    auto rows = parseCsv(text, delim);
    if (rows.empty()) return {};
    std::string out;
    const auto& header = rows[0];
    bool hasHeader = rows.size() > 1;
    if (!hasHeader) {
        for (std::size_t i = 0; i < header.size(); ++i) out += (i ? "; " : "") + quoteIfNeeded(header[i]);
        return out + "\n";
    }
    for (std::size_t r = 1; r < rows.size(); ++r) {
        std::string line;
        for (std::size_t c = 0; c < rows[r].size(); ++c) {
            std::string name = c < header.size() && !trimmed(header[c]).empty() ? trimmed(header[c])
                                                                                 : "column " + std::to_string(c + 1);
            line += (c ? "; " : "") + name + ": " + quoteIfNeeded(rows[r][c]);
        }
        out += line + "\n";
    }
    return out;
}

class CsvFormat final : public DocumentFormat {
public:
    const char* id() const override { return "csv"; }
    const char* displayName() const override { return "CSV / TSV table"; }
    Claim detect(const DetectInput& in) const override {
        return in.ext == "csv" || in.ext == "tsv" ? Claim::Extension : Claim::None;
    }
    bool extract(const std::string& path, std::string& text, const DataOptions&, std::string&) const override {
        text = renderCsv(text, extensionOf(path) == "tsv" ? '\t' : ',');
        return true;
    }
    void structure(DocumentReport& r, const DataOptions&) const override { addWholeSection(r, "csv"); }
};

}  // namespace

const DocumentFormat& csvFormat() {
    static const CsvFormat f;
    return f;
}

}  // namespace qcw::formats
