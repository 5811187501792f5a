// JSON: nesting refused past the limit before any parser sees it; ARM templates are handed
// to the ARM format (arm.cpp); other JSON is flattened to `path: value` lines.
#include "data/formats/format.h"
#include "data/formats/util.h"
#include "data/parsers.h"

namespace qcw::formats {

using nlohmann::json;

namespace {

void parseJson(DocumentReport& r, const DataOptions& o) {
    json j = json::parse(r.text, nullptr, false);
    if (j.is_discarded()) {
        r.warnings.push_back("not valid JSON, read as plain text");
        r.type = "text";
        addWholeSection(r, "text");
        return;
    }
    if (looksLikeArm(j)) {
        r.type = "arm";
        parseArm(r, j, o);
        return;
    }
    std::vector<std::string> lines;
    flattenJson(j, "", lines, 200000);
    DocSection s;
    s.kind = "json";
    s.title = baseName(r.path);
    s.text = joinLines(lines);
    s.begin = 0;
    s.end = r.text.size();
    r.sections.push_back(std::move(s));
}

class JsonFormat final : public DocumentFormat {
public:
    const char* id() const override { return "json"; }
    const char* displayName() const override { return "JSON"; }
    Claim detect(const DetectInput& in) const override { return in.ext == "json" ? Claim::Extension : Claim::None; }
    bool sniff(const DetectInput& in) const override {
        return in.head.compare(0, 1, "{") == 0 || in.head.compare(0, 1, "[") == 0;
    }
    bool extract(const std::string&, std::string& text, const DataOptions& options,
                 std::string& reason) const override {
        // Refuse pathological nesting before any parser sees it.
        int depth = jsonNestingDepth(text, options.maxNestingDepth);
        if (depth > options.maxNestingDepth) {
            reason = "JSON nested deeper than " + std::to_string(options.maxNestingDepth) + " levels, not parsed";
            return false;
        }
        return true;
    }
    void structure(DocumentReport& r, const DataOptions& options) const override { parseJson(r, options); }
};

}  // namespace

const DocumentFormat& jsonFormat() {
    static const JsonFormat f;
    return f;
}

}  // namespace qcw::formats
