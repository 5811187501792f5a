// The Jinja-subset renderer for chat templates: a lexer that splits the template into text
// and tags (with Jinja's whitespace rules), a recursive-descent parser into a small tree, and
// a tree walker over nlohmann::ordered_json values. Every recursion is bounded by the depth
// the parser accepted; every loop iteration and every byte of output is counted.
#include "serve/chat_template.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace qcw::serve {

using Json = nlohmann::ordered_json;

TemplateError::TemplateError(const std::string& message, bool raised)
    : std::runtime_error([&] {
          std::string m = message;
          for (char& c : m)
              if (c == '\n' || c == '\r') c = ' ';
          return m;
      }()),
      raised_(raised) {}

namespace {

// ---------------------------------------------------------------------------------------
// Lexer

enum class TokKind { Name, String, Int, Float, Op, End };

struct Tok {
    TokKind kind = TokKind::End;
    std::string text;  // name, operator, or the string's value
    std::int64_t i = 0;
    double f = 0;
    int line = 1;
};

enum class SegKind { Text, Expr, Stmt, Comment };

struct Segment {
    SegKind kind = SegKind::Text;
    std::string text;
    std::vector<Tok> toks;
    bool stripBefore = false, stripAfter = false, keepBefore = false;
    int line = 1;
};

[[noreturn]] void fail(int line, const std::string& what) {
    throw TemplateError("line " + std::to_string(line) + ": " + what);
}

// Shown in errors: at most 40 characters of a construct, on one line.
std::string shown(std::string s) {
    if (s.size() > 40) s = s.substr(0, 40) + "...";
    for (char& c : s)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    return s;
}

bool isNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool isNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class Lexer {
public:
    explicit Lexer(const std::string& src) : s_(src) {}

    std::vector<Segment> run() {
        std::vector<Segment> segs;
        std::size_t pos = 0;
        while (pos < s_.size()) {
            std::size_t p = pos;
            for (;;) {
                p = s_.find('{', p);
                if (p == std::string::npos || p + 1 >= s_.size()) {
                    p = std::string::npos;
                    break;
                }
                const char c = s_[p + 1];
                if (c == '{' || c == '%' || c == '#') break;
                ++p;
            }
            const std::size_t textEnd = p == std::string::npos ? s_.size() : p;
            if (textEnd > pos) {
                Segment t;
                t.kind = SegKind::Text;
                t.text = s_.substr(pos, textEnd - pos);
                t.line = lineAt(pos);
                segs.push_back(std::move(t));
            }
            if (p == std::string::npos) break;
            pos = tag(p, segs);
        }
        applyWhitespace(segs);
        return segs;
    }

private:
    const std::string& s_;

    std::size_t linePos_ = 0;
    int line_ = 1;

    // Positions asked for only grow, so the count goes on from the last one (linear overall).
    int lineAt(std::size_t pos) {
        if (pos < linePos_) {
            linePos_ = 0;
            line_ = 1;
        }
        line_ += static_cast<int>(std::count(s_.begin() + static_cast<std::ptrdiff_t>(linePos_),
                                             s_.begin() + static_cast<std::ptrdiff_t>(pos), '\n'));
        linePos_ = pos;
        return line_;
    }

    // Reads the tag starting at p ("{{", "{%" or "{#"); returns the position after it.
    std::size_t tag(std::size_t p, std::vector<Segment>& segs) {
        Segment g;
        g.line = lineAt(p);
        const char open = s_[p + 1];
        std::size_t q = p + 2;
        if (q < s_.size() && s_[q] == '-') {
            g.stripBefore = true;
            ++q;
        } else if (q < s_.size() && s_[q] == '+' && open != '{') {
            g.keepBefore = true;
            ++q;
        }
        if (open == '#') {
            g.kind = SegKind::Comment;
            const std::size_t e = s_.find("#}", q);
            if (e == std::string::npos) fail(g.line, "unclosed comment '{#'");
            g.stripAfter = e > q && s_[e - 1] == '-';
            segs.push_back(std::move(g));
            return e + 2;
        }
        g.kind = open == '{' ? SegKind::Expr : SegKind::Stmt;
        const char close = open == '{' ? '}' : '%';
        int line = g.line;
        for (;;) {
            while (q < s_.size() && std::isspace(static_cast<unsigned char>(s_[q]))) {
                if (s_[q] == '\n') ++line;
                ++q;
            }
            if (q >= s_.size())
                fail(g.line, std::string("unclosed '{") + open + "' (no '" + close + "}' before the end of the template)");
            if (s_[q] == '-' && q + 2 < s_.size() + 0 && s_.compare(q + 1, 2, std::string(1, close) + "}") == 0) {
                g.stripAfter = true;
                q += 3;
                break;
            }
            if (s_.compare(q, 2, std::string(1, close) + "}") == 0) {
                q += 2;
                break;
            }
            // A tag of the other kind opening before this one closed: malformed.
            if (s_.compare(q, 2, "{%") == 0 || s_.compare(q, 2, "{{") == 0 || s_.compare(q, 2, "{#") == 0)
                fail(line, std::string("'") + s_.substr(q, 2) + "' inside an unclosed '{" + open + "' tag");
            Tok t;
            t.line = line;
            const char c = s_[q];
            if (isNameStart(c)) {
                std::size_t e = q;
                while (e < s_.size() && isNameChar(s_[e])) ++e;
                t.kind = TokKind::Name;
                t.text = s_.substr(q, e - q);
                q = e;
            } else if (std::isdigit(static_cast<unsigned char>(c))) {
                std::size_t e = q;
                while (e < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[e])) || s_[e] == '_')) ++e;
                bool isFloat = false;
                if (e + 1 < s_.size() && s_[e] == '.' && std::isdigit(static_cast<unsigned char>(s_[e + 1]))) {
                    isFloat = true;
                    ++e;
                    while (e < s_.size() && std::isdigit(static_cast<unsigned char>(s_[e]))) ++e;
                }
                std::string num = s_.substr(q, e - q);
                num.erase(std::remove(num.begin(), num.end(), '_'), num.end());
                if (num.size() > 18) fail(line, "number too long: " + shown(num));
                if (isFloat) {
                    t.kind = TokKind::Float;
                    t.f = std::strtod(num.c_str(), nullptr);
                } else {
                    t.kind = TokKind::Int;
                    t.i = std::stoll(num);
                }
                t.text = num;
                q = e;
            } else if (c == '\'' || c == '"') {
                t.kind = TokKind::String;
                std::size_t e = q + 1;
                std::string v;
                for (;;) {
                    if (e >= s_.size()) fail(line, "unterminated string literal");
                    const char d = s_[e];
                    if (d == c) break;
                    if (d == '\n') ++line;
                    if (d == '\\' && e + 1 < s_.size()) {
                        const char x = s_[e + 1];
                        switch (x) {
                            case 'n': v += '\n'; break;
                            case 't': v += '\t'; break;
                            case 'r': v += '\r'; break;
                            case '\\': v += '\\'; break;
                            case '\'': v += '\''; break;
                            case '"': v += '"'; break;
                            case '\n': ++line; break;
                            default: v += '\\'; v += x; break;
                        }
                        e += 2;
                        continue;
                    }
                    v += d;
                    ++e;
                }
                t.text = std::move(v);
                q = e + 1;
            } else {
                static const char* ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">",
                                            "(", ")", "[", "]", "{", "}", ".", ",", ":", "|", "="};
                const char* found = nullptr;
                for (const char* o : ops)
                    if (s_.compare(q, std::strlen(o), o) == 0) {
                        found = o;
                        break;
                    }
                if (!found) fail(line, std::string("unexpected character '") + c + "'");
                t.kind = TokKind::Op;
                t.text = found;
                q += t.text.size();
            }
            g.toks.push_back(std::move(t));
        }
        Tok end;
        end.kind = TokKind::End;
        end.line = line;
        g.toks.push_back(end);
        segs.push_back(std::move(g));
        return q;
    }

    // {%- -%}, and transformers' trim_blocks / lstrip_blocks.
    // The left side first, on the text as written (lstrip_blocks looks for the start of the
    // line, which a newline trimmed by the tag before still marks), then the right side.
    static void applyWhitespace(std::vector<Segment>& segs) {
        for (int pass = 0; pass < 2; ++pass)
        for (std::size_t i = 0; i < segs.size(); ++i) {
            Segment& g = segs[i];
            if (g.kind == SegKind::Text) continue;
            const bool block = g.kind != SegKind::Expr;
            Segment* prev = i > 0 && segs[i - 1].kind == SegKind::Text ? &segs[i - 1] : nullptr;
            Segment* next = i + 1 < segs.size() && segs[i + 1].kind == SegKind::Text ? &segs[i + 1] : nullptr;
            if (pass == 0 && prev && g.stripBefore) {
                std::string& t = prev->text;
                while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
            } else if (pass == 0 && prev && block && !g.keepBefore) {
                std::string& t = prev->text;
                const std::size_t nl = t.rfind('\n');
                const std::size_t from = nl == std::string::npos ? 0 : nl + 1;
                if ((nl != std::string::npos || i == 1) &&
                    t.find_first_not_of(" \t", from) == std::string::npos)
                    t.erase(from);
            }
            if (pass == 1 && next && g.stripAfter) {
                std::string& t = next->text;
                std::size_t k = 0;
                while (k < t.size() && std::isspace(static_cast<unsigned char>(t[k]))) ++k;
                t.erase(0, k);
            } else if (pass == 1 && next && block) {
                std::string& t = next->text;
                if (t.rfind("\r\n", 0) == 0) t.erase(0, 2);
                else if (!t.empty() && t[0] == '\n') t.erase(0, 1);
            }
        }
    }
};

// ---------------------------------------------------------------------------------------
// Tree

struct Expr;
using ExprP = std::unique_ptr<Expr>;

enum class ExprKind { Literal, Var, Attr, Index, Slice, Unary, Binary, And, Or, Not, Filter, Test, Raise, List, Dict, Cond };

struct Expr {
    ExprKind kind;
    int line = 1;
    Json literal;
    std::string name;  // variable, attribute, operator, filter, test
    bool negated = false;
    std::vector<ExprP> args;  // operands
};

struct Node;
using Body = std::vector<std::unique_ptr<Node>>;

enum class NodeKind { Text, Output, If, For, Set };

struct Node {
    NodeKind kind;
    int line = 1;
    std::string text;                                  // Text
    ExprP expr;                                        // Output, Set, For (iterable)
    std::string var;                                   // For, Set
    std::vector<std::pair<ExprP, Body>> branches;      // If (expr null: else)
    Body body;                                         // For
};

const std::vector<std::string>& knownFilters() {
    static const std::vector<std::string> f = {"trim", "length", "count", "upper", "lower", "capitalize", "string",
                                               "default", "d", "first", "last", "tojson"};
    return f;
}
const std::vector<std::string>& knownTests() {
    static const std::vector<std::string> t = {"defined", "undefined", "none", "string", "number", "integer",
                                               "boolean", "mapping", "sequence", "iterable", "true", "false"};
    return t;
}
bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

class Parser {
public:
    Parser(std::vector<Segment> segs, int maxDepth) : segs_(std::move(segs)), maxDepth_(maxDepth) {}

    Body parseTemplate() {
        Body b = parseBody({});
        if (seg_ < segs_.size()) {
            const Segment& g = segs_[seg_];
            fail(g.line, "'" + g.toks[0].text + "' without its opening tag");
        }
        return b;
    }

private:
    std::vector<Segment> segs_;
    std::size_t seg_ = 0;
    const std::vector<Tok>* toks_ = nullptr;
    std::size_t tk_ = 0;
    int depth_ = 0;
    int maxDepth_;

    struct DepthGuard {
        Parser& p;
        DepthGuard(Parser& parser, int line) : p(parser) {
            if (++p.depth_ > p.maxDepth_)
                fail(line, "nested deeper than " + std::to_string(p.maxDepth_) + " levels (blocks and expressions)");
        }
        ~DepthGuard() { --p.depth_; }
    };

    const Tok& peek(std::size_t ahead = 0) const {
        const std::size_t i = std::min(tk_ + ahead, toks_->size() - 1);
        return (*toks_)[i];
    }
    const Tok& next() {
        const Tok& t = peek();
        if (tk_ + 1 < toks_->size()) ++tk_;
        return t;
    }
    bool isOp(const char* op, std::size_t ahead = 0) const {
        const Tok& t = peek(ahead);
        return t.kind == TokKind::Op && t.text == op;
    }
    bool isName(const char* n, std::size_t ahead = 0) const {
        const Tok& t = peek(ahead);
        return t.kind == TokKind::Name && t.text == n;
    }
    static std::string describe(const Tok& t) {
        switch (t.kind) {
            case TokKind::End: return "the end of the tag";
            case TokKind::String: return "string '" + shown(t.text) + "'";
            default: return "'" + shown(t.text) + "'";
        }
    }
    void expectOp(const char* op, const char* context) {
        if (!isOp(op)) fail(peek().line, std::string("expected '") + op + "' " + context + ", found " + describe(peek()));
        next();
    }
    std::string expectName(const char* context) {
        if (peek().kind != TokKind::Name) fail(peek().line, std::string("expected a name ") + context + ", found " + describe(peek()));
        return next().text;
    }
    void expectEnd(const char* tagName) {
        if (peek().kind != TokKind::End)
            fail(peek().line, std::string("unexpected ") + describe(peek()) + " in '" + tagName + "' tag");
    }

    // Parses until a statement tag whose first word is one of `stops` (left unconsumed).
    Body parseBody(const std::vector<std::string>& stops, int openLine = 0, const char* openWord = "") {
        Body body;
        while (seg_ < segs_.size()) {
            Segment& g = segs_[seg_];
            if (g.kind == SegKind::Comment) {
                ++seg_;
                continue;
            }
            if (g.kind == SegKind::Text) {
                if (!g.text.empty()) {
                    auto n = std::make_unique<Node>();
                    n->kind = NodeKind::Text;
                    n->line = g.line;
                    n->text = std::move(g.text);
                    body.push_back(std::move(n));
                }
                ++seg_;
                continue;
            }
            toks_ = &g.toks;
            tk_ = 0;
            if (g.kind == SegKind::Expr) {
                if (peek().kind == TokKind::End) fail(g.line, "empty '{{ }}'");
                auto n = std::make_unique<Node>();
                n->kind = NodeKind::Output;
                n->line = g.line;
                n->expr = parseExpr();
                if (peek().kind != TokKind::End) fail(peek().line, "unexpected " + describe(peek()) + " in '{{ }}'");
                body.push_back(std::move(n));
                ++seg_;
                continue;
            }
            if (peek().kind != TokKind::Name) fail(g.line, "expected a tag name after '{%', found " + describe(peek()));
            const std::string word = peek().text;
            if (contains(stops, word)) return body;
            if (word == "if") {
                body.push_back(parseIf());
            } else if (word == "for") {
                body.push_back(parseFor());
            } else if (word == "set") {
                body.push_back(parseSet());
            } else if (word == "elif" || word == "else" || word == "endif" || word == "endfor") {
                fail(g.line, "'" + word + "' without its opening tag");
            } else {
                static const std::vector<std::string> jinjaTags = {
                    "macro", "endmacro", "call", "endcall", "filter", "endfilter", "block", "endblock", "extends",
                    "include", "import", "from", "raw", "endraw", "with", "endwith", "autoescape", "endautoescape",
                    "break", "continue", "do", "generation", "endgeneration", "endset", "trans", "endtrans"};
                fail(g.line, std::string(contains(jinjaTags, word) ? "unsupported" : "unknown") + " tag '{% " +
                                 shown(word) + " %}'");
            }
        }
        if (!stops.empty())
            fail(openLine, std::string("unclosed '{% ") + openWord + " %}': no '{% " + stops.back() +
                               " %}' before the end of the template");
        return body;
    }

    std::unique_ptr<Node> parseIf() {
        auto n = std::make_unique<Node>();
        n->kind = NodeKind::If;
        n->line = segs_[seg_].line;
        DepthGuard guard(*this, n->line);
        next();  // if
        ExprP cond = parseExpr();
        expectEnd("if");
        ++seg_;
        for (;;) {
            Body b = parseBody({"elif", "else", "endif"}, n->line, "if");
            n->branches.emplace_back(std::move(cond), std::move(b));
            const std::string word = segs_[seg_].toks[0].text;
            toks_ = &segs_[seg_].toks;
            tk_ = 1;
            if (word == "endif") {
                expectEnd("endif");
                ++seg_;
                return n;
            }
            if (word == "elif") {
                if (!n->branches.back().first) fail(segs_[seg_].line, "'elif' after 'else'");
                cond = parseExpr();
                expectEnd("elif");
                ++seg_;
                continue;
            }
            if (!n->branches.back().first) fail(segs_[seg_].line, "a second 'else' in one 'if'");
            expectEnd("else");
            ++seg_;
            cond = nullptr;
        }
    }

    std::unique_ptr<Node> parseFor() {
        auto n = std::make_unique<Node>();
        n->kind = NodeKind::For;
        n->line = segs_[seg_].line;
        DepthGuard guard(*this, n->line);
        next();  // for
        n->var = expectName("after 'for'");
        if (isOp(",")) fail(peek().line, "unsupported: unpacking several loop variables ('for a, b in ...')");
        if (n->var == "loop") fail(n->line, "'loop' cannot be a loop variable");
        if (!isName("in")) fail(peek().line, "expected 'in' after 'for " + n->var + "', found " + describe(peek()));
        next();
        n->expr = parseOr();  // not a conditional expression: 'if' would be a loop filter
        if (isName("if")) fail(peek().line, "unsupported: a loop filter ('for ... in ... if ...')");
        if (isName("recursive")) fail(peek().line, "unsupported: recursive loops");
        expectEnd("for");
        ++seg_;
        n->body = parseBody({"else", "endfor"}, n->line, "for");
        if (segs_[seg_].toks[0].text == "else") fail(segs_[seg_].line, "unsupported: 'for ... else'");
        toks_ = &segs_[seg_].toks;
        tk_ = 1;
        expectEnd("endfor");
        ++seg_;
        return n;
    }

    std::unique_ptr<Node> parseSet() {
        auto n = std::make_unique<Node>();
        n->kind = NodeKind::Set;
        n->line = segs_[seg_].line;
        next();  // set
        n->var = expectName("after 'set'");
        if (isOp(".")) fail(peek().line, "unsupported: assigning an attribute ('set " + n->var + ".x = ...'; namespace() is not supported)");
        if (isOp(",")) fail(peek().line, "unsupported: assigning several names in one 'set'");
        if (peek().kind == TokKind::End) fail(peek().line, "unsupported: block assignment '{% set " + n->var + " %}...{% endset %}'");
        if (n->var == "loop") fail(n->line, "'loop' cannot be assigned");
        expectOp("=", "in 'set'");
        n->expr = parseExpr();
        expectEnd("set");
        ++seg_;
        return n;
    }

    ExprP make(ExprKind k, int line) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->line = line;
        return e;
    }

    ExprP parseExpr() {
        DepthGuard guard(*this, peek().line);
        ExprP e = parseOr();
        if (isName("if")) {
            const int line = next().line;
            ExprP cond = parseOr();
            ExprP other;
            if (isName("else")) {
                next();
                other = parseExpr();
            }
            auto c = make(ExprKind::Cond, line);
            c->args.push_back(std::move(cond));
            c->args.push_back(std::move(e));
            c->args.push_back(std::move(other));  // may be null: undefined
            return c;
        }
        return e;
    }

    ExprP parseOr() {
        ExprP l = parseAnd();
        while (isName("or")) {
            auto e = make(ExprKind::Or, next().line);
            e->args.push_back(std::move(l));
            e->args.push_back(parseAnd());
            l = std::move(e);
        }
        return l;
    }
    ExprP parseAnd() {
        ExprP l = parseNot();
        while (isName("and")) {
            auto e = make(ExprKind::And, next().line);
            e->args.push_back(std::move(l));
            e->args.push_back(parseNot());
            l = std::move(e);
        }
        return l;
    }
    ExprP parseNot() {
        if (isName("not")) {
            DepthGuard guard(*this, peek().line);
            auto e = make(ExprKind::Not, next().line);
            e->args.push_back(parseNot());
            return e;
        }
        return parseCompare();
    }
    ExprP parseCompare() {
        ExprP l = parseConcat();
        for (;;) {
            std::string op;
            const Tok& t = peek();
            if (t.kind == TokKind::Op &&
                (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == ">" || t.text == "<=" || t.text == ">="))
                op = t.text;
            else if (isName("in"))
                op = "in";
            else if (isName("not") && isName("in", 1))
                op = "not in";
            else
                return l;
            const int line = next().line;
            if (op == "not in") next();
            auto e = make(ExprKind::Binary, line);
            e->name = op;
            e->args.push_back(std::move(l));
            e->args.push_back(parseConcat());
            l = std::move(e);
        }
    }
    ExprP parseConcat() {
        ExprP l = parseAdd();
        while (isOp("~")) {
            auto e = make(ExprKind::Binary, next().line);
            e->name = "~";
            e->args.push_back(std::move(l));
            e->args.push_back(parseAdd());
            l = std::move(e);
        }
        return l;
    }
    ExprP parseAdd() {
        ExprP l = parseMul();
        while (isOp("+") || isOp("-")) {
            const Tok& t = next();
            auto e = make(ExprKind::Binary, t.line);
            e->name = t.text;
            e->args.push_back(std::move(l));
            e->args.push_back(parseMul());
            l = std::move(e);
        }
        return l;
    }
    ExprP parseMul() {
        ExprP l = parseUnary();
        while (isOp("*") || isOp("/") || isOp("//") || isOp("%")) {
            const Tok& t = next();
            auto e = make(ExprKind::Binary, t.line);
            e->name = t.text;
            e->args.push_back(std::move(l));
            e->args.push_back(parseUnary());
            l = std::move(e);
        }
        if (isOp("**")) fail(peek().line, "unsupported operator '**'");
        return l;
    }
    ExprP parseUnary() {
        if (isOp("-") || isOp("+")) {
            DepthGuard guard(*this, peek().line);
            const Tok& t = next();
            auto e = make(ExprKind::Unary, t.line);
            e->name = t.text;
            e->args.push_back(parseUnary());
            return parseFilters(std::move(e));
        }
        return parseFilters(parsePostfix(parsePrimary()));
    }

    std::vector<ExprP> parseCallArgs(const std::string& what) {
        std::vector<ExprP> args;
        expectOp("(", ("after " + what).c_str());
        while (!isOp(")")) {
            if (peek().kind == TokKind::Name && isOp("=", 1))
                fail(peek().line, "unsupported: keyword argument '" + peek().text + "=' to " + what);
            args.push_back(parseExpr());
            if (!isOp(",")) break;
            next();
        }
        expectOp(")", ("closing the arguments of " + what).c_str());
        return args;
    }

    ExprP parsePrimary() {
        DepthGuard guard(*this, peek().line);
        const Tok& t = peek();
        switch (t.kind) {
            case TokKind::String: {
                auto e = make(ExprKind::Literal, t.line);
                std::string v = next().text;
                while (peek().kind == TokKind::String) v += next().text;  // "a" "b"
                e->literal = v;
                return e;
            }
            case TokKind::Int: {
                auto e = make(ExprKind::Literal, t.line);
                e->literal = next().i;
                return e;
            }
            case TokKind::Float: {
                auto e = make(ExprKind::Literal, t.line);
                e->literal = next().f;
                return e;
            }
            case TokKind::End: fail(t.line, "expected an expression, found the end of the tag");
            case TokKind::Name: {
                const Tok& n = next();
                if (n.text == "true" || n.text == "True" || n.text == "false" || n.text == "False") {
                    auto e = make(ExprKind::Literal, n.line);
                    e->literal = n.text == "true" || n.text == "True";
                    return e;
                }
                if (n.text == "none" || n.text == "None") {
                    auto e = make(ExprKind::Literal, n.line);
                    e->literal = nullptr;
                    return e;
                }
                if (isOp("(")) {
                    if (n.text != "raise_exception") fail(n.line, "unsupported function '" + shown(n.text) + "()'");
                    auto e = make(ExprKind::Raise, n.line);
                    e->args = parseCallArgs("raise_exception");
                    if (e->args.size() != 1) fail(n.line, "raise_exception takes one argument");
                    return e;
                }
                auto e = make(ExprKind::Var, n.line);
                e->name = n.text;
                return e;
            }
            case TokKind::Op: break;
        }
        const Tok& o = next();
        if (o.text == "(") {
            ExprP e = parseExpr();
            if (isOp(",")) fail(peek().line, "unsupported: tuples");
            expectOp(")", "closing '('");
            return e;
        }
        if (o.text == "[") {
            auto e = make(ExprKind::List, o.line);
            while (!isOp("]")) {
                e->args.push_back(parseExpr());
                if (!isOp(",")) break;
                next();
            }
            expectOp("]", "closing the list");
            return e;
        }
        if (o.text == "{") {
            auto e = make(ExprKind::Dict, o.line);
            while (!isOp("}")) {
                e->args.push_back(parseExpr());
                expectOp(":", "after a dict key");
                e->args.push_back(parseExpr());
                if (!isOp(",")) break;
                next();
            }
            expectOp("}", "closing the dict");
            return e;
        }
        fail(o.line, "expected an expression, found '" + o.text + "'");
    }

    ExprP parsePostfix(ExprP e) {
        for (;;) {
            if (isOp(".")) {
                const int line = next().line;
                if (peek().kind != TokKind::Name && peek().kind != TokKind::Int)
                    fail(line, "expected an attribute name after '.', found " + describe(peek()));
                const Tok& a = next();
                if (isOp("(")) fail(a.line, "unsupported method call '." + shown(a.text) + "()'");
                if (a.kind == TokKind::Int) {
                    auto x = make(ExprKind::Index, line);
                    auto lit = make(ExprKind::Literal, line);
                    lit->literal = a.i;
                    x->args.push_back(std::move(e));
                    x->args.push_back(std::move(lit));
                    e = std::move(x);
                } else {
                    auto x = make(ExprKind::Attr, line);
                    x->name = a.text;
                    x->args.push_back(std::move(e));
                    e = std::move(x);
                }
            } else if (isOp("[")) {
                DepthGuard guard(*this, peek().line);
                const int line = next().line;
                ExprP a, b;
                if (!isOp(":")) a = parseExpr();
                if (isOp(":")) {
                    next();
                    if (!isOp("]") && !isOp(":")) b = parseExpr();
                    if (isOp(":")) fail(peek().line, "unsupported: a slice step ('[a:b:c]')");
                    expectOp("]", "closing the slice");
                    auto x = make(ExprKind::Slice, line);
                    x->args.push_back(std::move(e));
                    x->args.push_back(std::move(a));
                    x->args.push_back(std::move(b));
                    e = std::move(x);
                } else {
                    if (!a) fail(line, "empty subscript '[]'");
                    expectOp("]", "closing the subscript");
                    auto x = make(ExprKind::Index, line);
                    x->args.push_back(std::move(e));
                    x->args.push_back(std::move(a));
                    e = std::move(x);
                }
            } else if (isOp("(")) {
                fail(peek().line, "unsupported: calling a value");
            } else {
                return e;
            }
        }
    }

    ExprP parseFilters(ExprP e) {
        for (;;) {
            if (isOp("|")) {
                const int line = next().line;
                const std::string f = expectName("after '|'");
                if (!contains(knownFilters(), f)) fail(line, "unsupported filter '" + shown(f) + "'");
                auto x = make(ExprKind::Filter, line);
                x->name = f;
                x->args.push_back(std::move(e));
                if (isOp("(")) {
                    for (auto& a : parseCallArgs("filter '" + f + "'")) x->args.push_back(std::move(a));
                }
                const std::size_t nargs = x->args.size() - 1;
                if ((f == "default" || f == "d") ? nargs > 2 : nargs > 0)
                    fail(line, "unsupported: arguments to filter '" + f + "'");
                e = std::move(x);
            } else if (isName("is")) {
                const int line = next().line;
                bool negated = false;
                if (isName("not")) {
                    next();
                    negated = true;
                }
                const std::string t = expectName("after 'is'");
                if (!contains(knownTests(), t)) fail(line, "unsupported test 'is " + shown(t) + "'");
                if (isOp("(") || peek().kind == TokKind::String || peek().kind == TokKind::Int)
                    fail(line, "unsupported: arguments to test '" + t + "'");
                auto x = make(ExprKind::Test, line);
                x->name = t;
                x->negated = negated;
                x->args.push_back(std::move(e));
                e = std::move(x);
            } else {
                return e;
            }
        }
    }
};

// ---------------------------------------------------------------------------------------
// Values and rendering

// A value: null pointer = undefined. Sub-values share their root (aliasing shared_ptr), so
// indexing `messages` copies nothing.
struct Value {
    std::shared_ptr<const Json> p;
    bool undefined() const { return !p; }
    const Json& j() const { return *p; }
};

Value make(Json j) { return Value{std::make_shared<const Json>(std::move(j))}; }
Value sub(const Value& parent, const Json& child) { return Value{std::shared_ptr<const Json>(parent.p, &child)}; }

std::string typeName(const Value& v) {
    if (v.undefined()) return "undefined";
    switch (v.j().type()) {
        case Json::value_t::null: return "none";
        case Json::value_t::boolean: return "boolean";
        case Json::value_t::string: return "string";
        case Json::value_t::array: return "list";
        case Json::value_t::object: return "dict";
        case Json::value_t::number_float: return "float";
        default: return "integer";
    }
}

bool truthy(const Value& v) {
    if (v.undefined()) return false;
    const Json& j = v.j();
    switch (j.type()) {
        case Json::value_t::null: return false;
        case Json::value_t::boolean: return j.get<bool>();
        case Json::value_t::string: return !j.get_ref<const std::string&>().empty();
        case Json::value_t::array:
        case Json::value_t::object: return !j.empty();
        case Json::value_t::number_float: return j.get<double>() != 0.0;
        default: return j.get<std::int64_t>() != 0;
    }
}

std::string floatText(double d) {
    Json j = d;
    std::string s = j.dump();
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}

std::string pyRepr(const Json& j);
std::string pyStr(const Json& j) {
    switch (j.type()) {
        case Json::value_t::null: return "None";
        case Json::value_t::boolean: return j.get<bool>() ? "True" : "False";
        case Json::value_t::string: return j.get<std::string>();
        case Json::value_t::number_float: return floatText(j.get<double>());
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned: return std::to_string(j.get<std::int64_t>());
        default: return pyRepr(j);
    }
}
std::string pyRepr(const Json& j) {
    if (j.is_string()) {
        std::string out = "'";
        for (char c : j.get_ref<const std::string&>()) {
            if (c == '\'' || c == '\\') out += '\\';
            if (c == '\n') out += "\\n";
            else out += c;
        }
        return out + "'";
    }
    if (j.is_array()) {
        std::string out = "[";
        for (std::size_t i = 0; i < j.size(); ++i) out += (i ? ", " : "") + pyRepr(j[i]);
        return out + "]";
    }
    if (j.is_object()) {
        std::string out = "{";
        bool first = true;
        for (auto it = j.begin(); it != j.end(); ++it) {
            out += (first ? "" : ", ") + pyRepr(Json(it.key())) + ": " + pyRepr(it.value());
            first = false;
        }
        return out + "}";
    }
    return pyStr(j);
}

// Python's json.dumps(x, ensure_ascii=False), as transformers' tojson.
void pyJson(const Json& j, std::string& out) {
    switch (j.type()) {
        case Json::value_t::null: out += "null"; return;
        case Json::value_t::boolean: out += j.get<bool>() ? "true" : "false"; return;
        case Json::value_t::number_float: out += floatText(j.get<double>()); return;
        case Json::value_t::string: {
            out += '"';
            for (char c : j.get_ref<const std::string&>()) {
                switch (c) {
                    case '"': out += "\\\""; break;
                    case '\\': out += "\\\\"; break;
                    case '\n': out += "\\n"; break;
                    case '\r': out += "\\r"; break;
                    case '\t': out += "\\t"; break;
                    case '\b': out += "\\b"; break;
                    case '\f': out += "\\f"; break;
                    default:
                        if (static_cast<unsigned char>(c) < 0x20) {
                            char buf[8];
                            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                            out += buf;
                        } else {
                            out += c;
                        }
                }
            }
            out += '"';
            return;
        }
        case Json::value_t::array: {
            out += '[';
            for (std::size_t i = 0; i < j.size(); ++i) {
                if (i) out += ", ";
                pyJson(j[i], out);
            }
            out += ']';
            return;
        }
        case Json::value_t::object: {
            out += '{';
            bool first = true;
            for (auto it = j.begin(); it != j.end(); ++it) {
                if (!first) out += ", ";
                first = false;
                pyJson(Json(it.key()), out);
                out += ": ";
                pyJson(it.value(), out);
            }
            out += '}';
            return;
        }
        default: out += std::to_string(j.get<std::int64_t>()); return;
    }
}

// UTF-8 code point starts of s (so length and slices count characters, as Python does).
std::vector<std::size_t> charStarts(const std::string& s) {
    std::vector<std::size_t> v;
    for (std::size_t i = 0; i < s.size(); ++i)
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) v.push_back(i);
    return v;
}

bool isNumber(const Json& j) { return j.is_number(); }

class Renderer {
public:
    Renderer(const TemplateLimits& limits) : limits_(limits) {}

    std::string run(const Body& body, std::map<std::string, Value> globals) {
        scopes_.push_back(std::move(globals));
        exec(body);
        return std::move(out_);
    }

private:
    const TemplateLimits& limits_;
    std::vector<std::map<std::string, Value>> scopes_;
    std::string out_;
    std::size_t iterations_ = 0;

    [[noreturn]] static void error(int line, const std::string& what) {
        throw TemplateError("line " + std::to_string(line) + ": " + what);
    }

    std::size_t built_ = 0, steps_ = 0;

    // A string (or the output) of n bytes is about to be built.
    void checkSize(std::size_t n, int line) {
        if (n > limits_.maxOutputBytes)
            error(line, "a string or the rendered text would exceed " + std::to_string(limits_.maxOutputBytes) + " bytes");
        charge(n, line);
    }
    void charge(std::size_t n, int line) {
        built_ += n;
        if (built_ > limits_.maxWorkBytes)
            error(line, "more than " + std::to_string(limits_.maxWorkBytes) + " bytes built in one render");
    }
    // Bytes a copy of j costs, roughly (its strings and one word per value).
    static std::size_t approxBytes(const Json& j) {
        if (j.is_string()) return j.get_ref<const std::string&>().size() + 8;
        std::size_t n = 8;
        if (j.is_array())
            for (const auto& x : j) n += approxBytes(x);
        else if (j.is_object())
            for (auto it = j.begin(); it != j.end(); ++it) n += it.key().size() + approxBytes(it.value());
        return n;
    }
    void emit(const std::string& s, int line) {
        if (out_.size() + s.size() > limits_.maxOutputBytes)
            error(line, "the rendered text would exceed " + std::to_string(limits_.maxOutputBytes) + " bytes");
        charge(s.size(), line);
        out_ += s;
    }

    void exec(const Body& body) {
        for (const auto& n : body) {
            switch (n->kind) {
                case NodeKind::Text: emit(n->text, n->line); break;
                case NodeKind::Output: {
                    const Value v = eval(*n->expr);
                    if (!v.undefined()) emit(pyStr(v.j()), n->line);
                    break;
                }
                case NodeKind::Set: scopes_.back()[n->var] = eval(*n->expr); break;
                case NodeKind::If:
                    for (const auto& [cond, b] : n->branches)
                        if (!cond || truthy(eval(*cond))) {
                            exec(b);
                            break;
                        }
                    break;
                case NodeKind::For: loop(*n); break;
            }
        }
    }

    void loop(const Node& n) {
        const Value seq = eval(*n.expr);
        std::vector<Value> items;
        if (seq.undefined()) {
            // Jinja iterates an undefined value as empty.
        } else if (seq.j().is_array()) {
            for (const auto& x : seq.j()) items.push_back(sub(seq, x));
        } else if (seq.j().is_object()) {
            for (auto it = seq.j().begin(); it != seq.j().end(); ++it) items.push_back(make(Json(it.key())));
        } else if (seq.j().is_string()) {
            const std::string& s = seq.j().get_ref<const std::string&>();
            const auto starts = charStarts(s);
            for (std::size_t i = 0; i < starts.size(); ++i)
                items.push_back(make(Json(s.substr(starts[i], (i + 1 < starts.size() ? starts[i + 1] : s.size()) - starts[i]))));
        } else {
            error(n.line, "cannot loop over a value of type " + typeName(seq));
        }
        const std::size_t len = items.size();
        for (std::size_t i = 0; i < len; ++i) {
            if (++iterations_ > limits_.maxLoopIterations)
                error(n.line, "more than " + std::to_string(limits_.maxLoopIterations) + " loop iterations");
            std::map<std::string, Value> scope;
            scope[n.var] = items[i];
            Json lp = Json::object();
            lp["index"] = static_cast<std::int64_t>(i + 1);
            lp["index0"] = static_cast<std::int64_t>(i);
            lp["first"] = i == 0;
            lp["last"] = i + 1 == len;
            lp["length"] = static_cast<std::int64_t>(len);
            lp["revindex"] = static_cast<std::int64_t>(len - i);
            lp["revindex0"] = static_cast<std::int64_t>(len - i - 1);
            scope["loop"] = make(std::move(lp));
            scopes_.push_back(std::move(scope));
            try {
                exec(n.body);
            } catch (...) {
                scopes_.pop_back();
                throw;
            }
            scopes_.pop_back();
        }
    }

    Value lookup(const std::string& name) const {
        for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
            auto f = it->find(name);
            if (f != it->end()) return f->second;
        }
        return {};
    }

    Value str(std::string s, int line) {
        checkSize(s.size(), line);
        return make(Json(std::move(s)));
    }

    Value index(const Value& v, const Value& key, int line) {
        if (v.undefined()) error(line, "subscript of an undefined value");
        const Json& j = v.j();
        if (key.undefined()) return {};
        const Json& k = key.j();
        if (j.is_object()) {
            if (!k.is_string()) return {};
            auto it = j.find(k.get_ref<const std::string&>());
            return it == j.end() ? Value{} : sub(v, *it);
        }
        if ((j.is_array() || j.is_string()) && k.is_number_integer()) {
            std::int64_t i = k.get<std::int64_t>();
            if (j.is_array()) {
                const auto n = static_cast<std::int64_t>(j.size());
                if (i < 0) i += n;
                if (i < 0 || i >= n) return {};
                return sub(v, j[static_cast<std::size_t>(i)]);
            }
            const std::string& s = j.get_ref<const std::string&>();
            const auto starts = charStarts(s);
            const auto n = static_cast<std::int64_t>(starts.size());
            if (i < 0) i += n;
            if (i < 0 || i >= n) return {};
            const std::size_t a = starts[static_cast<std::size_t>(i)];
            const std::size_t b = i + 1 < n ? starts[static_cast<std::size_t>(i + 1)] : s.size();
            return make(Json(s.substr(a, b - a)));
        }
        return {};
    }

    Value slice(const Value& v, const Expr* a, const Expr* b, int line) {
        if (v.undefined()) error(line, "slice of an undefined value");
        const Json& j = v.j();
        std::vector<std::size_t> starts;
        std::int64_t n;
        if (j.is_array()) n = static_cast<std::int64_t>(j.size());
        else if (j.is_string()) {
            starts = charStarts(j.get_ref<const std::string&>());
            n = static_cast<std::int64_t>(starts.size());
        } else
            error(line, "cannot slice a value of type " + typeName(v));
        auto bound = [&](const Expr* e, std::int64_t dflt) {
            if (!e) return dflt;
            const Value x = eval(*e);
            if (x.undefined() || x.j().is_null()) return dflt;
            if (!x.j().is_number_integer()) error(line, "slice bounds must be integers");
            std::int64_t i = x.j().get<std::int64_t>();
            if (i < 0) i += n;
            return std::clamp<std::int64_t>(i, 0, n);
        };
        const std::int64_t from = bound(a, 0), to = std::max(from, bound(b, n));
        if (j.is_array()) {
            Json out = Json::array();
            for (std::int64_t i = from; i < to; ++i) {
                charge(approxBytes(j[static_cast<std::size_t>(i)]), line);
                out.push_back(j[static_cast<std::size_t>(i)]);
            }
            return make(std::move(out));
        }
        const std::string& s = j.get_ref<const std::string&>();
        const std::size_t pa = from < n ? starts[static_cast<std::size_t>(from)] : s.size();
        const std::size_t pb = to < n ? starts[static_cast<std::size_t>(to)] : s.size();
        return make(Json(s.substr(pa, pb - pa)));
    }

    static bool equal(const Value& a, const Value& b) {
        if (a.undefined() || b.undefined()) return a.undefined() && b.undefined();
        return a.j() == b.j();
    }

    Value binary(const std::string& op, const Value& a, const Value& b, int line) {
        if (op == "==") return make(equal(a, b));
        if (op == "!=") return make(!equal(a, b));
        if (op == "~") {
            std::string s = a.undefined() ? "" : pyStr(a.j());
            const std::string t = b.undefined() ? "" : pyStr(b.j());
            checkSize(s.size() + t.size(), line);
            return make(Json(s + t));
        }
        if (op == "in" || op == "not in") {
            bool r = false;
            if (b.undefined()) error(line, "'in' an undefined value");
            const Json& h = b.j();
            if (h.is_string()) {
                if (a.undefined() || !a.j().is_string()) error(line, "'in <string>' needs a string on the left, got " + typeName(a));
                r = h.get_ref<const std::string&>().find(a.j().get_ref<const std::string&>()) != std::string::npos;
            } else if (h.is_array()) {
                for (const auto& x : h)
                    if (!a.undefined() && x == a.j()) r = true;
            } else if (h.is_object()) {
                r = !a.undefined() && a.j().is_string() && h.contains(a.j().get_ref<const std::string&>());
            } else {
                error(line, "'in' a value of type " + typeName(b));
            }
            return make(op == "in" ? r : !r);
        }
        if (a.undefined() || b.undefined())
            error(line, "'" + op + "' with an undefined value");
        const Json &x = a.j(), &y = b.j();
        if (op == "<" || op == ">" || op == "<=" || op == ">=") {
            int c;
            if (isNumber(x) && isNumber(y)) {
                const double p = x.get<double>(), q = y.get<double>();
                c = p < q ? -1 : p > q ? 1 : 0;
            } else if (x.is_string() && y.is_string()) {
                c = x.get_ref<const std::string&>().compare(y.get_ref<const std::string&>());
            } else {
                error(line, "cannot compare " + typeName(a) + " and " + typeName(b) + " with '" + op + "'");
            }
            const bool r = op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0;
            return make(r);
        }
        if (op == "+") {
            if (x.is_string() && y.is_string()) {
                checkSize(x.get_ref<const std::string&>().size() + y.get_ref<const std::string&>().size(), line);
                return make(Json(x.get<std::string>() + y.get<std::string>()));
            }
            if (x.is_array() && y.is_array()) {
                charge(approxBytes(x) + approxBytes(y), line);
                Json out = x;
                for (const auto& e : y) out.push_back(e);
                return make(std::move(out));
            }
        }
        if (!isNumber(x) || !isNumber(y))
            error(line, "unsupported operand types for '" + op + "': " + typeName(a) + " and " + typeName(b));
        const bool ints = x.is_number_integer() && y.is_number_integer();
        if (op == "/") {
            if (y.get<double>() == 0) error(line, "division by zero");
            return make(Json(x.get<double>() / y.get<double>()));
        }
        if (ints) {
            const std::int64_t p = x.get<std::int64_t>(), q = y.get<std::int64_t>();
            const auto guard = [&](bool ok) {
                if (!ok) error(line, "integer overflow in '" + op + "'");
            };
            if (op == "+") {
                guard(!((q > 0 && p > INT64_MAX - q) || (q < 0 && p < INT64_MIN - q)));
                return make(Json(p + q));
            }
            if (op == "-") {
                guard(!((q < 0 && p > INT64_MAX + q) || (q > 0 && p < INT64_MIN + q)));
                return make(Json(p - q));
            }
            if (op == "*") {
                std::int64_t r;
                guard(!__builtin_mul_overflow(p, q, &r));
                return make(Json(r));
            }
            if (q == 0) error(line, op == "%" ? "modulo by zero" : "division by zero");
            guard(!(p == INT64_MIN && q == -1));
            std::int64_t d = p / q, m = p % q;
            if (m != 0 && ((m < 0) != (q < 0))) {  // Python floors
                --d;
                m += q;
            }
            return make(Json(op == "%" ? m : d));
        }
        const double p = x.get<double>(), q = y.get<double>();
        if (op == "+") return make(Json(p + q));
        if (op == "-") return make(Json(p - q));
        if (op == "*") return make(Json(p * q));
        if (q == 0) error(line, op == "%" ? "modulo by zero" : "division by zero");
        if (op == "//") return make(Json(std::floor(p / q)));
        return make(Json(p - q * std::floor(p / q)));
    }

    Value filter(const Expr& e) {
        const Value v = eval(*e.args[0]);
        const std::string& f = e.name;
        if (f == "default" || f == "d") {
            const bool boolean = e.args.size() > 2 && truthy(eval(*e.args[2]));
            if (v.undefined() || (boolean && !truthy(v))) return e.args.size() > 1 ? eval(*e.args[1]) : make(Json(""));
            return v;
        }
        if (f == "string") return v.undefined() ? make(Json("")) : str(pyStr(v.j()), e.line);
        if (f == "tojson") {
            if (v.undefined()) error(e.line, "tojson of an undefined value");
            std::string out;
            pyJson(v.j(), out);
            return str(std::move(out), e.line);
        }
        if (v.undefined()) {
            if (f == "length" || f == "count") return make(Json(0));
            if (f == "first" || f == "last") return {};
            return make(Json(""));
        }
        const Json& j = v.j();
        if (f == "length" || f == "count") {
            if (j.is_string()) return make(Json(static_cast<std::int64_t>(charStarts(j.get_ref<const std::string&>()).size())));
            if (j.is_array() || j.is_object()) return make(Json(static_cast<std::int64_t>(j.size())));
            error(e.line, "length of a value of type " + typeName(v));
        }
        if (f == "first" || f == "last") {
            if (j.is_array()) return j.empty() ? Value{} : sub(v, f == "first" ? j.front() : j.back());
            if (j.is_string()) return index(v, make(Json(f == "first" ? 0 : -1)), e.line);
            error(e.line, "'" + f + "' of a value of type " + typeName(v));
        }
        std::string s = pyStr(j);
        if (f == "trim") {
            const char* ws = " \t\n\r\f\v";
            const std::size_t a = s.find_first_not_of(ws);
            if (a == std::string::npos) return make(Json(""));
            return make(Json(s.substr(a, s.find_last_not_of(ws) - a + 1)));
        }
        if (f == "upper")
            for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        else if (f == "lower")
            for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        else if (f == "capitalize")
            for (std::size_t i = 0; i < s.size(); ++i)
                s[i] = static_cast<char>(i ? std::tolower(static_cast<unsigned char>(s[i]))
                                           : std::toupper(static_cast<unsigned char>(s[i])));
        return str(std::move(s), e.line);
    }

    bool test(const Expr& e) {
        const Value v = eval(*e.args[0]);
        const std::string& t = e.name;
        if (t == "defined") return !v.undefined();
        if (t == "undefined") return v.undefined();
        if (v.undefined()) return false;
        const Json& j = v.j();
        if (t == "none") return j.is_null();
        if (t == "string") return j.is_string();
        if (t == "number") return j.is_number();
        if (t == "integer") return j.is_number_integer();
        if (t == "boolean") return j.is_boolean();
        if (t == "true") return j.is_boolean() && j.get<bool>();
        if (t == "false") return j.is_boolean() && !j.get<bool>();
        if (t == "mapping") return j.is_object();
        if (t == "sequence") return j.is_array() || j.is_string() || j.is_object();
        return j.is_array() || j.is_string() || j.is_object();  // iterable
    }

    // A value put into a list or dict: its copy is charged, and values nested deeper than
    // maxDepth are refused (printing and copying them recurses).
    const Json& copied(const Json& j, int line) {
        charge(approxBytes(j), line);
        if (nestedDeeper(j, limits_.maxDepth - 1))
            error(line, "a list or dict nested deeper than " + std::to_string(limits_.maxDepth) + " levels");
        return j;
    }
    static bool nestedDeeper(const Json& j, int room) {
        if (!j.is_array() && !j.is_object()) return false;
        if (room <= 0) return true;
        for (const auto& x : j)
            if (nestedDeeper(x, room - 1)) return true;
        return false;
    }

    Value eval(const Expr& e) {
        if (++steps_ > limits_.maxSteps)
            error(e.line, "more than " + std::to_string(limits_.maxSteps) + " expressions evaluated in one render");
        switch (e.kind) {
            case ExprKind::Literal: return make(e.literal);
            case ExprKind::Var: return lookup(e.name);
            case ExprKind::Attr: {
                const Value v = eval(*e.args[0]);
                if (v.undefined()) error(e.line, "attribute '" + e.name + "' of an undefined value");
                if (v.j().is_object()) {
                    auto it = v.j().find(e.name);
                    return it == v.j().end() ? Value{} : sub(v, *it);
                }
                return {};
            }
            case ExprKind::Index: {
                const Value v = eval(*e.args[0]);
                return index(v, eval(*e.args[1]), e.line);
            }
            case ExprKind::Slice: return slice(eval(*e.args[0]), e.args[1].get(), e.args[2].get(), e.line);
            case ExprKind::Unary: {
                const Value v = eval(*e.args[0]);
                if (v.undefined() || !v.j().is_number()) error(e.line, "unary '" + e.name + "' of a " + typeName(v));
                if (e.name == "+") return v;
                if (v.j().is_number_float()) return make(Json(-v.j().get<double>()));
                const std::int64_t i = v.j().get<std::int64_t>();
                if (i == INT64_MIN) error(e.line, "integer overflow in '-'");
                return make(Json(-i));
            }
            case ExprKind::Binary: return binary(e.name, eval(*e.args[0]), eval(*e.args[1]), e.line);
            case ExprKind::And: {
                const Value a = eval(*e.args[0]);
                return truthy(a) ? eval(*e.args[1]) : a;
            }
            case ExprKind::Or: {
                const Value a = eval(*e.args[0]);
                return truthy(a) ? a : eval(*e.args[1]);
            }
            case ExprKind::Not: return make(Json(!truthy(eval(*e.args[0]))));
            case ExprKind::Filter: return filter(e);
            case ExprKind::Test: return make(Json(test(e) != e.negated));
            case ExprKind::Raise: {
                const Value m = eval(*e.args[0]);
                throw TemplateError(m.undefined() ? std::string("raise_exception") : pyStr(m.j()), true);
            }
            case ExprKind::List: {
                Json out = Json::array();
                for (const auto& a : e.args) {
                    const Value v = eval(*a);
                    out.push_back(v.undefined() ? Json() : copied(v.j(), e.line));
                }
                return make(std::move(out));
            }
            case ExprKind::Dict: {
                Json out = Json::object();
                for (std::size_t i = 0; i + 1 < e.args.size(); i += 2) {
                    const Value k = eval(*e.args[i]);
                    if (k.undefined() || !k.j().is_string()) error(e.line, "dict keys must be strings here");
                    const Value v = eval(*e.args[i + 1]);
                    out[k.j().get<std::string>()] = v.undefined() ? Json() : copied(v.j(), e.line);
                }
                return make(std::move(out));
            }
            case ExprKind::Cond:
                if (truthy(eval(*e.args[0]))) return eval(*e.args[1]);
                return e.args[2] ? eval(*e.args[2]) : Value{};
        }
        return {};
    }
};

}  // namespace

struct ChatTemplate::Impl {
    Body body;
    TemplateLimits limits;
};

ChatTemplate::ChatTemplate(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChatTemplate::~ChatTemplate() = default;

std::shared_ptr<const ChatTemplate> ChatTemplate::compile(const std::string& source, const TemplateLimits& limits) {
    if (source.size() > limits.maxTemplateBytes)
        throw TemplateError("the template is " + std::to_string(source.size()) + " bytes, more than the " +
                            std::to_string(limits.maxTemplateBytes) + " accepted");
    std::string src = source;
    if (!src.empty() && src.back() == '\n') {  // Jinja drops one trailing newline
        src.pop_back();
        if (!src.empty() && src.back() == '\r') src.pop_back();
    }
    auto impl = std::make_unique<Impl>();
    impl->limits = limits;
    Parser parser(Lexer(src).run(), limits.maxDepth);
    impl->body = parser.parseTemplate();
    return std::shared_ptr<const ChatTemplate>(new ChatTemplate(std::move(impl)));
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool addGenerationPrompt,
                                 const std::optional<std::string>& bosToken,
                                 const std::optional<std::string>& eosToken) const {
    Json msgs = Json::array();
    for (const auto& m : messages) msgs.push_back(Json{{"role", m.role}, {"content", m.content}});
    std::map<std::string, Value> globals;
    globals["messages"] = make(std::move(msgs));
    globals["add_generation_prompt"] = make(Json(addGenerationPrompt));
    if (bosToken) globals["bos_token"] = make(Json(*bosToken));
    if (eosToken) globals["eos_token"] = make(Json(*eosToken));
    Renderer r(impl_->limits);
    return r.run(impl_->body, std::move(globals));
}

ModelChatFormat loadModelChatFormat(const std::string& modelDir, const TemplateLimits& limits) {
    namespace fs = std::filesystem;
    ModelChatFormat f;
    const fs::path path = fs::path(modelDir) / "tokenizer_config.json";
    std::error_code ec;
    if (!fs::exists(path, ec)) return f;
    const std::string where = path.string();
    std::ifstream in(path, std::ios::binary);
    const Json j = Json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        f.note = where + ": not a JSON object, so no chat_template is read";
        return f;
    }
    auto token = [&](const char* key) -> std::optional<std::string> {
        auto it = j.find(key);
        if (it == j.end()) return std::nullopt;
        if (it->is_string()) return it->get<std::string>();
        if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
            return (*it)["content"].get<std::string>();
        return std::nullopt;
    };
    f.bosToken = token("bos_token");
    f.eosToken = token("eos_token");
    auto it = j.find("chat_template");
    if (it == j.end() || it->is_null()) return f;
    std::string source;
    if (it->is_string()) {
        source = it->get<std::string>();
    } else if (it->is_array()) {
        bool found = false;
        for (const auto& t : *it)
            if (t.is_object() && t.value("name", Json()) == "default" && t.contains("template") && t["template"].is_string()) {
                source = t["template"].get<std::string>();
                found = true;
                break;
            }
        if (!found) {
            f.note = where + ": chat_template: a list without a template named \"default\"";
            return f;
        }
    } else {
        f.note = where + ": chat_template: neither a string nor a list of {name, template}";
        return f;
    }
    try {
        f.tmpl = ChatTemplate::compile(source, limits);
    } catch (const TemplateError& e) {
        f.note = where + ": chat_template: " + e.what();
    }
    return f;
}

}  // namespace qcw::serve
