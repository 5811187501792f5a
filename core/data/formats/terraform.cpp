// Terraform / HCL (.tf, .tfvars, .hcl): one section per block, pairs for resources, data
// sources, modules and variables, and the secret detector for `variable "x_password" {
// default = ... }`. The block parser itself is parseHcl (data/parsers.h).
#include "data/formats/format.h"
#include "data/formats/scan.h"
#include "data/formats/util.h"
#include "data/parsers.h"

#include <algorithm>

namespace qcw::formats {

namespace {

using namespace scan;
using Cand = SecretCandidate;

void describeHcl(const HclBlock& b, const std::string& indent, std::vector<std::string>& lines, int depth = 0) {
    if (depth > 32) return;
    for (const auto& a : b.attributes) {
        std::string v = a.value;
        std::replace(v.begin(), v.end(), '\n', ' ');
        lines.push_back(indent + a.name + " = " + clip(v, 300));
    }
    for (const auto& c : b.blocks) {
        std::string head = c.type;
        for (const auto& l : c.labels) head += " \"" + l + "\"";
        lines.push_back(indent + "block " + head + ":");
        describeHcl(c, indent + "  ", lines, depth + 1);
    }
}

void parseTerraform(DocumentReport& r, const DataOptions& o) {
    HclFile f = parseHcl(r.text, std::min(o.maxNestingDepth, 64));
    std::size_t maxChars = std::size_t(o.maxTokens) * 4;
    for (const auto& b : f.blocks) {
        DocSection s;
        s.kind = "terraform_block";
        s.title = b.type;
        for (const auto& l : b.labels) s.title += " " + l;
        s.begin = b.begin;
        s.end = std::min(b.end, r.text.size());
        s.text = r.text.substr(s.begin, s.end - s.begin);
        s.verbatim = true;
        r.sections.push_back(std::move(s));
        if (!o.instructionPairs) continue;
        std::vector<std::string> lines;
        describeHcl(b, "", lines);
        if (lines.empty()) continue;
        InstructionPair p;
        if ((b.type == "resource" || b.type == "data") && b.labels.size() >= 2) {
            std::string id = b.labels[0] + "." + b.labels[1];
            bool data = b.type == "data";
            p.prompt = data ? "What does the Terraform data source " + id + " read?"
                            : "What does the Terraform resource " + id + " configure?";
            p.completion = "The Terraform " + std::string(data ? "data source " : "resource ") + id +
                           (data ? " reads" : " configures") + ":\n" + joinLines(lines, "- ");
        } else if (b.type == "module" && !b.labels.empty()) {
            p.prompt = "What does the Terraform module " + b.labels[0] + " deploy?";
            p.completion = "The module " + b.labels[0] + " is called with:\n" + joinLines(lines, "- ");
        } else if (b.type == "variable" && !b.labels.empty()) {
            p.prompt = "What is the Terraform variable " + b.labels[0] + "?";
            p.completion = "The variable " + b.labels[0] + " is declared with:\n" + joinLines(lines, "- ");
        } else {
            continue;
        }
        p.completion = clip(trimmed(p.completion), maxChars);
        p.origin = "terraform";
        p.begin = b.begin;
        p.end = b.end;
        r.pairs.push_back(std::move(p));
    }
    if (!f.attributes.empty() && f.blocks.empty()) {
        r.sections.clear();
        addWholeSection(r, "terraform_variables");
    }
    if (r.sections.empty()) addWholeSection(r, "text");
    for (const auto& p : f.problems) r.warnings.push_back(p);
}

// ----------------------------------------------------------------------------- secrets --

void findTerraformDefaults(const std::string& s, const std::string& low, std::vector<Cand>& out) {
    std::size_t pos = 0;
    while ((pos = low.find("variable", pos)) != std::string::npos) {
        std::size_t at = pos;
        pos += 8;
        if (at > 0 && isIdent(s[at - 1])) continue;
        std::size_t p = at + 8;
        while (p < s.size() && isBlank(s[p])) ++p;
        std::size_t nb = p;
        if (p < s.size() && s[p] == '"') ++nb, ++p;
        while (p < s.size() && isIdent(s[p])) ++p;
        std::string name = low.substr(nb, p - nb);
        if (name.empty() || !secretName(name)) continue;
        std::size_t ob = s.find('{', p);
        if (ob == std::string::npos || ob - p > 8) continue;
        // Block end with string awareness.
        int depth = 0;
        std::size_t i = ob, be = s.size();
        bool inStr = false;
        for (; i < s.size(); ++i) {
            char c = s[i];
            if (inStr) {
                if (c == '\\') ++i;
                else if (c == '"') inStr = false;
                continue;
            }
            if (c == '"') inStr = true;
            else if (c == '{') ++depth;
            else if (c == '}' && --depth == 0) {
                be = i;
                break;
            }
        }
        std::size_t d = ob;
        while ((d = low.find("default", d)) != std::string::npos && d < be) {
            std::size_t q = d + 7;
            if (d > 0 && isIdent(s[d - 1])) {
                d = q;
                continue;
            }
            while (q < be && isBlank(s[q])) ++q;
            if (q >= be || s[q] != '=') {
                d = q;
                continue;
            }
            ++q;
            while (q < be && isBlank(s[q])) ++q;
            std::size_t vb = q, ve = q;
            if (startsWith(s, q, "<<")) {
                std::size_t t = q + 2;
                if (t < be && s[t] == '-') ++t;
                std::size_t tb = t;
                while (t < be && isIdent(s[t])) ++t;
                std::string term = s.substr(tb, t - tb);
                vb = std::min(lineEnd(s, t) + 1, s.size());
                std::size_t l = vb;
                ve = be;
                while (l < be) {
                    std::size_t le = lineEnd(s, l);
                    std::size_t f = l;
                    while (f < le && isBlank(s[f])) ++f;
                    if (!term.empty() && s.compare(f, term.size(), term) == 0 && trimRight(s, f, le) == f + term.size()) {
                        ve = l > vb ? l - 1 : l;  // keep the newline before the terminator
                        break;
                    }
                    l = le + 1;
                }
            } else if (q < be && s[q] == '"') {
                std::size_t k = q + 1;
                while (k < be && s[k] != '"') k += (s[k] == '\\' ? 2 : 1);
                vb = q + 1;
                ve = std::min(k, be);
            } else {
                ve = trimRight(s, q, lineEnd(s, q));
                std::string v = low.substr(vb, ve - vb);
                if (v == "null" || v == "true" || v == "false" || v.empty() || v[0] == '{' || v[0] == '[') ve = vb;
            }
            if (ve > vb && !isPlaceholder(s, vb)) out.push_back({vb, ve, "terraform_secret_default"});
            break;
        }
        pos = std::max(pos, ob + 1);
    }
}

class TerraformFormat final : public DocumentFormat {
public:
    const char* id() const override { return "terraform"; }
    const char* displayName() const override { return "Terraform / HCL"; }
    Claim detect(const DetectInput& in) const override {
        return in.ext == "tf" || in.ext == "hcl" || in.ext == "tfvars" ? Claim::Extension : Claim::None;
    }
    bool sniff(const DetectInput& in) const override {
        const std::string h = in.bytes->substr(0, 65536);
        const std::size_t i = in.start;
        return h.find("\nresource \"") != std::string::npos || h.compare(i, 10, "resource \"") == 0 ||
               h.find("\nvariable \"") != std::string::npos || h.compare(i, 10, "variable \"") == 0;
    }
    void structure(DocumentReport& r, const DataOptions& options) const override { parseTerraform(r, options); }
    std::vector<SecretDetector> secretDetectors() const override {
        return {{"terraform_variable_default", 60,
                 [](const std::string& s, const std::string& low, double, std::vector<Cand>& out) {
                     findTerraformDefaults(s, low, out);
                 }}};
    }
};

}  // namespace

const DocumentFormat& terraformFormat() {
    static const TerraformFormat f;
    return f;
}

}  // namespace qcw::formats
