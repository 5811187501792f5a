// HTML: tags, scripts, styles and comments dropped, entities decoded, headings kept as `#`
// lines (htmlToText, data/parsers.h), so the text then reads like Markdown: one section and
// one pair per heading.
#include "data/formats/format.h"
#include "data/formats/util.h"
#include "data/parsers.h"

namespace qcw::formats {

namespace {

class HtmlFormat final : public DocumentFormat {
public:
    const char* id() const override { return "html"; }
    const char* displayName() const override { return "HTML"; }
    Claim detect(const DetectInput& in) const override {
        return in.ext == "html" || in.ext == "htm" || in.ext == "xhtml" ? Claim::Extension : Claim::None;
    }
    bool sniff(const DetectInput& in) const override {
        return in.head.compare(0, 9, "<!doctype") == 0 || in.head.compare(0, 5, "<html") == 0;
    }
    bool extract(const std::string&, std::string& text, const DataOptions&, std::string&) const override {
        text = htmlToText(text);
        return true;
    }
    void structure(DocumentReport& r, const DataOptions& options) const override {
        addWholeSection(r, r.type);
        if (options.instructionPairs) markdownPairs(r, std::size_t(options.maxTokens) * 4);
    }
};

}  // namespace

const DocumentFormat& htmlFormat() {
    static const HtmlFormat f;
    return f;
}

}  // namespace qcw::formats
