#include "data/parsers.h"

#include "data/formats/line_counter.h"

#include <algorithm>
#include <cstring>

namespace qcw {

namespace {

using formats::LineCounter;

bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }
bool isIdentChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

std::string trim(const std::string& s) {
    std::size_t b = 0, e = s.size();
    while (b < e && isSpace(s[b])) ++b;
    while (e > b && isSpace(s[e - 1])) --e;
    return s.substr(b, e - b);
}

std::size_t lineEndAt(const std::string& s, std::size_t p) {
    std::size_t e = s.find('\n', p);
    return e == std::string::npos ? s.size() : e;
}

// LineCounter: data/formats/line_counter.h

void appendUtf8(std::string& out, unsigned long cp) {
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0) cp = 0xFFFD;
    if (cp < 0x80) out += char(cp);
    else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

}  // namespace

// FortiGate: looksLikeFortiGate and parseFortiGateConfig live in data/formats/fortigate.cpp.

// ================================================================================= HCL ==

namespace {

class HclParser {
public:
    HclParser(const std::string& s, int maxDepth) : s_(s), n_(s.size()), maxDepth_(maxDepth), lines_(s) {}

    HclFile parse() {
        HclFile f;
        parseBody(f.attributes, f.blocks, 0, f.problems);
        return f;
    }

private:
    const std::string& s_;
    std::size_t n_;
    std::size_t p_ = 0;
    int maxDepth_;
    LineCounter lines_;

    int line(std::size_t off) { return lines_.lineAt(off); }

    // Skips blanks and comments; newlines too when `newlines`.
    void skip(bool newlines) {
        while (p_ < n_) {
            char c = s_[p_];
            if (isBlank(c) || (newlines && (c == '\n' || c == ';' ))) {
                ++p_;
            } else if (c == '#' || (c == '/' && p_ + 1 < n_ && s_[p_ + 1] == '/')) {
                p_ = lineEndAt(s_, p_);
            } else if (c == '/' && p_ + 1 < n_ && s_[p_ + 1] == '*') {
                std::size_t e = s_.find("*/", p_ + 2);
                p_ = e == std::string::npos ? n_ : e + 2;
            } else {
                break;
            }
        }
    }

    // At an opening quote: skips the string with its ${...} templates.
    void skipString() {
        ++p_;
        while (p_ < n_ && s_[p_] != '"' && s_[p_] != '\n') {
            if (s_[p_] == '\\') {
                p_ = std::min(p_ + 2, n_);  // a backslash as the last byte must not step past the end
                continue;
            }
            if ((s_[p_] == '$' || s_[p_] == '%') && p_ + 1 < n_ && s_[p_ + 1] == '{') {
                int depth = 0;
                for (; p_ < n_; ++p_) {
                    char c = s_[p_];
                    if (c == '{') ++depth;
                    else if (c == '}' && --depth == 0) break;
                    else if (c == '"' && depth > 0) {  // a nested string inside the template
                        ++p_;
                        while (p_ < n_ && s_[p_] != '"' && s_[p_] != '\n') p_ = std::min(p_ + (s_[p_] == '\\' ? 2 : 1), n_);
                        if (p_ >= n_) break;
                    }
                }
                if (p_ < n_) ++p_;
                continue;
            }
            ++p_;
        }
        if (p_ < n_ && s_[p_] == '"') ++p_;
    }

    // At "<<": skips the heredoc through its terminator line.
    void skipHeredoc() {
        std::size_t t = p_ + 2;
        if (t < n_ && s_[t] == '-') ++t;
        std::size_t tb = t;
        while (t < n_ && isIdentChar(s_[t])) ++t;
        std::string term = s_.substr(tb, t - tb);
        std::size_t l = std::min(lineEndAt(s_, t) + 1, n_);
        while (l < n_) {
            std::size_t le = lineEndAt(s_, l);
            std::size_t f = l;
            while (f < le && isBlank(s_[f])) ++f;
            std::size_t e = le;
            while (e > f && isBlank(s_[e - 1])) --e;
            if (!term.empty() && s_.compare(f, e - f, term) == 0) {
                p_ = le;
                return;
            }
            l = le + 1;
        }
        p_ = n_;
    }

    // An expression runs to the end of the line at bracket depth 0.
    std::size_t skipExpression() {
        int depth = 0;
        while (p_ < n_) {
            char c = s_[p_];
            if (c == '"') {
                skipString();
                continue;
            }
            if (c == '<' && p_ + 2 < n_ && s_[p_ + 1] == '<' && (s_[p_ + 2] == '-' || isIdentChar(s_[p_ + 2]))) {
                skipHeredoc();
                continue;
            }
            if (c == '#' || (c == '/' && p_ + 1 < n_ && (s_[p_ + 1] == '/' || s_[p_ + 1] == '*'))) {
                if (depth == 0) break;
                skip(false);
                continue;
            }
            if (c == '(' || c == '[' || c == '{') ++depth;
            else if (c == ')' || c == ']' || c == '}') {
                if (depth == 0) break;
                --depth;
            } else if (c == '\n' && depth == 0) {
                break;
            }
            ++p_;
        }
        std::size_t e = p_;
        while (e > 0 && isSpace(s_[e - 1])) --e;
        return e;
    }

    void skipBlockBody() {
        int depth = 1;
        while (p_ < n_ && depth > 0) {
            char c = s_[p_];
            if (c == '"') {
                skipString();
                continue;
            }
            if (c == '{') ++depth;
            else if (c == '}') --depth;
            ++p_;
        }
    }

    void parseBody(std::vector<HclAttribute>& attrs, std::vector<HclBlock>& blocks, int depth,
                   std::vector<std::string>& problems) {
        while (true) {
            skip(true);
            if (p_ >= n_ || s_[p_] == '}') return;
            std::size_t start = p_;
            std::size_t ib = p_;
            while (p_ < n_ && (isIdentChar(s_[p_]) || s_[p_] == '.')) ++p_;
            if (p_ == ib) {
                problems.push_back("line " + std::to_string(line(start)) + ": unexpected '" + std::string(1, s_[p_]) +
                                   "', line skipped");
                p_ = lineEndAt(s_, p_);
                continue;
            }
            std::string name = s_.substr(ib, p_ - ib);
            skip(false);
            if (p_ < n_ && (s_[p_] == '=' || s_[p_] == ':') && !(p_ + 1 < n_ && s_[p_ + 1] == '=')) {
                ++p_;
                skip(false);
                std::size_t vb = p_;
                std::size_t ve = skipExpression();
                HclAttribute a;
                a.name = name;
                a.value = s_.substr(vb, ve > vb ? ve - vb : 0);
                a.begin = start;
                a.end = ve;
                a.line = line(start);
                attrs.push_back(std::move(a));
                continue;
            }
            HclBlock b;
            b.type = name;
            b.begin = start;
            b.line = line(start);
            while (p_ < n_ && s_[p_] != '{' && s_[p_] != '\n') {
                if (s_[p_] == '"') {
                    std::size_t q = p_;
                    skipString();
                    b.labels.push_back(s_.substr(q + 1, p_ > q + 1 ? p_ - q - 2 : 0));
                } else if (isIdentChar(s_[p_])) {
                    std::size_t q = p_;
                    while (p_ < n_ && isIdentChar(s_[p_])) ++p_;
                    b.labels.push_back(s_.substr(q, p_ - q));
                } else {
                    break;
                }
                skip(false);
            }
            if (p_ >= n_ || s_[p_] != '{') {
                problems.push_back("line " + std::to_string(b.line) + ": '" + name +
                                   "' is neither an attribute nor a block, line skipped");
                p_ = lineEndAt(s_, p_);
                continue;
            }
            ++p_;
            if (depth + 1 > maxDepth_) {
                problems.push_back("line " + std::to_string(b.line) + ": blocks nested deeper than " +
                                   std::to_string(maxDepth_) + " levels, inner block skipped");
                skipBlockBody();
                continue;
            }
            parseBody(b.attributes, b.blocks, depth + 1, problems);
            if (p_ < n_ && s_[p_] == '}') {
                ++p_;
            } else {
                problems.push_back("line " + std::to_string(b.line) + ": block '" + name + "' is not closed");
            }
            b.end = p_;
            blocks.push_back(std::move(b));
            if (depth > 0 && p_ >= n_) return;
        }
    }
};

}  // namespace

HclFile parseHcl(const std::string& text, int maxDepth) {
    HclParser parser(text, maxDepth);
    HclFile f = parser.parse();
    return f;
}

// ================================================================================ YAML ==

std::vector<std::pair<std::string, std::string>> flattenYaml(const std::string& text, std::vector<std::string>* problems) {
    struct Level {
        int indent;
        std::string path;
        bool seq = false;
        int index = -1;
        bool openKey = false;  // "key:" waiting for a nested mapping or sequence
    };
    std::vector<std::pair<std::string, std::string>> out;
    std::vector<Level> stack;
    auto unquote = [](std::string v) {
        v = trim(v);
        if (v.size() >= 2 && ((v.front() == '"' && v.back() == '"') || (v.front() == '\'' && v.back() == '\'')))
            v = v.substr(1, v.size() - 2);
        return v;
    };
    auto stripComment = [](const std::string& v) {
        bool sq = false, dq = false;
        for (std::size_t i = 0; i < v.size(); ++i) {
            char c = v[i];
            if (c == '\'' && !dq) sq = !sq;
            else if (c == '"' && !sq) dq = !dq;
            else if (c == '#' && !sq && !dq && (i == 0 || isBlank(v[i - 1]))) return v.substr(0, i);
        }
        return v;
    };
    std::size_t p = 0, n = text.size();
    int lineNo = 0;
    while (p < n) {
        std::size_t le = lineEndAt(text, p);
        std::string raw = text.substr(p, le - p);
        p = le + 1;
        ++lineNo;
        if (!raw.empty() && raw.back() == '\r') raw.pop_back();
        std::size_t ind = 0;
        while (ind < raw.size() && raw[ind] == ' ') ++ind;
        std::string body = stripComment(raw.substr(ind));
        std::string tb = trim(body);
        if (tb.empty()) continue;
        if (tb == "---" || tb == "...") {
            stack.clear();
            continue;
        }
        int indent = int(ind);
        // Sequence items open a level of their own, then the rest is read at a deeper indent.
        while (true) {
            bool dash = tb == "-" || tb.compare(0, 2, "- ") == 0;
            while (!stack.empty()) {
                const Level& t = stack.back();
                if (t.indent < indent) break;
                if (t.indent == indent && dash && (t.seq || t.openKey)) break;  // "key:\n- item" at one indent
                stack.pop_back();
            }
            std::string parent = stack.empty() ? std::string() : stack.back().path;
            if (dash) {
                if (stack.empty() || stack.back().indent != indent || !stack.back().seq)
                    stack.push_back({indent, parent, true, -1, false});
                Level& seq = stack.back();
                ++seq.index;
                std::string itemPath = seq.path + "[" + std::to_string(seq.index) + "]";
                std::string rest = tb.size() > 1 ? trim(tb.substr(2)) : std::string();
                if (rest.empty()) {
                    stack.push_back({indent + 1, itemPath, false, -1, false});
                    break;
                }
                int restIndent = indent + 2;
                stack.push_back({indent + 1, itemPath, false, -1, false});
                indent = restIndent;
                tb = rest;
                continue;
            }
            // key: value
            std::size_t colon = std::string::npos;
            bool sq = false, dq = false;
            for (std::size_t i = 0; i < tb.size(); ++i) {
                char c = tb[i];
                if (c == '\'' && !dq) sq = !sq;
                else if (c == '"' && !sq) dq = !dq;
                else if (c == ':' && !sq && !dq && (i + 1 == tb.size() || tb[i + 1] == ' ')) {
                    colon = i;
                    break;
                }
            }
            if (colon == std::string::npos) {
                // A plain scalar: a sequence item value or a continuation line.
                std::string v = unquote(tb);
                if (!out.empty() && !stack.empty() && out.back().first == parent) {
                    out.back().second += " " + v;
                } else {
                    out.emplace_back(parent, v);
                }
                break;
            }
            std::string key = unquote(tb.substr(0, colon));
            std::string value = trim(tb.substr(colon + 1));
            std::string path = parent.empty() ? key : parent + "." + key;
            if (!value.empty() && (value[0] == '|' || value[0] == '>')) {
                bool folded = value[0] == '>';
                std::string block;
                int blockIndent = -1;
                while (p < n) {
                    std::size_t e2 = lineEndAt(text, p);
                    std::string l = text.substr(p, e2 - p);
                    if (!l.empty() && l.back() == '\r') l.pop_back();
                    std::size_t li = 0;
                    while (li < l.size() && l[li] == ' ') ++li;
                    if (li < l.size() && int(li) <= indent) break;
                    if (li < l.size() && blockIndent < 0) blockIndent = int(li);
                    std::string content = li < l.size() ? l.substr(std::min<std::size_t>(l.size(), std::size_t(std::max(blockIndent, 0)))) : "";
                    block += content + (folded ? " " : "\n");
                    p = e2 + 1;
                    ++lineNo;
                }
                out.emplace_back(path, trim(block));
            } else if (value.empty()) {
                stack.push_back({indent, path, false, -1, true});
            } else if (value[0] == '&' || value[0] == '*') {
                out.emplace_back(path, value);
            } else {
                out.emplace_back(path, unquote(value));
            }
            break;
        }
        if (stack.size() > 512) {
            if (problems) problems->push_back("line " + std::to_string(lineNo) + ": nesting too deep, rest skipped");
            break;
        }
    }
    return out;
}

// ================================================================================= CSV ==

std::vector<std::vector<std::string>> parseCsv(const std::string& text, char delimiter) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool inQuotes = false, fieldStarted = false, wasQuoted = false;
    std::size_t i = 0, n = text.size();
    if (n >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;
    auto endField = [&]() {
        row.push_back(field);
        field.clear();
        fieldStarted = false;
        wasQuoted = false;
    };
    auto endRow = [&]() {
        endField();
        if (!(row.size() == 1 && row[0].empty())) rows.push_back(row);
        row.clear();
    };
    for (; i < n; ++i) {
        char c = text[i];
        if (inQuotes) {
            if (c == '"') {
                if (i + 1 < n && text[i + 1] == '"') {
                    field += '"';
                    ++i;
                } else {
                    inQuotes = false;
                }
            } else {
                field += c;
            }
            continue;
        }
        if (c == '"' && !fieldStarted && !wasQuoted) {
            inQuotes = true;
            wasQuoted = true;
            fieldStarted = true;
        } else if (c == delimiter) {
            endField();
        } else if (c == '\r') {
            if (i + 1 < n && text[i + 1] == '\n') ++i;
            endRow();
        } else if (c == '\n') {
            endRow();
        } else {
            field += c;
            fieldStarted = true;
        }
    }
    if (fieldStarted || !field.empty() || !row.empty()) endRow();
    return rows;
}

// ================================================================================ HTML ==

std::string decodeHtmlEntities(const std::string& text) {
    static const std::pair<const char*, unsigned long> named[] = {
        {"amp", '&'},       {"lt", '<'},         {"gt", '>'},        {"quot", '"'},      {"apos", '\''},
        {"nbsp", 0xA0},     {"copy", 0xA9},      {"reg", 0xAE},      {"trade", 0x2122},  {"mdash", 0x2014},
        {"ndash", 0x2013},  {"hellip", 0x2026},  {"lsquo", 0x2018},  {"rsquo", 0x2019},  {"ldquo", 0x201C},
        {"rdquo", 0x201D},  {"laquo", 0xAB},     {"raquo", 0xBB},    {"bull", 0x2022},   {"middot", 0xB7},
        {"deg", 0xB0},      {"times", 0xD7},     {"euro", 0x20AC},   {"para", 0xB6},     {"sect", 0xA7},
        {"rarr", 0x2192},   {"larr", 0x2190},    {"harr", 0x2194},   {"check", 0x2713},  {"shy", 0xAD},
        {"tab", '\t'},      {"newline", '\n'},   {"colon", ':'},     {"sol", '/'},       {"num", '#'}};
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c != '&') {
            out += c;
            continue;
        }
        std::size_t semi = text.find(';', i + 1);
        if (semi == std::string::npos || semi - i > 12) {
            out += c;
            continue;
        }
        std::string ent = text.substr(i + 1, semi - i - 1);
        bool done = false;
        if (!ent.empty() && ent[0] == '#') {
            unsigned long cp = 0;
            bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
            std::string digits = ent.substr(hex ? 2 : 1);
            bool ok = !digits.empty();
            for (char d : digits) {
                int v = (d >= '0' && d <= '9') ? d - '0' : (hex && d >= 'a' && d <= 'f') ? d - 'a' + 10
                        : (hex && d >= 'A' && d <= 'F') ? d - 'A' + 10 : -1;
                if (v < 0) ok = false;
                else cp = std::min<unsigned long>(cp * (hex ? 16 : 10) + unsigned(v), 0x110000);
            }
            if (ok) {
                appendUtf8(out, cp);
                done = true;
            }
        } else {
            for (const auto& [name, cp] : named)
                if (ent == name) {
                    appendUtf8(out, cp == 0xA0 ? ' ' : cp);
                    done = true;
                    break;
                }
        }
        if (done) i = semi;
        else out += c;
    }
    return out;
}

std::string htmlToText(const std::string& html) {
    static const char* blockTags[] = {"p", "div", "br", "li", "tr", "table", "section", "article", "header",
                                      "footer", "ul", "ol", "pre", "blockquote", "hr", "dt", "dd", "dl", "nav",
                                      "main", "aside", "figure", "figcaption", "title", "form", "td", "th", "body"};
    std::string out;
    std::string textRun;
    int pre = 0;
    auto flushText = [&]() {
        std::string decoded = decodeHtmlEntities(textRun);
        textRun.clear();
        if (pre > 0) {
            out += decoded;
            return;
        }
        for (char c : decoded) {
            if (isSpace(c)) {
                if (!out.empty() && out.back() != ' ' && out.back() != '\n') out += ' ';
            } else {
                out += c;
            }
        }
    };
    auto newlines = [&](int k) {
        while (!out.empty() && out.back() == ' ') out.pop_back();
        int have = 0;
        for (std::size_t i = out.size(); i-- > 0 && out[i] == '\n';) ++have;
        if (out.empty()) return;
        for (; have < k; ++have) out += '\n';
    };
    std::size_t i = 0, n = html.size();
    while (i < n) {
        char c = html[i];
        if (c != '<') {
            textRun += c;
            ++i;
            continue;
        }
        if (html.compare(i, 4, "<!--") == 0) {
            std::size_t e = html.find("-->", i + 4);
            i = e == std::string::npos ? n : e + 3;
            continue;
        }
        if (i + 1 < n && (html[i + 1] == '!' || html[i + 1] == '?')) {
            std::size_t e = html.find('>', i);
            i = e == std::string::npos ? n : e + 1;
            continue;
        }
        std::size_t j = i + 1;
        bool closing = j < n && html[j] == '/';
        if (closing) ++j;
        std::size_t nb = j;
        while (j < n && (std::isalnum(static_cast<unsigned char>(html[j])))) ++j;
        if (j == nb) {  // a bare '<' in text
            textRun += c;
            ++i;
            continue;
        }
        std::string name = html.substr(nb, j - nb);
        for (auto& ch : name) ch = char(std::tolower(static_cast<unsigned char>(ch)));
        // Find the tag end, respecting quoted attribute values.
        char q = 0;
        while (j < n) {
            if (q) {
                if (html[j] == q) q = 0;
            } else if (html[j] == '"' || html[j] == '\'') {
                q = html[j];
            } else if (html[j] == '>') {
                break;
            }
            ++j;
        }
        std::size_t tagEnd = j < n ? j + 1 : n;
        flushText();
        if (!closing && (name == "script" || name == "style" || name == "noscript" || name == "template" ||
                         name == "svg" || name == "head")) {
            // find </name case-insensitively
            std::size_t k = tagEnd;
            std::size_t found = n;
            while ((k = html.find("</", k)) != std::string::npos) {
                std::string nm = html.substr(k + 2, name.size());
                for (auto& ch : nm) ch = char(std::tolower(static_cast<unsigned char>(ch)));
                if (nm == name) {
                    found = k;
                    break;
                }
                k += 2;
            }
            if (found == n && name == "head") {
                // No </head>: the head ends where the body starts (as browsers do), else here.
                std::size_t k2 = tagEnd;
                found = tagEnd;
                while ((k2 = html.find('<', k2)) != std::string::npos) {
                    std::string nm = html.substr(k2 + 1, 4);
                    for (auto& ch : nm) ch = char(std::tolower(static_cast<unsigned char>(ch)));
                    if (nm == "body") {
                        found = k2;
                        break;
                    }
                    ++k2;
                }
                i = found;
            } else if (found == n) {
                i = n;
            } else {
                std::size_t e = html.find('>', found);
                i = e == std::string::npos ? n : e + 1;
            }
            if (name == "head") {
                // keep the <title> text
                std::string headPart = html.substr(tagEnd, (found == n ? n : found) - tagEnd);
                std::string lowHead = headPart;
                for (auto& ch : lowHead) ch = char(std::tolower(static_cast<unsigned char>(ch)));
                std::size_t t = lowHead.find("<title");
                if (t != std::string::npos) {
                    std::size_t tb = headPart.find('>', t);
                    std::size_t te = lowHead.find("</title", t);
                    if (tb != std::string::npos && te != std::string::npos && te > tb) {
                        out += "# " + trim(decodeHtmlEntities(headPart.substr(tb + 1, te - tb - 1)));
                        newlines(2);
                    }
                }
            }
            continue;
        }
        i = tagEnd;
        if (name.size() == 2 && name[0] == 'h' && name[1] >= '1' && name[1] <= '6') {
            newlines(2);
            if (!closing) out += std::string(std::size_t(name[1] - '0'), '#') + " ";
            continue;
        }
        if (name == "pre") {
            newlines(2);
            pre += closing ? -1 : 1;
            if (pre < 0) pre = 0;
            continue;
        }
        if (name == "li" && !closing) {
            newlines(1);
            out += "- ";
            continue;
        }
        if (name == "td" || name == "th") {
            if (!closing && !out.empty() && out.back() != '\n') out += " | ";
            continue;
        }
        bool block = false;
        for (const char* b : blockTags)
            if (name == b) block = true;
        if (block) newlines(name == "br" || name == "tr" || name == "li" ? 1 : 2);
    }
    flushText();
    // Trim trailing spaces on lines and the text itself.
    std::string clean;
    clean.reserve(out.size());
    for (std::size_t k = 0; k < out.size(); ++k) {
        if (out[k] == '\n')
            while (!clean.empty() && clean.back() == ' ') clean.pop_back();
        clean += out[k];
    }
    return trim(clean) + "\n";
}

// ============================================================================ Markdown ==

std::vector<MarkdownSection> markdownSections(const std::string& text) {
    std::vector<MarkdownSection> out;
    std::size_t p = 0, n = text.size();
    bool fence = false;
    std::string fenceMark;
    while (p < n) {
        std::size_t le = lineEndAt(text, p);
        std::size_t b = p;
        while (b < le && b - p < 4 && text[b] == ' ') ++b;
        if (text.compare(b, 3, "```") == 0 || text.compare(b, 3, "~~~") == 0) {
            std::string mark = text.substr(b, 3);
            if (!fence) {
                fence = true;
                fenceMark = mark;
            } else if (mark == fenceMark) {
                fence = false;
            }
        } else if (!fence && b < le && text[b] == '#') {
            std::size_t h = b;
            while (h < le && text[h] == '#') ++h;
            int level = int(h - b);
            if (level <= 6 && (h == le || text[h] == ' ' || text[h] == '\t')) {
                std::string heading = trim(text.substr(h, le - h));
                while (!heading.empty() && heading.back() == '#') heading.pop_back();
                heading = trim(heading);
                if (!out.empty()) out.back().bodyEnd = p;
                MarkdownSection s;
                s.level = level;
                s.heading = heading;
                s.headingBegin = p;
                s.bodyBegin = std::min(le + 1, n);
                s.bodyEnd = n;
                out.push_back(s);
            }
        }
        p = le + 1;
    }
    return out;
}

// ================================================================================ JSON ==

int jsonNestingDepth(const std::string& text, int limit) {
    int depth = 0, maxDepth = 0;
    bool inStr = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (inStr) {
            if (c == '\\') ++i;
            else if (c == '"') inStr = false;
            continue;
        }
        if (c == '"') inStr = true;
        else if (c == '{' || c == '[') {
            if (++depth > maxDepth) {
                maxDepth = depth;
                if (maxDepth > limit) return maxDepth;
            }
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return maxDepth;
}

// ================================================================================ text ==

std::size_t repairUtf8(std::string& text) {
    std::size_t bad = 0;
    std::size_t i = 0, n = text.size();
    // Fast path: valid text is left alone.
    std::string out;
    bool copying = false;
    while (i < n) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        std::size_t len = 0;
        unsigned long cp = 0;
        if (c < 0x80) len = 1;
        else if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
        bool ok = len > 0 && i + len <= n;
        for (std::size_t k = 1; ok && k < len; ++k) {
            unsigned char cc = static_cast<unsigned char>(text[i + k]);
            if ((cc & 0xC0) != 0x80) ok = false;
            else cp = (cp << 6) | (cc & 0x3F);
        }
        if (ok && len > 1) {
            static const unsigned long minCp[5] = {0, 0, 0x80, 0x800, 0x10000};
            if (cp < minCp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) ok = false;
        }
        if (ok && len == 1 && c == 0) ok = false;  // NUL has no place in training text
        if (ok) {
            if (copying) out.append(text, i, len);
            i += len;
            continue;
        }
        if (!copying) {
            out.assign(text, 0, i);
            copying = true;
        }
        out += "\xEF\xBF\xBD";
        ++bad;
        ++i;
    }
    if (copying) text.swap(out);
    return bad;
}

}  // namespace qcw
