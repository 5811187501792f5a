// Azure Resource Manager templates and parameter files: JSON whose `$schema` names a
// deployment template or whose `resources` are typed objects. Not detected from the file:
// the JSON format refines a parsed document into ARM (refines() == "json"). Sections and
// pairs for the parameters and every resource (nested ones too), and the secret detector
// for secret-named parameters with a defaultValue/value.
#include "data/formats/format.h"
#include "data/formats/scan.h"
#include "data/formats/util.h"

#include <algorithm>
#include <cstring>

namespace qcw::formats {

using nlohmann::json;

namespace {

using namespace scan;
using Cand = SecretCandidate;

std::string armString(const json& r, const char* key) {
    auto it = r.find(key);
    if (it == r.end()) return {};
    return it->is_string() ? it->get<std::string>() : it->dump();
}

// Where a resource sits in the text: the next `"type": "<type>"` after `from`.
std::size_t findResource(const std::string& text, const std::string& type, std::size_t from) {
    std::string needle = "\"" + type + "\"";
    std::size_t p = text.find(needle, from);
    return p == std::string::npos ? from : p;
}

// ----------------------------------------------------------------------------- secrets --

// Scans back from `pos` to the `{` that opens the enclosing JSON object, skipping balanced
// braces; returns npos when not found within `limit` bytes.
std::size_t enclosingBrace(const std::string& s, std::size_t pos, std::size_t limit) {
    int depth = 0;
    std::size_t stop = pos > limit ? pos - limit : 0;
    bool inStr = false;
    for (std::size_t i = pos; i-- > stop;) {
        char c = s[i];
        if (c == '"' && (i == 0 || s[i - 1] != '\\')) inStr = !inStr;
        if (inStr) continue;
        if (c == '}') ++depth;
        else if (c == '{') {
            if (depth == 0) return i;
            --depth;
        }
    }
    return std::string::npos;
}

// ARM: "adminPassword": { "type": "securestring", "defaultValue": "X" } and parameter files
// "adminPassword": { "value": "X" }.
void findArmDefaults(const std::string& s, const std::string& low, std::vector<Cand>& out) {
    for (const char* key : {"\"defaultvalue\"", "\"value\""}) {
        std::size_t pos = 0, klen = std::strlen(key);
        while ((pos = low.find(key, pos)) != std::string::npos) {
            std::size_t at = pos;
            pos += klen;
            std::size_t p = at + klen;
            while (p < s.size() && isSpace(s[p])) ++p;
            if (p >= s.size() || s[p] != ':') continue;
            ++p;
            while (p < s.size() && isSpace(s[p])) ++p;
            std::size_t ob = enclosingBrace(s, at, 4096);
            if (ob == std::string::npos) continue;
            std::size_t q = ob;
            while (q > 0 && isSpace(s[q - 1])) --q;
            if (q == 0 || s[q - 1] != ':') continue;
            --q;
            while (q > 0 && isSpace(s[q - 1])) --q;
            if (q == 0 || s[q - 1] != '"') continue;
            std::size_t ne = q - 1;
            std::size_t nb = s.rfind('"', ne == 0 ? 0 : ne - 1);
            if (nb == std::string::npos || ne - nb > 128) continue;
            if (!secretName(low.substr(nb + 1, ne - nb - 1))) continue;
            std::size_t vb, ve;
            if (p < s.size() && s[p] == '"') {
                std::size_t i = p + 1;
                while (i < s.size() && s[i] != '"') i += (s[i] == '\\' ? 2 : 1);
                vb = p + 1;
                ve = std::min(i, s.size());
            } else {
                vb = p;
                ve = p;
                while (ve < s.size() && s[ve] != ',' && s[ve] != '}' && s[ve] != '\n') ++ve;
                ve = trimRight(s, vb, ve);
                if (ve > vb && (s[vb] == '{' || s[vb] == '[')) continue;  // objects are not a value
                std::string v = low.substr(vb, ve - vb);
                if (v == "null" || v == "true" || v == "false") continue;
            }
            if (ve > vb && !isPlaceholder(s, vb)) out.push_back({vb, ve, "arm_secret_parameter"});
        }
    }
}

}  // namespace

bool looksLikeArm(const json& j) {
    if (!j.is_object()) return false;
    auto s = j.find("$schema");
    if (s != j.end() && s->is_string() && s->get<std::string>().find("deployment") != std::string::npos) return true;
    auto r = j.find("resources");
    return r != j.end() && r->is_array() && !r->empty() && (*r)[0].is_object() && (*r)[0].contains("type");
}

void parseArm(DocumentReport& r, const json& j, const DataOptions& o) {
    std::size_t maxChars = std::size_t(o.maxTokens) * 4;
    std::string file = baseName(r.path);
    auto params = j.find("parameters");
    if (params != j.end() && params->is_object() && !params->empty()) {
        std::vector<std::string> lines;
        for (auto it = params->begin(); it != params->end(); ++it) {
            const json& pv = it.value();
            std::string line = it.key();
            if (pv.is_object()) {
                if (pv.contains("type")) line += " (" + scalarText(pv["type"]) + ")";
                if (pv.contains("defaultValue")) line += ", default " + clip(scalarText(pv["defaultValue"]), 200);
                if (pv.contains("value")) line += " = " + clip(scalarText(pv["value"]), 200);
                if (pv.contains("allowedValues")) line += ", allowed " + clip(pv["allowedValues"].dump(), 200);
                if (pv.contains("metadata") && pv["metadata"].is_object() && pv["metadata"].contains("description"))
                    line += ": " + scalarText(pv["metadata"]["description"]);
            }
            lines.push_back(line);
        }
        DocSection s;
        s.kind = "arm_parameters";
        s.title = file + " parameters";
        s.text = "ARM template " + file + " parameters:\n" + joinLines(lines, "- ");
        s.begin = 0;
        s.end = r.text.size();
        r.sections.push_back(s);
        if (o.instructionPairs) {
            InstructionPair p;
            p.prompt = "Which parameters does the ARM template " + file + " take?";
            p.completion = clip(trimmed(s.text), maxChars);
            p.origin = "arm";
            p.begin = 0;
            p.end = r.text.size();
            r.pairs.push_back(std::move(p));
        }
    }
    // Resources, nested ones included, without recursion.
    std::vector<const json*> stack;
    auto res = j.find("resources");
    if (res != j.end() && res->is_array())
        for (auto it = res->rbegin(); it != res->rend(); ++it) stack.push_back(&*it);
    std::size_t cursor = 0;
    int count = 0;
    while (!stack.empty() && count < 10000) {
        const json* rr = stack.back();
        stack.pop_back();
        if (!rr->is_object()) continue;
        ++count;
        std::string type = armString(*rr, "type"), name = armString(*rr, "name");
        std::vector<std::string> lines;
        for (const char* k : {"apiVersion", "location", "kind", "condition"})
            if (rr->contains(k)) lines.push_back(std::string(k) + ": " + clip(scalarText((*rr)[k]), 300));
        for (const char* k : {"sku", "identity", "zones", "dependsOn", "tags", "plan", "properties"})
            if (rr->contains(k)) flattenJson((*rr)[k], k, lines, 400);
        std::size_t at = findResource(r.text, type, cursor);
        cursor = at;
        DocSection s;
        s.kind = "arm_resource";
        s.title = type + " " + name;
        s.text = "ARM resource " + type + " '" + name + "':\n" + joinLines(lines, "  ");
        s.begin = at;
        s.end = std::min(r.text.size(), at + type.size() + 2);
        r.sections.push_back(s);
        if (o.instructionPairs && !type.empty()) {
            InstructionPair p;
            p.prompt = "What does the ARM template resource " + type + " '" + name + "' configure?";
            p.completion = clip("The ARM resource '" + name + "' of type " + type + " configures:\n" + joinLines(lines, "- "),
                                maxChars);
            p.origin = "arm";
            p.begin = s.begin;
            p.end = s.end;
            r.pairs.push_back(std::move(p));
        }
        auto nested = rr->find("resources");
        if (nested != rr->end() && nested->is_array())
            for (auto it = nested->rbegin(); it != nested->rend(); ++it) stack.push_back(&*it);
    }
    if (r.sections.empty()) addWholeSection(r, "text");
}

namespace {

class ArmFormat final : public DocumentFormat {
public:
    const char* id() const override { return "arm"; }
    const char* displayName() const override { return "Azure Resource Manager template"; }
    const char* refines() const override { return "json"; }
    Claim detect(const DetectInput&) const override { return Claim::None; }
    void structure(DocumentReport& r, const DataOptions& options) const override {
        json j = json::parse(r.text, nullptr, false);
        if (!j.is_discarded() && looksLikeArm(j)) parseArm(r, j, options);
        else addWholeSection(r, "text");
    }
    std::vector<SecretDetector> secretDetectors() const override {
        return {{"arm_parameter_default", 50,
                 [](const std::string& s, const std::string& low, double, std::vector<Cand>& out) {
                     findArmDefaults(s, low, out);
                 }}};
    }
};

}  // namespace

const DocumentFormat& armFormat() {
    static const ArmFormat f;
    return f;
}

}  // namespace qcw::formats
