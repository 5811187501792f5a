// Markdown (runbooks, READMEs): the whole text as one section, one pair per heading with a
// body, and the secret detector for table columns named password/secret/PSK ...
#include "data/formats/format.h"
#include "data/formats/scan.h"
#include "data/formats/util.h"
#include "data/parsers.h"

#include <algorithm>
#include <string_view>

namespace qcw::formats {

void markdownPairs(DocumentReport& r, std::size_t maxChars) {
    auto sections = markdownSections(r.text);
    // The document title (first level-1 heading) tells apart "Scope" of one runbook from another's.
    std::string title;
    for (const auto& sec : sections)
        if (sec.level == 1 && !sec.heading.empty()) {
            title = sec.heading;
            break;
        }
    for (const auto& sec : sections) {
        if (sec.heading.empty()) continue;
        std::string body = trimmed(r.text.substr(sec.bodyBegin, sec.bodyEnd - sec.bodyBegin));
        if (body.size() < 40) continue;
        InstructionPair p;
        if (sec.level > 1 && !title.empty() && title != sec.heading)
            p.prompt = "In \"" + title + "\", what is said about \"" + sec.heading + "\"?";
        else
            p.prompt = "What does the documentation say about \"" + sec.heading + "\"?";
        p.completion = clip(body, maxChars);
        p.origin = "markdown";
        p.begin = sec.headingBegin;
        p.end = sec.bodyEnd;
        r.pairs.push_back(std::move(p));
    }
}

namespace {

using namespace scan;
using Cand = SecretCandidate;

bool secretColumn(const std::string& header) {
    for (const char* w : {"password", "passwd", "passphrase", "secret", "psk", "pre-shared", "api key", "api-key",
                          "access key", "shared key", "private key", "token value", "pin"})
        if (header.find(w) != std::string::npos) return header.find("public") == std::string::npos;
    return false;
}

// Markdown tables whose header names a password/secret/key column: those cells go.
void findTableColumns(const std::string& s, std::vector<Cand>& out) {
    std::size_t pos = 0;
    while (pos < s.size()) {
        std::size_t le = lineEnd(s, pos);
        std::size_t p = pos;
        while (p < le && isBlank(s[p])) ++p;
        if (p < le && s[p] == '|') {
            // header cells
            std::vector<bool> secretCol;
            std::size_t c = p + 1;
            while (c < le) {
                std::size_t n = s.find('|', c);
                if (n == std::string::npos || n > le) n = le;
                secretCol.push_back(secretColumn(toLower(s.substr(c, n - c))));
                c = n + 1;
            }
            bool any = std::find(secretCol.begin(), secretCol.end(), true) != secretCol.end();
            std::size_t row = le + 1;
            bool sepRow = row < s.size() && std::string_view(s).substr(row, lineEnd(s, row) - row).find("---") != std::string_view::npos;
            if (!any || !sepRow) {
                // Not a table with a secret column: skip the whole table.
                while (row < s.size()) {
                    std::size_t re = lineEnd(s, row);
                    std::size_t r = row;
                    while (r < re && isBlank(s[r])) ++r;
                    if (r >= re || s[r] != '|') break;
                    row = re + 1;
                }
                pos = row;
                continue;
            }
            while (row < s.size()) {
                std::size_t re = lineEnd(s, row);
                std::size_t r = row;
                while (r < re && isBlank(s[r])) ++r;
                if (r >= re || s[r] != '|') break;
                std::size_t cell = r + 1;
                std::size_t col = 0;
                bool separator = std::string_view(s).substr(r, re - r).find("---") != std::string_view::npos;
                while (cell < re && !separator) {
                    std::size_t n = s.find('|', cell);
                    if (n == std::string::npos || n > re) n = re;
                    if (col < secretCol.size() && secretCol[col]) {
                        std::size_t vb = cell, ve = n;
                        while (vb < ve && isBlank(s[vb])) ++vb;
                        ve = trimRight(s, vb, ve);
                        while (vb < ve && s[vb] == '`' && s[ve - 1] == '`') ++vb, --ve;
                        if (ve > vb && !isPlaceholder(s, vb) && !stopWord(s.substr(vb, ve - vb)) &&
                            s.substr(vb, ve - vb) != "-" && s[vb] != '(' && s[vb] != '<')
                            out.push_back({vb, ve, "password"});
                    }
                    ++col;
                    cell = n + 1;
                }
                row = re + 1;
            }
            pos = row;
            continue;
        }
        pos = le + 1;
    }
}

class MarkdownFormat final : public DocumentFormat {
public:
    const char* id() const override { return "markdown"; }
    const char* displayName() const override { return "Markdown"; }
    Claim detect(const DetectInput& in) const override {
        return in.ext == "md" || in.ext == "markdown" ? Claim::Extension : Claim::None;
    }
    bool sniff(const DetectInput& in) const override {
        return in.head.compare(0, 2, "# ") == 0 || in.bytes->substr(0, 65536).find("\n## ") != std::string::npos;
    }
    void structure(DocumentReport& r, const DataOptions& options) const override {
        addWholeSection(r, r.type);
        if (options.instructionPairs) markdownPairs(r, std::size_t(options.maxTokens) * 4);
    }
    std::vector<SecretDetector> secretDetectors() const override {
        return {{"markdown_table_column", 80,
                 [](const std::string& s, const std::string&, double, std::vector<Cand>& out) {
                     findTableColumns(s, out);
                 }}};
    }
};

}  // namespace

const DocumentFormat& markdownFormat() {
    static const MarkdownFormat f;
    return f;
}

}  // namespace qcw::formats
