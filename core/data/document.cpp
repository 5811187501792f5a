// Reading one document: type detection, extraction to raw text, scrubbing, then structure
// (sections and instruction pairs) from the scrubbed text only.
#include "common/error.h"
#include "data/data.h"
#include "data/internal.h"
#include "data/parsers.h"

#include <nlohmann/json.hpp>
#ifdef QCW_HAVE_POPPLER
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>
#endif

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>

namespace qcw {

using nlohmann::json;

ScrubOptions DataOptions::scrubOptions() const {
    return ScrubOptions().setAnonymizeIps(anonymizeIps).setAnonymizeEmails(anonymizeEmails).setEntropyThreshold(
        entropyThreshold);
}

namespace detail {

PositionMapper::PositionMapper(const DocumentReport& doc) : spans_(&doc.redactions), pdf_(doc.type == "pdf") {
    for (std::size_t i = 0; i < doc.text.size(); ++i) {
        if (doc.text[i] == '\n') newlines_.push_back(i);
        else if (doc.text[i] == '\f') formfeeds_.push_back(i);
    }
    delta_.push_back(0);
    removedLines_.push_back(0);
    for (const auto& s : doc.redactions) {
        delta_.push_back(delta_.back() + (long long)s.originalLength - (long long)s.length);
        removedLines_.push_back(removedLines_.back() + s.newlinesRemoved);
    }
}

std::size_t PositionMapper::toOriginal(std::size_t off, bool endOffset) const {
    const auto& sp = *spans_;
    // First span whose placeholder ends after `off`.
    auto it = std::upper_bound(sp.begin(), sp.end(), off,
                               [](std::size_t o, const RedactionSpan& s) { return o < s.offset + s.length; });
    std::size_t i = std::size_t(it - sp.begin());
    if (it != sp.end() && off > it->offset) {
        return endOffset ? it->originalOffset + it->originalLength : it->originalOffset;
    }
    return std::size_t((long long)off + delta_[i]);
}

int PositionMapper::lineOf(std::size_t off) const {
    int nl = int(std::lower_bound(newlines_.begin(), newlines_.end(), off) - newlines_.begin());
    const auto& sp = *spans_;
    auto it = std::upper_bound(sp.begin(), sp.end(), off,
                               [](std::size_t o, const RedactionSpan& s) { return o < s.offset + s.length; });
    return 1 + nl + removedLines_[std::size_t(it - sp.begin())];
}

SourcePosition PositionMapper::map(std::size_t begin, std::size_t end) const {
    SourcePosition p;
    p.byteStart = toOriginal(begin, false);
    p.byteEnd = toOriginal(end, true);
    p.lineStart = lineOf(begin);
    p.lineEnd = lineOf(end > begin ? end - 1 : begin);
    if (pdf_) p.page = 1 + int(std::lower_bound(formfeeds_.begin(), formfeeds_.end(), begin) - formfeeds_.begin());
    return p;
}

}  // namespace detail

SourcePosition DocumentReport::position(std::size_t begin, std::size_t end) const {
    return detail::PositionMapper(*this).map(begin, end);
}

namespace {

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

// Cuts at a paragraph/line/word boundary so the result has at most `maxChars` bytes.
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

// --------------------------------------------------------------------------- detection --

const std::set<std::string>& binaryExtensions() {
    static const std::set<std::string> s = {
        "png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "ico", "webp", "svgz", "zip", "gz", "tgz", "bz2", "xz",
        "7z", "rar", "tar", "zst", "exe", "dll", "so", "dylib", "bin", "o", "a", "class", "jar", "pyc", "whl",
        "msi", "iso", "img", "vhd", "vhdx", "qcow2", "docx", "xlsx", "pptx", "doc", "xls", "ppt", "odt", "ods",
        "mp3", "mp4", "avi", "mov", "mkv", "wav", "flac", "woff", "woff2", "ttf", "otf", "sqlite", "db", "pfx",
        "p12", "der", "jks", "keystore", "safetensors", "pt", "pth", "onnx", "gguf", "npy", "npz", "parquet"};
    return s;
}

std::string typeFromExtension(const std::string& ext) {
    static const std::pair<const char*, const char*> table[] = {
        {"txt", "text"},      {"text", "text"},     {"log", "text"},        {"rst", "text"},   {"adoc", "text"},
        {"md", "markdown"},   {"markdown", "markdown"}, {"html", "html"},   {"htm", "html"},   {"xhtml", "html"},
        {"pdf", "pdf"},       {"json", "json"},     {"jsonl", "jsonl"},     {"ndjson", "jsonl"}, {"tf", "terraform"},
        {"hcl", "terraform"}, {"tfvars", "terraform"}, {"yaml", "yaml"},    {"yml", "yaml"},   {"conf", "fortigate"},
        {"cfg", "fortigate"}, {"fgt", "fortigate"}, {"cli", "fortigate"},   {"csv", "csv"},    {"tsv", "tsv"}};
    for (const auto& [e, t] : table)
        if (ext == e) return t;
    return {};
}

std::string sniff(const std::string& bytes) {
    std::size_t i = 0;
    if (bytes.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;
    while (i < bytes.size() && std::isspace(static_cast<unsigned char>(bytes[i]))) ++i;
    std::string head = lower(bytes.substr(i, 512));
    if (head.compare(0, 9, "<!doctype") == 0 || head.compare(0, 5, "<html") == 0) return "html";
    if (head.compare(0, 1, "{") == 0 || head.compare(0, 1, "[") == 0) return "json";
    if (looksLikeFortiGate(bytes)) return "fortigate";
    std::string h = bytes.substr(0, 65536);
    if (h.find("\nresource \"") != std::string::npos || h.compare(i, 10, "resource \"") == 0 ||
        h.find("\nvariable \"") != std::string::npos || h.compare(i, 10, "variable \"") == 0)
        return "terraform";
    if (head.compare(0, 2, "# ") == 0 || h.find("\n## ") != std::string::npos) return "markdown";
    return "text";
}

// ------------------------------------------------------------------------------ readers --

#ifndef QCW_HAVE_POPPLER
bool extractPdf(const std::string&, std::uint64_t, std::string&, std::string& reason, std::vector<std::string>&) {
    reason = "this build has no PDF reader (built without poppler-cpp)";
    return false;
}
#else
void silencePoppler(const std::string&, void*) {}

// PDF text, pages separated by form feeds. Returns false with a reason on failure.
bool extractPdf(const std::string& bytes, std::uint64_t maxTextBytes, std::string& text, std::string& reason,
                std::vector<std::string>& warnings) {
    static std::once_flag once;
    std::call_once(once, [] { poppler::set_debug_error_function(silencePoppler, nullptr); });
    if (bytes.size() > std::size_t(std::numeric_limits<int>::max())) {
        reason = "PDF too large for the PDF reader";
        return false;
    }
    std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(bytes.data(), int(bytes.size())));
    if (!doc) {
        reason = "corrupt or unreadable PDF (the PDF reader could not open it)";
        return false;
    }
    if (doc->is_locked()) {
        reason = "encrypted PDF (password protected), not read";
        return false;
    }
    int pages = doc->pages();
    // Decompression bombs: a few kilobytes of PDF can inflate into gigabytes of page text, or
    // declare millions of pages. Text beyond 64 times the file (at least 16 MiB, at most
    // 256 MiB) or more than 20000 pages is refused with the reason.
    constexpr int kMaxPages = 20000;
    if (pages > kMaxPages) {
        reason = "PDF has " + std::to_string(pages) + " pages, more than the limit of " + std::to_string(kMaxPages);
        return false;
    }
    const std::size_t maxText =
        maxTextBytes ? std::size_t(maxTextBytes)
                     : std::min<std::size_t>(std::max<std::size_t>(bytes.size() * 64, 16u << 20), 256u << 20);
    int empty = 0;
    for (int i = 0; i < pages; ++i) {
        std::unique_ptr<poppler::page> pg(doc->create_page(i));
        std::string t;
        if (pg) {
            poppler::byte_array ba = pg->text().to_utf8();
            t.assign(ba.begin(), ba.end());
        }
        std::replace(t.begin(), t.end(), '\f', '\n');
        if (trimmed(t).empty()) ++empty;
        if (text.size() + t.size() > maxText) {
            reason = "PDF text grows past " + std::to_string(maxText) + " bytes by page " + std::to_string(i + 1) + " of " +
                     std::to_string(pages) + " (" + std::to_string(bytes.size()) +
                     "-byte file: a decompression bomb?); not read";
            text.clear();
            return false;
        }
        if (i > 0) text += '\f';
        text += t;
        if (!t.empty() && t.back() != '\n') text += '\n';
    }
    if (pages == 0 || empty == pages) {
        reason = pages == 0 ? "PDF has no pages" : "PDF has no extractable text (scanned images?)";
        return false;
    }
    if (empty) warnings.push_back(std::to_string(empty) + " PDF page(s) without text");
    return true;
}
#endif

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

// ------------------------------------------------------------------ JSON flattening ---

std::string scalarText(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "null";
    return v.dump();
}

void flattenJson(const json& v, const std::string& path, std::vector<std::string>& lines, std::size_t maxLines,
                 int depth = 0) {
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

std::string joinLines(const std::vector<std::string>& lines, const char* prefix = "") {
    std::string r;
    for (const auto& l : lines) r += prefix + l + "\n";
    return r;
}

// --------------------------------------------------------------------- FortiGate pairs --

void describeSets(const FortiNode& n, const std::string& prefix, std::vector<std::string>& lines, int depth = 0) {
    if (depth > 16) return;
    for (const auto& [k, v] : n.sets) {
        std::string val;
        for (const auto& x : v) val += (val.empty() ? "" : " ") + x;
        lines.push_back(prefix + k + ": " + val);
    }
    for (const auto& u : n.unsets) lines.push_back(prefix + u + ": (unset)");
    for (const auto& c : n.children) {
        if (c.kind == FortiNode::Kind::Config) {
            describeSets(c, prefix + c.name + " / ", lines, depth + 1);
        } else {
            describeSets(c, prefix + "entry " + c.name + " / ", lines, depth + 1);
        }
    }
}

std::string orDefault(const std::string& v, const std::string& d) { return v.empty() ? d : v; }

void fortiEntryPair(const std::string& path, const FortiNode* entry, const FortiNode& settings, const std::string& host,
                    std::vector<InstructionPair>& out, std::size_t maxChars) {
    std::string name = entry ? entry->name : std::string();
    const FortiNode& n = entry ? *entry : settings;
    std::string q, summary;
    auto v = [&](const char* k) { return n.value(k); };
    if (path == "firewall policy" || path == "firewall policy6" || path == "firewall security-policy") {
        q = "What does firewall policy " + name + " allow?";
        std::string action = orDefault(v("action"), "deny");
        std::string verb = action == "accept" ? "allows" : action == "deny" ? "denies" : "applies action " + action + " to";
        summary = "Firewall policy " + name + (v("name").empty() ? "" : " (\"" + v("name") + "\")") + " " + verb +
                  " traffic from interface " + orDefault(v("srcintf"), "(any)") + " to interface " +
                  orDefault(v("dstintf"), "(any)") + ", from source address " + orDefault(v("srcaddr"), "(none)") +
                  " to destination address " + orDefault(v("dstaddr"), "(none)") + ", for service " +
                  orDefault(v("service"), "(none)") + " on schedule " + orDefault(v("schedule"), "(none)") +
                  (v("nat") == "enable" ? ", with source NAT" : "") +
                  (v("status") == "disable" ? ". The policy is disabled" : "") + ".";
    } else if (path == "system interface") {
        q = "How is the FortiGate interface " + name + " configured?";
        summary = "Interface " + name + (v("alias").empty() ? "" : " (alias " + v("alias") + ")") +
                  (v("ip").empty() ? "" : " has the address " + v("ip")) +
                  (v("mode").empty() ? "" : ", addressing mode " + v("mode")) +
                  (v("allowaccess").empty() ? "" : ", and allows administrative access over " + v("allowaccess")) + ".";
    } else if (path == "firewall address" || path == "firewall address6") {
        q = "What is the firewall address object " + name + "?";
        std::string what = !v("subnet").empty() ? "the subnet " + v("subnet")
                           : !v("fqdn").empty() ? "the FQDN " + v("fqdn")
                           : !v("start-ip").empty() ? "the range " + v("start-ip") + " - " + v("end-ip")
                           : !v("ip6").empty() ? "the IPv6 prefix " + v("ip6")
                                               : "of type " + orDefault(v("type"), "ipmask");
        summary = "The address object " + name + " stands for " + what + ".";
    } else if (path == "firewall addrgrp") {
        q = "Which addresses are in the address group " + name + "?";
        summary = "The address group " + name + " contains " + orDefault(v("member"), "no members") + ".";
    } else if (path == "firewall vip") {
        q = "What does the virtual IP " + name + " map?";
        summary = "The VIP " + name + " maps the external address " + orDefault(v("extip"), "(unset)") +
                  (v("extintf").empty() ? "" : " on interface " + v("extintf")) + " to the internal address " +
                  orDefault(v("mappedip"), "(unset)") +
                  (v("portforward") == "enable"
                       ? ", forwarding port " + v("extport") + " to port " + orDefault(v("mappedport"), v("extport")) +
                             (v("protocol").empty() ? "" : " (" + v("protocol") + ")")
                       : "") +
                  ".";
    } else if (path == "router static") {
        q = "What does static route " + name + " do?";
        summary = "Static route " + name + " sends traffic for " + orDefault(v("dst"), "0.0.0.0 0.0.0.0 (the default route)") +
                  " via gateway " + orDefault(v("gateway"), "(none)") + " out of interface " +
                  orDefault(v("device"), "(unset)") +
                  (v("distance").empty() ? "" : ", administrative distance " + v("distance")) + ".";
    } else if (path == "system ha") {
        q = "What are the FortiGate HA (high availability) settings?";
        summary = "HA mode " + orDefault(v("mode"), "standalone") +
                  (v("group-name").empty() ? "" : ", cluster group " + v("group-name")) +
                  (v("hbdev").empty() ? "" : ", heartbeat over " + v("hbdev")) +
                  (v("priority").empty() ? "" : ", priority " + v("priority")) + ".";
    } else if (path == "system sdn-connector") {
        q = "How is the SDN connector " + name + " configured?";
        summary = "The SDN connector " + name + " is of type " + orDefault(v("type"), "(unset)") + ".";
    } else if (path == "vpn ipsec phase1-interface") {
        q = "How is the IPsec VPN phase 1 interface " + name + " configured?";
        summary = "Phase 1 interface " + name + " binds to " + orDefault(v("interface"), "(unset)") + " with remote gateway " +
                  orDefault(v("remote-gw"), "(dynamic)") + ", IKE version " + orDefault(v("ike-version"), "1") + ".";
    } else if (path == "vpn ipsec phase2-interface") {
        q = "How is the IPsec VPN phase 2 selector " + name + " configured?";
        summary = "Phase 2 selector " + name + " belongs to phase 1 " + orDefault(v("phase1name"), "(unset)") + ".";
    } else if (path == "system admin") {
        q = "How is the administrator account " + name + " configured?";
        summary = "Administrator " + name + " has the profile " + orDefault(v("accprofile"), "(unset)") + ".";
    } else if (path == "firewall service custom") {
        q = "What does the custom service " + name + " match?";
        summary = "The service " + name + " matches" +
                  (v("tcp-portrange").empty() ? "" : " TCP ports " + v("tcp-portrange")) +
                  (v("udp-portrange").empty() ? "" : " UDP ports " + v("udp-portrange")) + ".";
    } else if (entry) {
        q = "What does the FortiGate configuration `config " + path + "` entry " + name + " set?";
    } else {
        q = "What does the FortiGate configuration `config " + path + "` set?";
    }
    std::vector<std::string> lines;
    describeSets(n, "", lines);
    if (lines.empty() && summary.empty()) return;
    std::string a = summary;
    if (!lines.empty()) a += (a.empty() ? "" : "\n") + std::string("Settings (config ") + path +
                             (entry ? ", edit " + name : std::string()) + "):\n" + joinLines(lines, "- ");
    // Several devices have a "policy 1": name the device when the file says which it is.
    if (!host.empty() && !q.empty()) q = "On FortiGate " + host + ", " + std::string(1, char(std::tolower(q[0]))) + q.substr(1);
    InstructionPair p;
    p.prompt = q;
    p.completion = clip(trimmed(a), maxChars);
    p.origin = "fortigate";
    p.begin = n.begin;
    p.end = n.end;
    out.push_back(std::move(p));
}

std::string fortiHostname(const FortiNode& root) {
    std::vector<const FortiNode*> stack{&root};
    while (!stack.empty()) {
        const FortiNode* n = stack.back();
        stack.pop_back();
        if (n->kind == FortiNode::Kind::Config && n->name == "system global") {
            std::string h = n->value("hostname");
            if (!h.empty() && h.find("${") == std::string::npos) return h;
        }
        if (n->kind == FortiNode::Kind::Root || n->name == "global" || n->name == "vdom" ||
            (n->kind == FortiNode::Kind::Edit))
            for (const auto& c : n->children) stack.push_back(&c);
    }
    return {};
}

void fortiPairs(const FortiNode& root, std::vector<InstructionPair>& out, std::size_t maxChars) {
    const std::string host = fortiHostname(root);
    std::vector<const FortiNode*> stack;
    for (auto it = root.children.rbegin(); it != root.children.rend(); ++it) stack.push_back(&*it);
    while (!stack.empty()) {
        const FortiNode* c = stack.back();
        stack.pop_back();
        if (c->kind != FortiNode::Kind::Config) continue;
        bool container = c->name == "vdom" || c->name == "global";
        bool hasEdits = false;
        for (const auto& ch : c->children)
            if (ch.kind == FortiNode::Kind::Edit) hasEdits = true;
        if (!c->sets.empty() || (!hasEdits && !c->children.empty() && !container))
            fortiEntryPair(c->name, nullptr, *c, host, out, maxChars);
        for (auto it = c->children.rbegin(); it != c->children.rend(); ++it) {
            const FortiNode& ch = *it;
            if (ch.kind == FortiNode::Kind::Edit) {
                if (container) {
                    for (auto g = ch.children.rbegin(); g != ch.children.rend(); ++g) stack.push_back(&*g);
                } else {
                    fortiEntryPair(c->name, &ch, ch, host, out, maxChars);
                }
            } else if (container) {
                stack.push_back(&ch);
            }
        }
    }
    // Pairs were produced depth-first in reverse; restore file order.
    std::stable_sort(out.begin(), out.end(), [](const InstructionPair& a, const InstructionPair& b) { return a.begin < b.begin; });
}

// ------------------------------------------------------------------------ HCL pairs --

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

// ------------------------------------------------------------------------ ARM pairs --

std::string armString(const json& r, const char* key) {
    auto it = r.find(key);
    if (it == r.end()) return {};
    return it->is_string() ? it->get<std::string>() : it->dump();
}

bool looksLikeArm(const json& j) {
    if (!j.is_object()) return false;
    auto s = j.find("$schema");
    if (s != j.end() && s->is_string() && s->get<std::string>().find("deployment") != std::string::npos) return true;
    auto r = j.find("resources");
    return r != j.end() && r->is_array() && !r->empty() && (*r)[0].is_object() && (*r)[0].contains("type");
}

// ------------------------------------------------------------------- per-type parsing --

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

void parsePdf(DocumentReport& r) {
    std::size_t p = 0;
    int page = 1;
    while (p <= r.text.size()) {
        std::size_t e = r.text.find('\f', p);
        if (e == std::string::npos) e = r.text.size();
        if (!trimmed(r.text.substr(p, e - p)).empty()) {
            DocSection s;
            s.kind = "pdf_page";
            s.title = baseName(r.path) + " page " + std::to_string(page);
            s.text = r.text.substr(p, e - p);
            s.begin = p;
            s.end = e;
            s.verbatim = true;
            s.page = page;
            r.sections.push_back(std::move(s));
        }
        ++page;
        p = e + 1;
    }
}

void parseFortiGate(DocumentReport& r, const DataOptions& o) {
    FortiConfig cfg = parseFortiGateConfig(r.text, std::min(o.maxNestingDepth, 64));
    for (const auto& c : cfg.root.children) {
        DocSection s;
        s.kind = "fortigate_config";
        s.title = "config " + c.name;
        s.begin = c.begin;
        s.end = std::min(c.end, r.text.size());
        s.text = r.text.substr(s.begin, s.end - s.begin);
        s.verbatim = true;
        r.sections.push_back(std::move(s));
    }
    if (r.sections.empty()) addWholeSection(r, "text");
    if (o.instructionPairs) fortiPairs(cfg.root, r.pairs, std::size_t(o.maxTokens) * 4);
    for (const auto& p : cfg.problems) {
        r.warnings.push_back(p);
        if (p.compare(0, 12, "unterminated") == 0) {
            r.status = "partial";
            if (r.reason.empty()) r.reason = p;
        }
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

// Where a resource sits in the text: the next `"type": "<type>"` after `from`.
std::size_t findResource(const std::string& text, const std::string& type, std::size_t from) {
    std::string needle = "\"" + type + "\"";
    std::size_t p = text.find(needle, from);
    return p == std::string::npos ? from : p;
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

DocumentReport skippedReport(DocumentReport r, const std::string& reason) {
    r.status = "skipped";
    r.reason = oneLine(reason);
    r.text.clear();
    r.redactions.clear();
    r.sections.clear();
    r.pairs.clear();
    return r;
}

}  // namespace

DocumentReport readDocumentBytes(const std::string& name, const std::string& bytesIn, const DataOptions& options,
                                 Anonymizer* anonymizer) {
    DocumentReport r;
    r.path = name;
    r.bytes = bytesIn.size();
    r.status = "ok";
    if (bytesIn.empty()) return skippedReport(r, "empty file (0 bytes)");
    std::string ext = lower(std::filesystem::path(name).extension().string());
    if (!ext.empty()) ext = ext.substr(1);
    if (binaryExtensions().count(ext)) {
        r.type = "binary";
        return skippedReport(r, "unsupported binary format (." + ext + ")");
    }
    bool pdfMagic = bytesIn.compare(0, 5, "%PDF-") == 0;
    std::string type = pdfMagic ? "pdf" : typeFromExtension(ext);
    if (type != "pdf") {
        std::size_t head = std::min<std::size_t>(bytesIn.size(), 8192);
        if (std::memchr(bytesIn.data(), '\0', head) != nullptr) {
            r.type = "binary";
            return skippedReport(r, "binary content (NUL bytes)" + (ext.empty() ? std::string() : " in a ." + ext + " file"));
        }
    }
    bool guessed = false;
    if (type.empty()) {
        type = sniff(bytesIn);
        guessed = true;
    }
    if (type == "fortigate" && !looksLikeFortiGate(bytesIn) && bytesIn.find("config ") == std::string::npos)
        type = "text";
    r.type = type == "tsv" ? "csv" : type;
    if (guessed) r.warnings.push_back("type " + r.type + " guessed from content");

    // 1. Extract raw text.
    std::string raw;
    if (type == "pdf") {
        std::string reason;
        if (!extractPdf(bytesIn, options.maxPdfTextBytes, raw, reason, r.warnings)) return skippedReport(r, reason);
    } else {
        raw = bytesIn;
    }
    if (raw.compare(0, 3, "\xEF\xBB\xBF") == 0) raw.erase(0, 3);
    std::size_t bad = repairUtf8(raw);
    if (bad > 0) {
        if (bad * 10 > raw.size() + 10 && type != "pdf") {
            r.type = "binary";
            return skippedReport(r, "not text: " + std::to_string(bad) + " invalid UTF-8 bytes");
        }
        r.warnings.push_back(std::to_string(bad) + " invalid UTF-8 byte(s) replaced with U+FFFD");
    }
    if (type == "html") raw = htmlToText(raw);
    else if (type == "csv") raw = renderCsv(raw, ',');
    else if (type == "tsv") raw = renderCsv(raw, '\t');
    if (type == "json") {
        // Refuse pathological nesting before any parser sees it.
        int depth = jsonNestingDepth(raw, options.maxNestingDepth);
        if (depth > options.maxNestingDepth)
            return skippedReport(r, "JSON nested deeper than " + std::to_string(options.maxNestingDepth) +
                                        " levels, not parsed");
    }

    // 2. Scrub. Nothing below sees `raw`.
    ScrubResult sr = scrubText(raw, options.scrubOptions(), anonymizer);
    raw.clear();
    raw.shrink_to_fit();
    r.text = std::move(sr.text);
    r.redactions = std::move(sr.spans);
    r.redactionCounts = std::move(sr.counts);

    // 3. Structure.
    if (r.type == "pdf") parsePdf(r);
    else if (r.type == "fortigate") parseFortiGate(r, options);
    else if (r.type == "terraform") parseTerraform(r, options);
    else if (r.type == "json") parseJson(r, options);
    else if (r.type == "jsonl") parseJsonl(r, options);
    else if (r.type == "yaml") parseYaml(r);
    else if (r.type == "markdown" || r.type == "html") {
        addWholeSection(r, r.type);
        if (options.instructionPairs) markdownPairs(r, std::size_t(options.maxTokens) * 4);
    } else {
        addWholeSection(r, r.type == "csv" ? "csv" : "text");
    }
    if (std::all_of(r.text.begin(), r.text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
        return skippedReport(r, "no text content");
    // Reasons and warnings quote the document (a FortiGate block's name may be a quoted token
    // spanning lines): each stays one line.
    r.reason = oneLine(r.reason);
    for (auto& w : r.warnings) w = oneLine(w);
    // A broken file can have a problem on every line: keep the report (and the manifest) small.
    constexpr std::size_t kMaxWarnings = 50;
    if (r.warnings.size() > kMaxWarnings) {
        const std::size_t more = r.warnings.size() - kMaxWarnings;
        r.warnings.resize(kMaxWarnings);
        r.warnings.push_back("... and " + std::to_string(more) + " more warning(s) like these");
    }
    if (r.status == "ok" && !r.warnings.empty() && bad > 0) r.status = "partial";
    return r;
}

DocumentReport readDocument(const std::string& path, const DataOptions& options, Anonymizer* anonymizer) {
    DocumentReport r;
    r.path = path;
    r.status = "skipped";
    // O_NONBLOCK: a FIFO must not hang the run; it is refused below as not a regular file.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        r.reason = err == ELOOP ? "symlink loop (too many levels of symbolic links)"
                                : std::string("cannot open: ") + std::strerror(err);
        return r;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        r.reason = std::string("cannot stat: ") + std::strerror(errno);
        ::close(fd);
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        r.reason = S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file (device, FIFO or socket)";
        return r;
    }
    r.bytes = std::uint64_t(st.st_size);
    if (r.bytes == 0) {
        ::close(fd);
        r.reason = "empty file (0 bytes)";
        return r;
    }
    if (r.bytes > options.maxFileBytes) {
        ::close(fd);
        r.reason = "file is " + std::to_string(r.bytes) + " bytes, over the " + std::to_string(options.maxFileBytes) +
                   "-byte limit (raise --max-file-mb)";
        return r;
    }
    std::string bytes(std::size_t(r.bytes), '\0');
    std::size_t got = 0;
    while (got < bytes.size()) {
        ssize_t k = ::read(fd, bytes.data() + got, bytes.size() - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            r.reason = std::string("read failed: ") + std::strerror(errno);
            ::close(fd);
            return r;
        }
        if (k == 0) break;
        got += std::size_t(k);
    }
    // A file that shrank or grew while it was read (a log being rotated, a copy in progress)
    // is not read half: it is skipped and reported, and the next run reads it whole.
    struct stat after {};
    const bool changed = ::fstat(fd, &after) != 0 || after.st_size != st.st_size || got != bytes.size() ||
                         after.st_mtim.tv_sec != st.st_mtim.tv_sec || after.st_mtim.tv_nsec != st.st_mtim.tv_nsec;
    ::close(fd);
    if (changed) {
        r.reason = "file changed while it was read (" + std::to_string(got) + " of " + std::to_string(r.bytes) +
                   " bytes read, now " + std::to_string(std::uint64_t(after.st_size)) + "); not used";
        return r;
    }
    return readDocumentBytes(path, bytes, options, anonymizer);
}

}  // namespace qcw
