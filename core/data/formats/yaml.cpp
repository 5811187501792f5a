// YAML: flattened to `path: value` lines (flattenYaml, data/parsers.h); kept verbatim when
// nothing could be flattened.
#include "data/formats/format.h"
#include "data/formats/util.h"
#include "data/parsers.h"

namespace qcw::formats {

namespace {

void parseYaml(DocumentReport& r) {
    std::vector<std::string> problems;
    auto kv = flattenYaml(r.text, &problems);
    std::string text;
    for (const auto& [k, v] : kv) text += (k.empty() ? std::string("-") : k) + ": " + v + "\n";
    DocSection s;
    s.kind = "yaml";
    s.title = baseName(r.path);
    s.begin = 0;
    s.end = r.text.size();
    if (kv.empty()) {
        s.text = r.text;
        s.verbatim = true;
    } else {
        s.text = text;
    }
    r.sections.push_back(std::move(s));
    for (const auto& p : problems) r.warnings.push_back(p);
}

class YamlFormat final : public DocumentFormat {
public:
    const char* id() const override { return "yaml"; }
    const char* displayName() const override { return "YAML"; }
    Claim detect(const DetectInput& in) const override {
        return in.ext == "yaml" || in.ext == "yml" ? Claim::Extension : Claim::None;
    }
    void structure(DocumentReport& r, const DataOptions&) const override { parseYaml(r); }
};

}  // namespace

const DocumentFormat& yamlFormat() {
    static const YamlFormat f;
    return f;
}

}  // namespace qcw::formats
