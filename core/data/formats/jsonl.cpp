// JSON Lines: user pairs {"prompt","completion"} and chats {"messages":[...]} kept as
// written (scrubbed); other objects flattened; lines that are no JSON object kept as text.
#include "data/formats/format.h"
#include "data/formats/util.h"
#include "data/parsers.h"

namespace qcw::formats {

using nlohmann::json;

namespace {

void parseJsonl(DocumentReport& r, const DataOptions& o) {
    std::size_t p = 0;
    int lineNo = 0, bad = 0;
    std::string plain;
    while (p < r.text.size()) {
        std::size_t e = r.text.find('\n', p);
        if (e == std::string::npos) e = r.text.size();
        std::string line = trimmed(r.text.substr(p, e - p));
        ++lineNo;
        std::size_t b = p;
        p = e + 1;
        if (line.empty()) continue;
        if (jsonNestingDepth(line, o.maxNestingDepth) > o.maxNestingDepth) {
            r.warnings.push_back("line " + std::to_string(lineNo) + ": JSON nested deeper than " +
                                 std::to_string(o.maxNestingDepth) + " levels, line dropped");
            continue;
        }
        json j = json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
            ++bad;
            DocSection s;
            s.kind = "text";
            s.title = baseName(r.path) + " line " + std::to_string(lineNo);
            s.text = line;
            s.begin = b;
            s.end = e;
            r.sections.push_back(std::move(s));
            continue;
        }
        InstructionPair pair;
        pair.origin = "user";
        pair.begin = b;
        pair.end = e;
        if (j.contains("prompt") && j.contains("completion") && j["prompt"].is_string() && j["completion"].is_string()) {
            pair.prompt = j["prompt"].get<std::string>();
            pair.completion = j["completion"].get<std::string>();
            r.pairs.push_back(std::move(pair));
        } else if (j.contains("messages") && j["messages"].is_array()) {
            json m = json::object();
            m["messages"] = j["messages"];
            pair.messagesJson = m.dump();
            r.pairs.push_back(std::move(pair));
        } else {
            std::vector<std::string> lines;
            flattenJson(j, "", lines, 10000);
            DocSection s;
            s.kind = "json";
            s.title = baseName(r.path) + " line " + std::to_string(lineNo);
            s.text = joinLines(lines);
            s.begin = b;
            s.end = e;
            r.sections.push_back(std::move(s));
        }
    }
    if (bad) r.warnings.push_back(std::to_string(bad) + " line(s) are not JSON objects, read as text");
}

class JsonlFormat final : public DocumentFormat {
public:
    const char* id() const override { return "jsonl"; }
    const char* displayName() const override { return "JSON Lines (pairs, chats)"; }
    Claim detect(const DetectInput& in) const override {
        return in.ext == "jsonl" || in.ext == "ndjson" ? Claim::Extension : Claim::None;
    }
    void structure(DocumentReport& r, const DataOptions& options) const override { parseJsonl(r, options); }
};

}  // namespace

const DocumentFormat& jsonlFormat() {
    static const JsonlFormat f;
    return f;
}

}  // namespace qcw::formats
