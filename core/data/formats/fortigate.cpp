// FortiGate CLI configurations (FortiOS `config/edit/set/unset/next/end`): detection, the
// sections (one per top-level `config` block), instruction pairs per policy, interface,
// address, VIP, route ... entry, and the `set <secret key> <value>` secret detector.
// The tree parser (parseFortiGateConfig, looksLikeFortiGate, declared in data/parsers.h)
// is here too.
#include "data/formats/format.h"
#include "data/formats/line_counter.h"
#include "data/formats/scan.h"
#include "data/formats/util.h"
#include "data/parsers.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace qcw {

// ------------------------------------------------------ the FortiOS CLI tree parser --
// Declared in data/parsers.h. Iterative, depth-limited; runs on scrubbed text.

namespace {

// As in the other parsers (parsers.cpp), a '\r' is blank: CRLF files parse the same.
bool cliBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
bool cliSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::size_t lineEndAt(const std::string& s, std::size_t p) {
    std::size_t e = s.find('\n', p);
    return e == std::string::npos ? s.size() : e;
}

using formats::LineCounter;

}  // namespace

std::string FortiNode::value(const std::string& key) const {
    for (const auto& [k, v] : sets)
        if (k == key) {
            std::string r;
            for (const auto& x : v) r += (r.empty() ? "" : " ") + x;
            return r;
        }
    return {};
}

bool looksLikeFortiGate(const std::string& text) {
    std::size_t head = std::min<std::size_t>(text.size(), 65536);
    std::string h = text.substr(0, head);
    if (h.find("#config-version=") != std::string::npos) return true;
    int configs = 0, sets = 0, ends = 0;
    std::size_t p = 0;
    while (p < h.size()) {
        std::size_t le = lineEndAt(h, p);
        std::size_t b = p;
        while (b < le && cliBlank(h[b])) ++b;
        if (h.compare(b, 7, "config ") == 0) ++configs;
        else if (h.compare(b, 4, "set ") == 0 || h.compare(b, 5, "edit ") == 0) ++sets;
        else if (h.compare(b, 3, "end") == 0 || h.compare(b, 4, "next") == 0) ++ends;
        p = le + 1;
    }
    return configs >= 1 && sets >= 1 && (ends >= 1 || configs >= 2);
}

FortiConfig parseFortiGateConfig(const std::string& text, int maxDepth) {
    FortiConfig cfg;
    cfg.root.kind = FortiNode::Kind::Root;
    cfg.root.begin = 0;
    cfg.root.end = text.size();
    std::vector<FortiNode*> stack{&cfg.root};
    LineCounter lines(text);
    std::size_t p = 0, n = text.size();
    int ignoredDepth = 0;  // configs nested past maxDepth are parsed flat
    while (p < n) {
        while (p < n && cliSpace(text[p])) ++p;
        if (p >= n) break;
        std::size_t stmt = p;
        if (text[p] == '#') {
            p = lineEndAt(text, p) + 1;
            continue;
        }
        // Tokens up to the end of the line; quoted tokens may span lines.
        std::vector<std::string> tok;
        while (p < n && text[p] != '\n') {
            // Every whitespace but the newline separates tokens (\r of CRLF files, \v, \f):
            // a token loop that only skipped blanks never advanced past them.
            while (p < n && text[p] != '\n' && cliSpace(text[p])) ++p;
            if (p >= n || text[p] == '\n') break;
            std::string t;
            if (text[p] == '"' || text[p] == '\'') {
                char q = text[p++];
                while (p < n && text[p] != q) {
                    if (text[p] == '\\' && p + 1 < n) {
                        t += text[p + 1];
                        p += 2;
                        continue;
                    }
                    t += text[p++];
                }
                if (p < n) ++p;
            } else {
                while (p < n && !cliSpace(text[p])) t += text[p++];
            }
            tok.push_back(t);
        }
        std::size_t stmtEnd = p;
        if (p < n) ++p;
        if (tok.empty()) continue;
        const std::string& cmd = tok[0];
        FortiNode* top = stack.back();
        int line = lines.lineAt(stmt);
        if (cmd == "config") {
            if (int(stack.size()) > maxDepth) {
                ++ignoredDepth;
                cfg.problems.push_back("line " + std::to_string(line) + ": config nested deeper than " +
                                       std::to_string(maxDepth) + " levels, read flat");
                continue;
            }
            FortiNode node;
            node.kind = FortiNode::Kind::Config;
            for (std::size_t i = 1; i < tok.size(); ++i) node.name += (i > 1 ? " " : "") + tok[i];
            node.begin = stmt;
            node.line = line;
            node.terminated = false;
            top->children.push_back(std::move(node));
            stack.push_back(&top->children.back());
        } else if (cmd == "edit") {
            if (top->kind == FortiNode::Kind::Edit) {
                cfg.problems.push_back("line " + std::to_string(line) + ": edit " + top->name + " has no next");
                top->end = stmt;
                stack.pop_back();
                top = stack.back();
            }
            if (top->kind != FortiNode::Kind::Config) {
                cfg.problems.push_back("line " + std::to_string(line) + ": edit outside a config block");
                continue;
            }
            FortiNode node;
            node.kind = FortiNode::Kind::Edit;
            node.name = tok.size() > 1 ? tok[1] : std::string();
            node.begin = stmt;
            node.line = line;
            node.terminated = false;
            top->children.push_back(std::move(node));
            stack.push_back(&top->children.back());
        } else if (cmd == "set" || cmd == "append" || cmd == "select") {
            if (tok.size() < 2) continue;
            std::vector<std::string> vals(tok.begin() + 2, tok.end());
            top->sets.emplace_back(tok[1], std::move(vals));
        } else if (cmd == "unset") {
            if (tok.size() >= 2) top->unsets.push_back(tok[1]);
        } else if (cmd == "next") {
            if (top->kind == FortiNode::Kind::Edit) {
                top->end = stmtEnd;
                top->terminated = true;
                stack.pop_back();
            } else {
                cfg.problems.push_back("line " + std::to_string(line) + ": next outside an edit block");
            }
        } else if (cmd == "end") {
            if (ignoredDepth > 0) {
                --ignoredDepth;
                continue;
            }
            if (top->kind == FortiNode::Kind::Edit) {
                cfg.problems.push_back("line " + std::to_string(line) + ": edit " + top->name + " closed by end without next");
                top->end = stmt;
                top->terminated = true;
                stack.pop_back();
                top = stack.back();
            }
            if (top->kind == FortiNode::Kind::Config) {
                top->end = stmtEnd;
                top->terminated = true;
                stack.pop_back();
            } else {
                cfg.problems.push_back("line " + std::to_string(line) + ": end without config");
            }
        } else {
            // Other CLI verbs (abort, show, get ...) are not configuration.
        }
    }
    for (std::size_t i = stack.size(); i-- > 1;) {
        FortiNode* node = stack[i];
        node->end = n;
        node->terminated = false;
        cfg.problems.push_back(std::string("unterminated ") + (node->kind == FortiNode::Kind::Config ? "config" : "edit") +
                               " block '" + (node->kind == FortiNode::Kind::Config ? "config " : "edit ") + node->name +
                               "' opened at line " + std::to_string(node->line) + " (parsed part kept)");
    }
    return cfg;
}

}  // namespace qcw

namespace qcw::formats {

namespace {

using namespace scan;
using Cand = SecretCandidate;

// ------------------------------------------------------------------------------ pairs --

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

// ----------------------------------------------------------------------------- secrets --

bool fortiKeyIsSecret(const std::string& key, std::string& kind) {
    static const char* qualifiers[] = {"-policy", "-expire", "-expiry", "-length", "-change", "-attempt", "-reuse",
                                       "-renewal", "-complexity", "-retry", "-history", "-timeout", "-day",
                                       "-warning", "-mode", "-type", "-status", "-lockout", "-min", "-max",
                                       "-check", "-format", "-storage", "-prompt", "-rule"};
    if (key.find("public") != std::string::npos) return false;
    bool pw = key.find("password") != std::string::npos || key.find("passwd") != std::string::npos ||
              key.find("pwd") != std::string::npos;
    bool psk = key.find("psk") != std::string::npos || key.find("ppk-secret") != std::string::npos ||
               key.find("pre-shared") != std::string::npos;
    bool priv = key.find("private-key") != std::string::npos;
    bool sec = key.find("secret") != std::string::npos || key.find("passphrase") != std::string::npos ||
               key.find("token") != std::string::npos;
    bool k = key == "key" || (key.size() > 4 && key.compare(key.size() - 4, 4, "-key") == 0) || key == "apikey" ||
             key == "sharedkey" || key == "authkey";
    if (!(pw || psk || priv || sec || k)) return false;
    for (const char* q : qualifiers)
        if (key.find(q) != std::string::npos && !priv && !(key == "secret-key")) return false;
    kind = psk ? "fortigate_psk" : priv ? "private_key" : pw ? "fortigate_password" : k ? "fortigate_key" : "fortigate_secret";
    return true;
}

bool plainWordValue(const std::string& v) {
    static const std::set<std::string> words = {"enable", "disable", "none", "default", "any", "all", "strict",
                                                "md5", "sha1", "sha256", "sha384", "sha512", "text", "ascii"};
    return words.count(toLower(v)) > 0;
}

// FortiGate CLI: `set <secret-ish key> <value...>` with ENC, quoted (multi-line) or bare values.
void findFortiGateSets(const std::string& s, std::vector<Cand>& out) {
    std::size_t pos = 0;
    while (pos < s.size()) {
        std::size_t le = lineEnd(s, pos);
        std::size_t p = pos;
        while (p < le && isBlank(s[p])) ++p;
        if (startsWith(s, p, "set ") || startsWith(s, p, "set\t")) {
            p += 4;
            while (p < le && isBlank(s[p])) ++p;
            std::size_t kb = p;
            while (p < le && !isSpace(s[p])) ++p;
            std::string key = toLower(s.substr(kb, p - kb));
            std::string kind;
            while (p < le && isBlank(s[p])) ++p;
            if (p < le && fortiKeyIsSecret(key, kind)) {
                std::size_t vb = p, ve;
                if (s[p] == '"' || s[p] == '\'') {
                    char q = s[p];
                    std::size_t i = p + 1;
                    std::size_t limit = std::min(s.size(), p + (256u << 10));  // quoted values up to 256 KiB
                    while (i < limit && s[i] != q) i += (s[i] == '\\' ? 2 : 1);
                    if (i >= limit) i = le;  // unterminated: to the end of the line at least
                    vb = p + 1;
                    ve = std::min(i, s.size());
                    if (ve > le) le = lineEnd(s, ve);
                } else {
                    ve = trimRight(s, vb, le);
                }
                std::string v = s.substr(vb, std::min<std::size_t>(ve - vb, 64));
                if (ve > vb && !isPlaceholder(s, vb) && !plainWordValue(s.substr(vb, ve - vb)))
                    out.push_back({vb, ve, kind});
                (void)v;
            }
        }
        pos = le + 1;
    }
}

class FortiGateFormat final : public DocumentFormat {
public:
    const char* id() const override { return "fortigate"; }
    const char* displayName() const override { return "FortiGate CLI configuration"; }
    Claim detect(const DetectInput& in) const override {
        for (const char* e : {"conf", "cfg", "fgt", "cli"})
            if (in.ext == e) return Claim::Extension;
        return Claim::None;
    }
    bool sniff(const DetectInput& in) const override { return looksLikeFortiGate(*in.bytes); }
    // A .conf that is no FortiGate config (nginx, an ini file ...) is read as plain text.
    bool acceptsContent(const std::string& bytes) const override {
        return looksLikeFortiGate(bytes) || bytes.find("config ") != std::string::npos;
    }
    void structure(DocumentReport& r, const DataOptions& options) const override { parseFortiGate(r, options); }
    std::vector<SecretDetector> secretDetectors() const override {
        return {{"fortigate_set", 20, [](const std::string& s, const std::string&, double, std::vector<Cand>& out) {
                     findFortiGateSets(s, out);
                 }}};
    }
};

}  // namespace

const DocumentFormat& fortigateFormat() {
    static const FortiGateFormat f;
    return f;
}

}  // namespace qcw::formats
