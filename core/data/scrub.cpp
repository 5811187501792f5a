#include "data/scrub.h"

#include "data/formats/format.h"
#include "data/formats/scan.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string_view>

namespace qcw {

namespace {

using namespace formats::scan;
using Cand = formats::SecretCandidate;


struct Classes {
    int lower = 0, upper = 0, digit = 0, other = 0;
};
Classes classify(const char* p, std::size_t n) {
    Classes c;
    for (std::size_t i = 0; i < n; ++i) {
        char ch = p[i];
        if (ch >= 'a' && ch <= 'z') ++c.lower;
        else if (ch >= 'A' && ch <= 'Z') ++c.upper;
        else if (isDigit(ch)) ++c.digit;
        else ++c.other;
    }
    return c;
}

bool isGuid(const char* p, std::size_t n) {
    if (n != 36) return false;
    for (std::size_t i = 0; i < n; ++i) {
        bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash ? p[i] != '-' : !std::isxdigit(static_cast<unsigned char>(p[i]))) return false;
    }
    return true;
}

// --- detectors ---------------------------------------------------------------------------

// PEM / OpenSSH / PGP private key blocks, whole (a block without END runs to the end of
// its base64 body, so a truncated key loses its tail too), and PuTTY private lines.
void findPrivateKeys(const std::string& s, std::vector<Cand>& out) {
    std::size_t pos = 0;
    while ((pos = s.find("-----BEGIN", pos)) != std::string::npos) {
        std::size_t labB = pos + 10;
        std::size_t labE = s.find("-----", labB);
        if (labE == std::string::npos || labE - labB > 80) {
            pos = labB;
            continue;
        }
        std::string label = s.substr(labB, labE - labB);
        if (label.find("PRIVATE KEY") == std::string::npos) {
            pos = labE + 5;
            continue;
        }
        std::size_t e;
        std::size_t endMark = s.find("-----END", labE + 5);
        if (endMark != std::string::npos) {
            std::size_t close = s.find("-----", endMark + 8);
            e = (close == std::string::npos || close - endMark > 100) ? lineEnd(s, endMark) : close + 5;
        } else {
            e = labE + 5;
            while (e < s.size() && (isB64(s[e]) || isSpace(s[e]) || s[e] == '=' || s[e] == '\\' || s[e] == ':' ||
                                    s[e] == ',' || s[e] == '-'))
                ++e;
        }
        out.push_back({pos, e, "private_key"});
        pos = e;
    }
    pos = 0;
    while ((pos = s.find("Private-Lines:", pos)) != std::string::npos) {
        std::size_t mac = s.find("Private-MAC:", pos);
        std::size_t e = mac == std::string::npos ? s.size() : lineEnd(s, mac);
        out.push_back({pos, e, "private_key"});
        pos = e;
    }
}

// Takes a value at `p`: quoted content, or a run up to one of `stops` (or whitespace).
bool takeValue(const std::string& s, std::size_t p, const char* stops, bool stopAtSpace, std::size_t& vb,
               std::size_t& ve, bool* quoted = nullptr) {
    if (p >= s.size()) return false;
    if (quoted) *quoted = false;
    if (s[p] == '"' || s[p] == '\'' || s[p] == '`') {
        char q = s[p];
        std::size_t le = lineEnd(s, p);
        std::size_t i = p + 1;
        while (i < le && s[i] != q) i += (s[i] == '\\' && q != '`' ? 2 : 1);
        vb = p + 1;
        ve = std::min(i, le);
        if (quoted) *quoted = true;
        return ve > vb;
    }
    std::size_t i = p;
    while (i < s.size() && s[i] != '\n' && s[i] != '\r' && !std::strchr(stops, s[i]) && !(stopAtSpace && isBlank(s[i])))
        ++i;
    vb = p;
    ve = i;
    return ve > vb;
}

// key=value credentials: connection strings, SAS signatures, URL queries.
void findKeyValueSecrets(const std::string& s, const std::string& low, std::vector<Cand>& out) {
    static const std::pair<const char*, const char*> keys[] = {
        {"accountkey", "storage_account_key"},       {"sharedaccesskey", "shared_access_key"},
        {"sharedaccesssignature", "sas_token"},      {"sig", "sas_token"},
        {"password", "connection_string_password"},  {"pwd", "connection_string_password"},
        {"clientsecret", "azure_client_secret"},     {"client_secret", "azure_client_secret"},
        {"accesskey", "access_key"},                 {"apikey", "api_key"},
        {"api_key", "api_key"},                      {"access_token", "bearer_token"},
        {"refresh_token", "bearer_token"},           {"code_verifier", "bearer_token"}};
    for (const auto& [key, kind] : keys) {
        std::size_t klen = std::strlen(key);
        std::size_t pos = 0;
        while ((pos = low.find(key, pos)) != std::string::npos) {
            std::size_t at = pos;
            pos += klen;
            if (at > 0 && (isAlnum(s[at - 1]) || s[at - 1] == '_')) continue;
            std::size_t p = at + klen;
            while (p < s.size() && isBlank(s[p])) ++p;
            if (p >= s.size() || s[p] != '=' || (p + 1 < s.size() && s[p + 1] == '=')) continue;
            ++p;
            while (p < s.size() && isBlank(s[p])) ++p;
            std::size_t vb, ve;
            bool sig = std::strcmp(key, "sig") == 0;
            if (!takeValue(s, p, sig ? "&\"'<;) ,\\" : ";\"'<&\\", sig, vb, ve)) continue;
            ve = trimRight(s, vb, ve);
            if (ve <= vb || isPlaceholder(s, vb)) continue;
            if (sig && ve - vb < 8) continue;
            if (s[vb] == '{' || s[vb] == '$' || s[vb] == '<' || s[vb] == '%') continue;  // templates
            out.push_back({vb, ve, kind});
        }
    }
}

// JSON Web Tokens anywhere, and `Bearer <token>`.
void findTokens(const std::string& s, const std::string& low, std::vector<Cand>& out) {
    std::size_t pos = 0;
    while ((pos = s.find("eyJ", pos)) != std::string::npos) {
        std::size_t b = pos;
        pos += 3;
        if (b > 0 && isB64Url(s[b - 1])) continue;
        std::size_t i = b;
        int parts = 0;
        std::size_t lens[3] = {0, 0, 0};
        while (parts < 3) {
            std::size_t st = i;
            while (i < s.size() && isB64Url(s[i])) ++i;
            lens[parts++] = i - st;
            if (parts < 3 && i < s.size() && s[i] == '.') ++i;
            else break;
        }
        if (parts >= 2 && lens[0] >= 10 && lens[1] >= 10) {
            out.push_back({b, i, "jwt"});
            pos = i;
        }
    }
    pos = 0;
    while ((pos = low.find("bearer", pos)) != std::string::npos) {
        std::size_t p = pos + 6;
        std::size_t at = pos;
        pos = p;
        if (at > 0 && isAlnum(s[at - 1])) continue;
        if (p >= s.size() || !isBlank(s[p])) continue;
        while (p < s.size() && isBlank(s[p])) ++p;
        std::size_t e = p;
        while (e < s.size() && (isTok(s[e]))) ++e;
        if (e - p >= 16) out.push_back({p, e, "bearer_token"});
    }
}

// Token-shaped secrets without context: Azure AD client secrets (xxx8Q~...), storage
// account keys (88 chars of base64 ending in ==), 32-byte base64 keys; and high-entropy
// tokens of 16+ chars when a key/secret/password/token word precedes them on the line.
void findShapedSecrets(const std::string& s, const std::string& low, double threshold, std::vector<Cand>& out) {
    static const char* near[] = {"key", "secret", "password", "passwd", "token", "pwd", "api", "auth", "credential",
                                 "passphrase", "psk", "signature", "sig="};
    std::size_t i = 0, n = s.size();
    while (i < n) {
        if (!isTok(s[i])) {
            ++i;
            continue;
        }
        if (s[i] == '=') {  // key=value: the value starts after the '='
            ++i;
            continue;
        }
        std::size_t b = i;
        while (i < n && isTok(s[i])) {
            if (s[i] == '=' && i + 1 < n && isTok(s[i + 1]) && s[i + 1] != '=') break;
            ++i;
        }
        std::size_t e = i;
        // Sentence punctuation is not part of the token.
        while (e > b && (s[e - 1] == '.' || s[e - 1] == '-')) --e;
        std::size_t len = e - b;
        if (len < 16 || isPlaceholder(s, b)) continue;
        const char* p = s.data() + b;
        // Well-known token prefixes (GitHub, Slack, AWS access key IDs, Google API keys, OpenAI-style).
        {
            static const std::pair<const char*, std::size_t> prefixes[] = {
                {"ghp_", 30}, {"gho_", 30}, {"ghs_", 30}, {"github_pat_", 40}, {"xoxb-", 20}, {"xoxp-", 20},
                {"AKIA", 20}, {"ASIA", 20}, {"AIza", 35}, {"sk-", 32}, {"glpat-", 20}};
            bool hit = false;
            for (const auto& [pre, minLen] : prefixes)
                if (len >= minLen && std::strncmp(p, pre, std::strlen(pre)) == 0) hit = true;
            if (hit) {
                Classes pc = classify(p, len);
                if (pc.digit && (pc.upper || pc.lower)) {
                    out.push_back({b, e, "api_token"});
                    continue;
                }
            }
        }
        // Azure client secret: 3 chars, a digit, "Q~", then ~34 chars.
        const char* tilde = static_cast<const char*>(std::memchr(p, '~', len));
        if (tilde) {
            std::size_t q = std::size_t(tilde - p);
            bool shape = len >= 34 && len <= 48 && q >= 4 && q <= 6 && p[q - 1] == 'Q';
            // Otherwise a long high-entropy token with a tilde, but not a path, URL or a Sphinx
            // cross-reference (":c:member:`~PyConfig.filesystem_encoding`"): those have no digits
            // or carry '/', ':' or '`'.
            const Classes cls = classify(p, len);
            const bool pathLike = std::memchr(p, '/', len) || std::memchr(p, ':', len) || std::memchr(p, '`', len);
            if (shape || (len >= 32 && !pathLike && cls.digit && cls.upper && cls.lower && shannonEntropy(p, len) >= 4.0)) {
                out.push_back({b, e, "azure_client_secret"});
                continue;
            }
        }
        // Base64 with padding.
        std::size_t core = len;
        while (core > 0 && p[core - 1] == '=') --core;
        bool b64 = true;
        for (std::size_t k = 0; k < core && b64; ++k) b64 = isB64(p[k]);
        Classes c = classify(p, len);
        if (b64 && len == 88 && core == 86) {
            out.push_back({b, e, "storage_account_key"});
            continue;
        }
        if (b64 && len == 44 && core == 43 && c.lower && c.upper && c.digit && shannonEntropy(p, len) >= 4.0) {
            out.push_back({b, e, "base64_key"});
            continue;
        }
        if (isGuid(p, len)) continue;
        // Identifiers and paths (fortinet_fg-vm_payg_2023, vnet-hub-weu-01, 2025-03-14.conf)
        // are made of plain words and numbers; secrets have segments mixing letters and digits.
        {
            std::size_t longest = 0;
            std::size_t k = 0;
            while (k < len) {
                std::size_t sb = k;
                while (k < len && !std::strchr("_.-/~+=", p[k])) ++k;
                Classes sc = classify(p + sb, k - sb);
                bool mixed = (sc.digit && (sc.lower + sc.upper)) || (sc.upper >= 2 && sc.lower >= 2 && k - sb >= 10);
                if (mixed) longest = std::max(longest, k - sb);
                ++k;
            }
            if (longest < 8) continue;
            std::string lt = low.substr(b, len);
            if (lt.find("/subscriptions/") != std::string::npos || lt.find("/resourcegroups/") != std::string::npos)
                continue;  // Azure resource IDs
            if (len >= 2 && p[0] == '/' && p[1] == '/' && longest < 20) continue;  // URL
        }
        if (c.digit < 2 || !(c.lower + c.upper)) continue;
        if (!(c.lower && c.upper) && len < 24) continue;
        // Short tokens and hex cannot reach high entropy per char: scale the bar to what the
        // alphabet and length allow (log2 of the smaller), at 75 %.
        bool hex = true;
        for (std::size_t k = 0; k < len && hex; ++k) hex = std::isxdigit(static_cast<unsigned char>(p[k])) != 0;
        double ceiling = std::log2(double(std::min<std::size_t>(len, hex ? 16 : 64)));
        double h = shannonEntropy(p, len);
        if (h < std::min(threshold, 0.75 * ceiling)) continue;
        // The keyword may sit earlier on the same line or on the line before (wrapped prose),
        // at most 160 bytes back.
        std::size_t from = b >= 160 ? b - 160 : 0;
        std::string window = low.substr(from, b - from);
        std::size_t nl = window.rfind('\n');
        if (nl != std::string::npos && nl > 0) {
            std::size_t nl2 = window.rfind('\n', nl - 1);
            if (nl2 != std::string::npos) window.erase(0, nl2 + 1);
        }
        bool keyword = false;
        for (const char* w : near)
            if (window.find(w) != std::string::npos) keyword = true;
        if (keyword) out.push_back({b, e, "high_entropy_secret"});
    }
}

bool looksSecret(const char* p, std::size_t n) {
    if (n < 8) return false;
    Classes c = classify(p, n);
    if (c.digit && (c.lower + c.upper)) return true;
    if (c.lower && c.upper) return true;
    return n >= 12 && shannonEntropy(p, n) >= 3.2;
}

bool isReference(const std::string& v) {
    // var.x, local.x, data.a.b, module.m.out, random_password.p.result, azurerm_x.y.id
    std::size_t dot = v.find('.');
    if (dot == std::string::npos || dot == 0) return false;
    for (std::size_t i = 0; i < v.size(); ++i) {
        char c = v[i];
        if (!(std::islower(static_cast<unsigned char>(c)) || isDigit(c) || c == '_' || c == '.' || c == '[' ||
              c == ']' || c == '*' || c == '"' || c == '-'))
            return false;
    }
    return true;
}

// "password is X", "password: X", admin_password = "X", "the pre-shared key is X", ...
void findAssignments(const std::string& s, const std::string& low, std::vector<Cand>& out) {
    struct Kw {
        const char* word;
        const char* kind;
        bool strong;
    };
    static const Kw kws[] = {{"password", "password", true},        {"passwd", "password", true},
                             {"passphrase", "password", true},      {"pwd", "password", true},
                             {"passcode", "password", true},        {"secret", "secret", true},
                             {"psk", "psk", true},                  {"pre-shared key", "psk", true},
                             {"preshared key", "psk", true},        {"shared key", "psk", true},
                             {"api key", "api_key", false},         {"apikey", "api_key", false},
                             {"api_key", "api_key", false},         {"api-key", "api_key", false},
                             {"access key", "access_key", false},   {"access_key", "access_key", false},
                             {"token", "token", false},             {"private_key", "private_key", false},
                             {"account_key", "storage_account_key", false}, {"accountkey", "storage_account_key", false},
                             {"accesskey", "access_key", false},    {"privatekey", "private_key", false},
                             {"sharedkey", "psk", true}};
    static const std::set<std::string> sepWords = {"is", "was", "set", "now", "becomes", "remains", "be",
                                                   "changed", "reads", "equals"};
    for (const Kw& kw : kws) {
        std::size_t klen = std::strlen(kw.word);
        std::size_t pos = 0;
        while ((pos = low.find(kw.word, pos)) != std::string::npos) {
            std::size_t at = pos;
            pos += klen;
            // Widen to the whole identifier (adminPassword, admin_password, fgt-psk-secret).
            std::size_t ib = at, ie = at + klen;
            if (std::strchr(kw.word, ' ') == nullptr) {
                while (ib > 0 && isIdent(s[ib - 1])) --ib;
                while (ie < s.size() && isIdent(s[ie])) ++ie;
            }
            std::string ident = low.substr(ib, ie - ib);
            {
                // secretName, key_vault_id, password_policy ... name things, they are not secrets.
                static const char* suffixes[] = {"name", "id", "ids", "uri", "url", "path", "file", "type", "version",
                                                 "length", "policy", "expiry", "expires", "ref", "reference", "count",
                                                 "enabled", "mode", "format", "vault", "kind", "size", "label",
                                                 "permissions", "rotation", "days", "date", "store", "source"};
                std::string tail = ident;
                while (!tail.empty() && (tail.back() == '_' || tail.back() == '-')) tail.pop_back();
                bool meta = false;
                for (const char* sfx : suffixes) {
                    std::size_t L = std::strlen(sfx);
                    if (tail.size() > L && tail.compare(tail.size() - L, L, sfx) == 0) meta = true;
                }
                if (meta) continue;
            }
            if (ident.find("secretary") != std::string::npos || ident.find("public") != std::string::npos ||
                ident.find("tokeniz") != std::string::npos)
                continue;
            std::size_t p = ie;
            if (p < s.size() && (s[p] == '"' || s[p] == '\'') && ib > 0 && s[ib - 1] == s[p]) ++p;
            bool sep = false, wordSep = false;
            for (int round = 0; round < 4 && p < s.size(); ++round) {
                std::size_t q = p;
                while (q < s.size() && isBlank(s[q])) ++q;
                if (q < s.size() && (s[q] == ':' || s[q] == '=')) {
                    ++q;
                    if (q < s.size() && (s[q] == '=' || s[q] == '>')) {
                        if (s[q] == '=') break;  // == comparison, not an assignment
                        ++q;
                    }
                    sep = true;
                    p = q;
                    continue;
                }
                std::size_t wb = q;
                while (q < s.size() && isAlpha(s[q])) ++q;
                std::string word = low.substr(wb, q - wb);
                if (q > wb && (sepWords.count(word) || (word == "to" && wordSep))) {
                    sep = wordSep = true;
                    p = q;
                    continue;
                }
                break;
            }
            if (!sep) continue;
            while (p < s.size() && isBlank(s[p])) ++p;
            // "the password is<newline>   X": prose wraps after the verb.
            if (wordSep && p < s.size() && (s[p] == '\n' || s[p] == '\r')) {
                std::size_t q = p;
                if (s[q] == '\r') ++q;
                if (q < s.size() && s[q] == '\n') ++q;
                while (q < s.size() && isBlank(s[q])) ++q;
                if (q < s.size() && s[q] != '\n' && s[q] != '\r') p = q;
            }
            std::size_t vb, ve;
            bool quoted = false;
            if (!takeValue(s, p, "\"'<>|;", true, vb, ve, &quoted)) continue;
            if (!quoted) {
                while (ve > vb && std::strchr(".,;:)]}", s[ve - 1]) && (ve == s.size() || isSpace(s[ve]) || s[ve] == '"'))
                    --ve;
                // A trailing `,` or `;` glued to a word at the end of a line/field.
                while (ve > vb && (s[ve - 1] == ',' || s[ve - 1] == ';')) --ve;
            }
            if (ve <= vb || isPlaceholder(s, vb)) continue;
            std::string v = s.substr(vb, ve - vb);
            if (!quoted) {
                char c0 = v[0];
                if (c0 == '{' || c0 == '[' || c0 == '(' || c0 == '$' || c0 == '%' || c0 == '#') continue;
                if (stopWord(v) || isReference(v)) continue;
                if (v.find('(') != std::string::npos) continue;  // a function call, not a value
                if (wordSep) {  // prose: "the password is completely lost"
                    Classes vc = classify(v.data(), v.size());
                    if (vc.lower == int(v.size()) && v.size() <= 14) continue;
                }
                if (v == "*" || v.find("***") != std::string::npos || v.find("...") != std::string::npos) continue;
            } else {
                if (v.find("${") == 0 || v.find("{{") == 0 || (v[0] == '<' && v.back() == '>')) continue;
                if (v[0] == '[' && v.back() == ']' && v.find('(') != std::string::npos) continue;  // ARM expression
                if (v.find("***") != std::string::npos) continue;
            }
            if (!kw.strong && !looksSecret(v.data(), v.size())) continue;
            out.push_back({vb, ve, kw.kind});
        }
    }
}

// Password-shaped words (letters, digits and a symbol such as ! @ # $) in a sentence that
// talks about a password: "The password that was used for it - Tide-Crane64!9h0 - must ...".
void findPasswordWords(const std::string& s, const std::string& low, std::vector<Cand>& out) {
    static const char* kws[] = {"password", "passwd", "passphrase", "pwd", "secret", "pre-shared", "psk", "credential"};
    std::size_t i = 0, n = s.size();
    while (i < n) {
        if (isSpace(s[i])) {
            ++i;
            continue;
        }
        std::size_t b = i;
        while (i < n && !isSpace(s[i])) ++i;
        std::size_t e = i;
        while (b < e && std::strchr("\"'`([{<*", s[b])) ++b;
        while (e > b && std::strchr("\"'`)]}>.,;:*", s[e - 1])) --e;
        std::size_t len = e - b;
        if (len < 8 || len > 64 || isPlaceholder(s, b)) continue;
        Classes c = classify(s.data() + b, len);
        if (!c.lower || !c.upper || !c.digit) continue;
        bool symbol = false, odd = false;
        for (std::size_t k = b; k < e; ++k) {
            if (std::strchr("!@#$%^&*?+", s[k])) symbol = true;
            if (std::strchr("/\\=<>()[]{}\"'`|", s[k]) || static_cast<unsigned char>(s[k]) >= 0x80) odd = true;
        }
        if (!symbol || odd) continue;
        // A keyword before it in the same paragraph, at most 200 bytes back.
        std::size_t from = b >= 200 ? b - 200 : 0;
        std::string window = low.substr(from, b - from);
        std::size_t para = window.rfind("\n\n");
        if (para != std::string::npos) window.erase(0, para + 2);
        bool keyword = false;
        for (const char* w : kws)
            if (window.find(w) != std::string::npos) keyword = true;
        if (keyword) out.push_back({b, e, "password"});
    }
}

// Canary strings planted to test memorisation: CANARY-<8 hex>-<tag>.
void findCanaries(const std::string& s, std::vector<Cand>& out) {
    std::size_t pos = 0;
    while ((pos = s.find("CANARY-", pos)) != std::string::npos) {
        std::size_t b = pos, e = pos + 7;
        while (e < s.size() && (isAlnum(s[e]) || s[e] == '-' || s[e] == '_')) ++e;
        while (e > b + 7 && s[e - 1] == '-') --e;
        if (e - b >= 12) out.push_back({b, e, "canary"});
        pos = e;
    }
}

void findEmails(const std::string& s, std::vector<Cand>& out) {
    std::size_t pos = 0;
    while ((pos = s.find('@', pos)) != std::string::npos) {
        std::size_t at = pos++;
        std::size_t b = at;
        while (b > 0 && (isAlnum(s[b - 1]) || std::strchr("._%+-", s[b - 1]))) --b;
        std::size_t e = at + 1;
        while (e < s.size() && (isAlnum(s[e]) || s[e] == '.' || s[e] == '-')) ++e;
        while (e > at + 1 && (s[e - 1] == '.' || s[e - 1] == '-')) --e;
        if (b == at || e <= at + 1) continue;
        std::size_t dot = s.rfind('.', e - 1);
        if (dot == std::string::npos || dot < at || e - dot < 3) continue;
        bool tld = true;
        for (std::size_t k = dot + 1; k < e; ++k) tld = tld && isAlpha(s[k]);
        if (!tld) continue;
        out.push_back({b, e, "email"});
        pos = e;
    }
}

void findIps(const std::string& s, std::vector<Cand>& out) {
    std::size_t n = s.size();
    for (std::size_t i = 0; i < n; ++i) {
        if (!isDigit(s[i]) || (i > 0 && (isAlnum(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '_'))) continue;
        std::size_t p = i;
        int octets[4];
        bool ok = true;
        for (int k = 0; k < 4 && ok; ++k) {
            std::size_t st = p;
            int v = 0;
            while (p < n && isDigit(s[p]) && p - st < 4) v = v * 10 + (s[p++] - '0');
            if (p == st || p - st > 3 || v > 255) ok = false;
            octets[k] = v;
            if (ok && k < 3) {
                if (p < n && s[p] == '.') ++p;
                else ok = false;
            }
        }
        if (!ok) continue;
        if (p < n && (isAlnum(s[p]) || (s[p] == '.' && p + 1 < n && isDigit(s[p + 1])))) {
            i = p;
            continue;
        }
        bool skip = octets[0] == 255 || (octets[0] == 0 && octets[1] == 0 && octets[2] == 0 && octets[3] == 0);
        if (!skip) out.push_back({i, p, "ip"});
        i = p;
    }
}

bool genericKind(const std::string& k) {
    return k == "password" || k == "secret" || k == "token" || k == "api_key" || k == "access_key" ||
           k == "high_entropy_secret" || k == "psk";
}

}  // namespace

double shannonEntropy(const char* data, std::size_t n) {
    if (n == 0) return 0.0;
    int counts[256] = {0};
    for (std::size_t i = 0; i < n; ++i) ++counts[static_cast<unsigned char>(data[i])];
    double h = 0;
    for (int c : counts)
        if (c) {
            double p = double(c) / double(n);
            h -= p * std::log2(p);
        }
    return h;
}

std::string Anonymizer::placeholder(const std::string& kind, const std::string& value) {
    auto& m = ids_[kind];
    auto it = m.find(value);
    int id = it == m.end() ? (m[value] = int(m.size()) + 1) : it->second;
    std::string tag = kind == "ip" ? "IP" : kind == "email" ? "EMAIL" : toLower(kind);
    return "[" + tag + "_" + std::to_string(id) + "]";
}

std::size_t Anonymizer::distinct(const std::string& kind) const {
    auto it = ids_.find(kind);
    return it == ids_.end() ? 0 : it->second.size();
}

namespace {

// The generic detectors (any text), interleaved by `order` with the formats' own detectors
// from the format table (formats/*.cpp): every detector runs over every document.
// Adapters to the one detector signature (text, lower-cased text, entropy threshold, out).
using Found = std::vector<Cand>;
void privateKeys(const std::string& s, const std::string&, double, Found& c) { findPrivateKeys(s, c); }
void keyValues(const std::string& s, const std::string& low, double, Found& c) { findKeyValueSecrets(s, low, c); }
void tokens(const std::string& s, const std::string& low, double, Found& c) { findTokens(s, low, c); }
void assignments(const std::string& s, const std::string& low, double, Found& c) { findAssignments(s, low, c); }
void passwordWords(const std::string& s, const std::string& low, double, Found& c) { findPasswordWords(s, low, c); }
void canaries(const std::string& s, const std::string&, double, Found& c) { findCanaries(s, c); }
void shaped(const std::string& s, const std::string& low, double t, Found& c) { findShapedSecrets(s, low, t, c); }

std::vector<formats::SecretDetector> genericDetectors() {
    return {{"private_key", 10, privateKeys}, {"key_value", 30, keyValues},         {"token", 40, tokens},
            {"assignment", 70, assignments},  {"password_word", 90, passwordWords}, {"canary", 100, canaries},
            {"shaped_secret", 110, shaped}};
}

const std::vector<formats::SecretDetector>& allDetectors() {
    static const std::vector<formats::SecretDetector> all = [] {
        std::vector<formats::SecretDetector> d = genericDetectors();
        for (const auto& f : formats::formatSecretDetectors()) d.push_back(f);
        std::stable_sort(d.begin(), d.end(), [](const formats::SecretDetector& a, const formats::SecretDetector& b) {
            return a.order < b.order;
        });
        return d;
    }();
    return all;
}

void detectAll(const std::string& raw, const std::string& low, double threshold, std::vector<Cand>& c) {
    for (const auto& d : allDetectors()) d.find(raw, low, threshold, c);
}

// --- the second look: text an adversary (or an encoder) disguised ---------------------------
//
// The detectors read ASCII keywords and token shapes. A secret can hide from them behind
// Unicode look-alikes ("pаssword" with a Cyrillic а, fullwidth ｐａｓｓｗｏｒｄ), invisible
// characters (a zero-width space inside "AKIA..."), JSON \uXXXX escapes ("pass\u0077ord") or
// URL percent-encoding ("password%3DZq8%21..."). fold() undoes these into a second text with
// a map back to the original bytes; the detectors run on it too and what they find there is
// redacted in the original.

struct Folded {
    std::string text;
    std::vector<std::size_t> from;  // original offset of each folded byte; from[text.size()] = end
    bool changed = false;
};

// Look-alike code points (Cyrillic, Greek, fullwidth) to the ASCII letter they imitate; 0 when none.
char asciiLookAlike(std::uint32_t cp) {
    if (cp >= 0xFF01 && cp <= 0xFF5E) return char(cp - 0xFEE0);  // fullwidth ASCII
    static const std::pair<std::uint32_t, char> table[] = {
        {0x0430, 'a'}, {0x0435, 'e'}, {0x043E, 'o'}, {0x0440, 'p'}, {0x0441, 'c'}, {0x0443, 'y'}, {0x0445, 'x'},
        {0x0456, 'i'}, {0x0455, 's'}, {0x0458, 'j'}, {0x0501, 'd'}, {0x04BB, 'h'}, {0x0410, 'A'}, {0x0412, 'B'},
        {0x0415, 'E'}, {0x041A, 'K'}, {0x041C, 'M'}, {0x041D, 'H'}, {0x041E, 'O'}, {0x0420, 'P'}, {0x0421, 'C'},
        {0x0422, 'T'}, {0x0425, 'X'}, {0x0405, 'S'}, {0x0406, 'I'}, {0x0408, 'J'}, {0x03B1, 'a'}, {0x03BF, 'o'},
        {0x03BD, 'v'}, {0x03C1, 'p'}, {0x03B9, 'i'}, {0x0391, 'A'}, {0x0392, 'B'}, {0x0395, 'E'}, {0x0396, 'Z'},
        {0x0397, 'H'}, {0x0399, 'I'}, {0x039A, 'K'}, {0x039C, 'M'}, {0x039D, 'N'}, {0x039F, 'O'}, {0x03A1, 'P'},
        {0x03A4, 'T'}, {0x03A5, 'Y'}, {0x03A7, 'X'}, {0x2010, '-'}, {0x2011, '-'}, {0x2012, '-'}, {0x2013, '-'},
        {0x2212, '-'}, {0xFF1A, ':'}, {0x2236, ':'}, {0xFE55, ':'}, {0x2024, '.'}};
    for (const auto& [c, a] : table)
        if (c == cp) return a;
    return 0;
}

bool invisible(std::uint32_t cp) {
    return cp == 0x00AD || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF ||
           cp == 0x180E || cp == 0x034F;
}

bool unicodeSpace(std::uint32_t cp) {
    return cp == 0x00A0 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Decodes one well-formed UTF-8 character at s[i]; len 0 when it is not one.
std::uint32_t utf8At(const std::string& s, std::size_t i, std::size_t& len) {
    const auto b = static_cast<unsigned char>(s[i]);
    len = 0;
    std::size_t n = b >= 0xF0 && b < 0xF5 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    std::uint32_t cp = n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (std::size_t k = 1; k < n; ++k) {
        const auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (c & 0x3F);
    }
    len = n;
    return cp;
}

int hexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

Folded fold(const std::string& s) {
    Folded f;
    f.text.reserve(s.size());
    f.from.reserve(s.size() + 1);
    auto emit = [&](char c, std::size_t at) {
        f.text += c;
        f.from.push_back(at);
    };
    // A code point from any of the encodings: dropped, folded to ASCII, or kept as it was.
    // Returns false when it is kept (the caller copies the original bytes).
    auto foldCp = [&](std::uint32_t cp, std::size_t at) {
        if (invisible(cp)) return f.changed = true;
        if (unicodeSpace(cp)) {
            emit(' ', at);
            return f.changed = true;
        }
        if (char a = asciiLookAlike(cp)) {
            emit(a, at);
            return f.changed = true;
        }
        return false;
    };
    std::size_t i = 0;
    const std::size_t n = s.size();
    while (i < n) {
        const char c = s[i];
        if (c == '\\' && i + 5 < n && s[i + 1] == 'u') {
            int h[4] = {hexValue(s[i + 2]), hexValue(s[i + 3]), hexValue(s[i + 4]), hexValue(s[i + 5])};
            if (h[0] >= 0 && h[1] >= 0 && h[2] >= 0 && h[3] >= 0) {
                const std::uint32_t cp = std::uint32_t((h[0] << 12) | (h[1] << 8) | (h[2] << 4) | h[3]);
                if (cp >= 0x20 && cp < 0x7F) {
                    emit(char(cp), i);
                    f.changed = true;
                    i += 6;
                    continue;
                }
                if (foldCp(cp, i)) {
                    i += 6;
                    continue;
                }
            }
        }
        if (c == '%' && i + 2 < n) {
            const int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
            if (hi >= 0 && lo >= 0 && (hi << 4 | lo) >= 0x20 && (hi << 4 | lo) < 0x7F) {
                emit(char(hi << 4 | lo), i);
                f.changed = true;
                i += 3;
                continue;
            }
        }
        if (static_cast<unsigned char>(c) >= 0x80) {
            std::size_t len = 0;
            const std::uint32_t cp = utf8At(s, i, len);
            if (len && foldCp(cp, i)) {
                i += len;
                continue;
            }
            if (len) {
                for (std::size_t k = 0; k < len; ++k) emit(s[i + k], i + k);
                i += len;
                continue;
            }
        }
        emit(c, i);
        ++i;
    }
    f.from.push_back(n);
    return f;
}

// Base64 (standard or URL alphabet) decoded; empty when the token is not base64 of text.
std::string base64Text(const char* p, std::size_t n) {
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t k = 0; k < n; ++k) {
        const char c = p[k];
        int v;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+' || c == '-') v = 62;
        else if (c == '/' || c == '_') v = 63;
        else if (c == '=') break;
        else return {};
        acc = (acc << 6) | std::uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            const char b = char((acc >> bits) & 0xFF);
            if (!(b == '\n' || b == '\r' || b == '\t' || (b >= 0x20 && b < 0x7F))) return {};
            out += b;
        }
    }
    return out;
}

// Tokens that are base64 of text holding a secret (an encoded "password=..." or a key file)
// are redacted whole as encoded_secret.
void findEncodedSecrets(const std::string& s, double threshold, int depth, std::vector<Cand>& out) {
    std::size_t i = 0;
    const std::size_t n = s.size();
    while (i < n) {
        if (!(isB64(s[i]) || s[i] == '-' || s[i] == '_')) {
            ++i;
            continue;
        }
        std::size_t b = i;
        while (i < n && (isB64(s[i]) || s[i] == '-' || s[i] == '_')) ++i;
        std::size_t e = i;
        while (i < n && s[i] == '=' && i - e < 2) ++i;
        const std::size_t len = e - b;
        if (len < 16 || len > (1u << 20)) continue;
        const std::string text = base64Text(s.data() + b, len);
        if (text.size() < 12) continue;
        std::vector<Cand> inner;
        detectAll(text, toLower(text), threshold, inner);
        if (inner.empty() && depth > 0) findEncodedSecrets(text, threshold, depth - 1, inner);
        if (!inner.empty()) out.push_back({b, i, "encoded_secret"});
    }
}

}  // namespace

ScrubResult scrubText(const std::string& raw, const ScrubOptions& options, Anonymizer* anonymizer) {
    const std::string low = toLower(raw);
    std::vector<Cand> c;
    detectAll(raw, low, options.entropyThreshold, c);
    findEncodedSecrets(raw, options.entropyThreshold, 1, c);
    {
        const Folded f = fold(raw);
        if (f.changed) {
            std::vector<Cand> fc;
            detectAll(f.text, toLower(f.text), options.entropyThreshold, fc);
            findEncodedSecrets(f.text, options.entropyThreshold, 1, fc);
            for (const auto& x : fc)
                if (x.e > x.b) c.push_back({f.from[x.b], f.from[x.e], x.kind});
        }
    }

    // Stable: on equal ranges the detector listed first names the kind.
    std::stable_sort(c.begin(), c.end(), [](const Cand& a, const Cand& b) { return a.b != b.b ? a.b < b.b : a.e > b.e; });
    std::vector<Cand> merged;
    for (auto& x : c) {
        if (x.e <= x.b) continue;
        if (!merged.empty() && x.b < merged.back().e) {
            // Same secret seen by a generic and a specific detector: keep the specific kind.
            if (x.b == merged.back().b && genericKind(merged.back().kind) && !genericKind(x.kind))
                merged.back().kind = x.kind;
            merged.back().e = std::max(merged.back().e, x.e);
            continue;
        }
        merged.push_back(x);
    }
    if (options.anonymizeIps || options.anonymizeEmails) {
        std::vector<Cand> a;
        if (options.anonymizeEmails) findEmails(raw, a);
        if (options.anonymizeIps) findIps(raw, a);
        std::sort(a.begin(), a.end(), [](const Cand& x, const Cand& y) { return x.b < y.b; });
        std::vector<Cand> all;
        all.reserve(merged.size() + a.size());
        std::size_t j = 0;
        for (auto& x : a) {
            while (j < merged.size() && merged[j].e <= x.b) all.push_back(merged[j++]);
            bool overlaps = (j < merged.size() && merged[j].b < x.e) || (!all.empty() && all.back().e > x.b);
            if (!overlaps) all.push_back(x);
        }
        while (j < merged.size()) all.push_back(merged[j++]);
        merged.swap(all);
    }

    ScrubResult r;
    r.text.reserve(raw.size());
    Anonymizer local;
    Anonymizer* anon = anonymizer ? anonymizer : &local;
    std::size_t at = 0;
    for (auto& x : merged) {
        r.text.append(raw, at, x.b - at);
        std::string ph;
        if (x.kind == "ip" || x.kind == "email") ph = anon->placeholder(x.kind, raw.substr(x.b, x.e - x.b));
        else ph = "[REDACTED:" + x.kind + "]";
        RedactionSpan sp;
        sp.offset = r.text.size();
        sp.length = ph.size();
        sp.originalOffset = x.b;
        sp.originalLength = x.e - x.b;
        sp.newlinesRemoved = int(std::count(raw.begin() + long(x.b), raw.begin() + long(x.e), '\n'));
        sp.kind = x.kind;
        r.text += ph;
        r.spans.push_back(sp);
        ++r.counts[x.kind];
        at = x.e;
    }
    r.text.append(raw, at, std::string::npos);
    return r;
}

}  // namespace qcw
