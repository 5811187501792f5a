#pragma once
// Small, bounded parsers for the formats the data processor reads. All iterative or
// depth-limited: no input can overflow the stack. They run on scrubbed text.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace qcw {

// --- FortiGate CLI configuration ----------------------------------------------------------
struct FortiNode {
    enum class Kind { Root, Config, Edit };
    Kind kind = Kind::Root;
    std::string name;                        // "firewall policy" for config, "7" for edit
    std::vector<std::pair<std::string, std::vector<std::string>>> sets;  // set key value...
    std::vector<std::string> unsets;
    std::vector<FortiNode> children;
    std::size_t begin = 0, end = 0;          // byte range of the whole block in the text
    int line = 0;                            // 1-based line of `config`/`edit`
    bool terminated = true;                  // false when the file ended inside the block

    // Values of a `set` joined with spaces ("" when absent).
    std::string value(const std::string& key) const;
};

struct FortiConfig {
    FortiNode root;
    std::vector<std::string> problems;       // unterminated blocks, stray `end`/`next` ...
    bool complete() const { return problems.empty(); }
};

FortiConfig parseFortiGateConfig(const std::string& text, int maxDepth = 64);
// True when the text looks like FortiOS CLI (config-version header or config/edit/set lines).
bool looksLikeFortiGate(const std::string& text);

// --- Terraform / HCL ----------------------------------------------------------------------
struct HclAttribute {
    std::string name, value;                 // value: the expression's source text
    std::size_t begin = 0, end = 0;
    int line = 0;
};

struct HclBlock {
    std::string type;                        // resource, variable, provider, probe ...
    std::vector<std::string> labels;         // resource "azurerm_lb_probe" "fgt_probe"
    std::vector<HclAttribute> attributes;
    std::vector<HclBlock> blocks;
    std::size_t begin = 0, end = 0;
    int line = 0;
};

struct HclFile {
    std::vector<HclAttribute> attributes;    // top-level (tfvars)
    std::vector<HclBlock> blocks;
    std::vector<std::string> problems;
};

HclFile parseHcl(const std::string& text, int maxDepth = 64);

// --- YAML (subset: mappings, sequences, scalars, block scalars, comments, documents) -------
// Flattened "path" -> "value" pairs, e.g. {"network.subnets[0].name", "external"}.
std::vector<std::pair<std::string, std::string>> flattenYaml(const std::string& text,
                                                             std::vector<std::string>* problems = nullptr);

// --- CSV (RFC 4180) -----------------------------------------------------------------------
std::vector<std::vector<std::string>> parseCsv(const std::string& text, char delimiter = ',');

// --- HTML -----------------------------------------------------------------------------------
// Drops tags, scripts, styles and comments, decodes entities, keeps headings as "#" lines
// and paragraph breaks as blank lines.
std::string htmlToText(const std::string& html);
std::string decodeHtmlEntities(const std::string& text);

// --- Markdown -------------------------------------------------------------------------------
struct MarkdownSection {
    int level = 0;
    std::string heading;
    std::size_t headingBegin = 0, bodyBegin = 0, bodyEnd = 0;
};
std::vector<MarkdownSection> markdownSections(const std::string& text);

// --- JSON -----------------------------------------------------------------------------------
// Deepest [ / { nesting, scanning iteratively; stops counting past `limit`.
int jsonNestingDepth(const std::string& text, int limit);

// --- text -----------------------------------------------------------------------------------
// Replaces invalid UTF-8 sequences with U+FFFD; returns how many bytes were replaced.
std::size_t repairUtf8(std::string& text);

}  // namespace qcw
