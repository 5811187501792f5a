// The chat_template renderer without sockets: templates in the styles models ship (ChatML,
// a system prompt folded into the first user turn with loop.first and raise_exception,
// {%- -%} whitespace control, trim_blocks/lstrip_blocks as transformers renders, bos/eos
// tokens) each against its exact text (the expected strings agree with Python's jinja2 3.1
// under transformers' settings); every construct outside the subset and every bound refused
// with its one-line error; malformed templates refused, never a crash; tokenizer_config.json
// read in its string, list and token-object forms.
#include "serve/chat_template.h"

#include <QtTest>

#include <QTemporaryDir>

#include <fstream>

using namespace qcw::serve;

namespace {

const std::vector<ChatMessage> kChat = {
    {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Ports?"}};

std::string render(const std::string& tmpl, const std::vector<ChatMessage>& msgs = kChat, bool gen = true,
                   const TemplateLimits& limits = {}) {
    return ChatTemplate::compile(tmpl, limits)->render(msgs, gen, std::string("<s>"), std::string("</s>"));
}

// The error compiling (or, when it compiles, rendering) gives; "" when neither fails.
std::string errorOf(const std::string& tmpl, const TemplateLimits& limits = {}, bool* raised = nullptr,
                    const std::vector<ChatMessage>& msgs = kChat) {
    try {
        render(tmpl, msgs, true, limits);
    } catch (const TemplateError& e) {
        if (raised) *raised = e.raised();
        return e.what();
    }
    return {};
}

bool oneLine(const std::string& s) { return !s.empty() && s.find('\n') == std::string::npos && s.size() < 300; }

void writeFile(const QString& path, const std::string& text) {
    std::ofstream(path.toStdString(), std::ios::binary) << text;
}

}  // namespace

class TestChatTemplate : public QObject {
    Q_OBJECT
private slots:
    void chatml() {
        const std::string t =
            "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
            "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
        QCOMPARE(render(t), std::string("<|im_start|>system\nBe brief.<|im_end|>\n"
                                        "<|im_start|>user\nHi<|im_end|>\n"
                                        "<|im_start|>assistant\nHello.<|im_end|>\n"
                                        "<|im_start|>user\nPorts?<|im_end|>\n"
                                        "<|im_start|>assistant\n"));
        QCOMPARE(render(t, {{"user", "Hi"}}, false), std::string("<|im_start|>user\nHi<|im_end|>\n"));
    }

    // Llama-2 style: the system prompt folded into the first user turn, roles must alternate.
    void systemFolding() {
        const std::string t = R"({{ bos_token }}
{% if messages[0]['role'] == 'system' %}
    {% set loop_messages = messages[1:] %}
    {% set system_message = messages[0]['content'] %}
{% else %}
    {% set loop_messages = messages %}
    {% set system_message = none %}
{% endif %}
{% for message in loop_messages %}
    {% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {% endif %}
    {% if loop.first and system_message is not none %}
        {% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}
    {% else %}
        {% set content = message['content'] %}
    {% endif %}
    {% if message['role'] == 'user' %}
        {{ '[INST] ' + content | trim + ' [/INST]' }}
    {% elif message['role'] == 'assistant' %}
        {{ ' ' + content | trim + ' ' + eos_token }}
    {% endif %}
{% endfor %}
)";
        QCOMPARE(render(t), std::string("<s>\n        [INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]\n"
                                        "         Hello. </s>\n        [INST] Ports? [/INST]\n"));
        bool raised = false;
        const std::string e = errorOf(t, {}, &raised, {{"user", "Hi"}, {"user", "again"}});
        QCOMPARE(e, std::string("Conversation roles must alternate user/assistant/user/assistant/..."));
        QVERIFY(raised);
    }

    void whitespaceControl() {
        const std::string t = R"(
{%- for message in messages -%}
    {%- if message.role == 'system' -%}
        {{- 'System: ' + message.content | trim + '\n' -}}
    {%- elif message.role == 'user' -%}
        {{- 'User: ' ~ message.content ~ '\n' -}}
    {%- else -%}
        {{- 'Assistant: ' ~ message.content ~ eos_token ~ '\n' -}}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- 'Assistant:' -}}
{%- endif -%}
)";
        QCOMPARE(render(t), std::string("System: Be brief.\nUser: Hi\nAssistant: Hello.</s>\nUser: Ports?\nAssistant:"));
        // Without dashes: the newline after a block tag goes, and the indentation before one.
        const std::string u = "{# comment #}\n{% for m in messages %}\n  {% if m.role == 'user' %}\n"
                              "<u>{{ m.content }}</u>\n  {% endif %}\n{% endfor %}\n";
        QCOMPARE(render(u), std::string("<u>Hi</u>\n<u>Ports?</u>\n"));
        QCOMPARE(render("a  {%+ if true %}b{% endif %}"), std::string("a  b"));
    }

    void tokensAndExpressions() {
        QCOMPARE(render("{{ bos_token }}{{ messages[-1].content }}{{ eos_token }}"), std::string("<s>Ports?</s>"));
        // Tokens absent from tokenizer_config.json are undefined.
        QCOMPARE(ChatTemplate::compile("[{{ bos_token }}]{{ bos_token is defined }}")->render(kChat, true, {}, {}),
                 std::string("[]False"));
        QCOMPARE(render("{% for m in messages %}{{ loop.index }}/{{ loop.length }}{{ ',' if not loop.last }}{% endfor %}"),
                 std::string("1/4,2/4,3/4,4/4"));
        QCOMPARE(render("{{ messages[0] | tojson }}"), std::string(R"({"role": "system", "content": "Be brief."})"));
        QCOMPARE(render("{{ 'a\"\\n' | tojson }} {{ [1, 2.5, none, true] | tojson }} {{ [1, 'a', none] }}"),
                 std::string("\"a\\\"\\n\" [1, 2.5, null, true] [1, 'a', None]"));
        QCOMPARE(render("{{ messages | length }} {{ 'Hé' | length }} {{ ' x ' | trim | upper }}{{ 'AB' | lower }}"),
                 std::string("4 2 Xab"));
        QCOMPARE(render("{{ 7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 * 3 - 1 }} {{ 1 < 2 and 'b' >= 'a' }}"),
                 std::string("3 2 3.5 5 True"));
        QCOMPARE(render("{{ 'ell' in 'hello' }} {{ 3 not in [1, 2] }} {{ 'role' in messages[0] }} {{ x is defined }}"
                        "{{ none is none }}{{ 'a' is string }}{{ 1 is string }}"),
                 std::string("True True True FalseTrueTrueFalse"));
        QCOMPARE(render("{{ messages[1:3] | length }}{{ 'hello'[1:3] }}{{ 'hello'[-1] }}{{ undefined_thing }}|{{ none }}"),
                 std::string("2elo|None"));
        QCOMPARE(render("{% set x = 1 %}{% for m in messages %}{% set x = 2 %}{% endfor %}{{ x }}"),
                 std::string("1"));  // Jinja scoping: a set inside a loop stays there
        QCOMPARE(render("{% if false %}a{% elif messages %}b{% else %}c{% endif %}"), std::string("b"));
        QCOMPARE(render("{{ m | default('d') }}{{ 'x' ~ 1 ~ none }}"), std::string("dx1None"));
    }

    void unsupportedConstructs_data() {
        QTest::addColumn<QString>("tmpl");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("macro") << "{% macro f() %}x{% endmacro %}" << "unsupported tag '{% macro %}'";
        QTest::newRow("include") << "{% include 'x' %}" << "unsupported tag '{% include %}'";
        QTest::newRow("raw") << "{% raw %}x{% endraw %}" << "unsupported tag '{% raw %}'";
        QTest::newRow("unknown tag") << "{% frobnicate %}" << "unknown tag '{% frobnicate %}'";
        QTest::newRow("filter") << "{{ messages | join(', ') }}" << "unsupported filter 'join'";
        QTest::newRow("test") << "{% if x is divisibleby(3) %}{% endif %}" << "unsupported test 'is divisibleby'";
        QTest::newRow("function") << "{{ range(3) }}" << "unsupported function 'range()'";
        QTest::newRow("method") << "{{ messages[0].content.strip() }}" << "unsupported method call '.strip()'";
        QTest::newRow("namespace set") << "{% set ns.x = 1 %}" << "unsupported: assigning an attribute";
        QTest::newRow("block set") << "{% set x %}a{% endset %}" << "unsupported: block assignment";
        QTest::newRow("loop filter") << "{% for m in messages if m %}{% endfor %}" << "unsupported: a loop filter";
        QTest::newRow("unpacking") << "{% for a, b in messages %}{% endfor %}" << "unsupported: unpacking";
        QTest::newRow("for else") << "{% for m in messages %}{% else %}{% endfor %}" << "unsupported: 'for ... else'";
        QTest::newRow("power") << "{{ 2 ** 3 }}" << "unsupported operator '**'";
        QTest::newRow("kwargs") << "{{ x | tojson(indent=2) }}" << "unsupported: keyword argument 'indent='";
        QTest::newRow("filter args") << "{{ x | trim('a') }}" << "unsupported: arguments to filter 'trim'";
        QTest::newRow("slice step") << "{{ messages[::2] }}" << "unsupported: a slice step";
    }
    void unsupportedConstructs() {
        QFETCH(QString, tmpl);
        QFETCH(QString, mentions);
        const std::string e = errorOf(tmpl.toStdString());
        QVERIFY2(oneLine(e), e.c_str());
        QVERIFY2(e.rfind("line 1: ", 0) == 0, e.c_str());
        QVERIFY2(e.find(mentions.toStdString()) != std::string::npos, e.c_str());
    }

    void malformed_data() {
        QTest::addColumn<QString>("tmpl");
        QTest::addColumn<QString>("mentions");
        QTest::newRow("unclosed expr") << "a {{ x " << "unclosed '{{'";
        QTest::newRow("unclosed stmt") << "{% if x" << "unclosed '{%'";
        QTest::newRow("unclosed comment") << "{# x" << "unclosed comment";
        QTest::newRow("unclosed if") << "{% if x %}a" << "unclosed '{% if %}': no '{% endif %}'";
        QTest::newRow("unclosed for") << "x\n{% for m in messages %}a" << "line 2: unclosed '{% for %}'";
        QTest::newRow("stray endif") << "{% endif %}" << "'endif' without its opening tag";
        QTest::newRow("stray endfor") << "{% if x %}{% endfor %}" << "'endfor' without its opening tag";
        QTest::newRow("two elses") << "{% if x %}{% else %}{% else %}{% endif %}" << "a second 'else'";
        QTest::newRow("elif after else") << "{% if x %}{% else %}{% elif y %}{% endif %}" << "'elif' after 'else'";
        QTest::newRow("empty expr") << "{{ }}" << "empty '{{ }}'";
        QTest::newRow("dangling op") << "{{ a + }}" << "expected an expression";
        QTest::newRow("unbalanced paren") << "{{ (a }}" << "expected ')'";
        QTest::newRow("unbalanced bracket") << "{{ a[1 }}" << "expected ']'";
        QTest::newRow("string") << "{{ 'abc }}" << "unterminated string literal";
        QTest::newRow("junk char") << "{{ a ; b }}" << "unexpected character ';'";
        QTest::newRow("two exprs") << "{{ a b }}" << "unexpected 'b'";
        QTest::newRow("nested tag") << "{{ a {% if %}" << "'{%' inside an unclosed '{{' tag";
        QTest::newRow("for without in") << "{% for m of messages %}{% endfor %}" << "expected 'in'";
        QTest::newRow("set without =") << "{% set x 1 %}" << "expected '='";
        QTest::newRow("huge number") << "{{ 12345678901234567890123 }}" << "number too long";
        QTest::newRow("tag name") << "{% 'x' %}" << "expected a tag name";
    }
    void malformed() {
        QFETCH(QString, tmpl);
        QFETCH(QString, mentions);
        const std::string e = errorOf(tmpl.toStdString());
        QVERIFY2(oneLine(e), e.c_str());
        QVERIFY2(e.find(mentions.toStdString()) != std::string::npos, e.c_str());
    }

    // Errors while rendering: one line, naming the line, never a crash.
    void renderErrors() {
        for (const char* t : {"{{ x.y }}", "{{ 'a' + 1 }}", "{{ 1 // 0 }}", "{{ 1 % 0 }}", "{{ 1 / 0 }}",
                              "{% for c in 5 %}{% endfor %}", "{{ [1] < 'a' }}", "{{ 1 in 2 }}", "{{ -'a' }}",
                              "{{ 922337203685477580 * 100 }}", "{{ x | tojson }}"}) {
            bool raised = true;
            const std::string e = errorOf(t, {}, &raised);
            QVERIFY2(oneLine(e) && e.rfind("line 1: ", 0) == 0, (std::string(t) + " -> " + e).c_str());
            QVERIFY(!raised);
        }
        bool raised = false;
        QCOMPARE(errorOf("a\n{{ raise_exception('no\nsystem') }}", {}, &raised), std::string("no system"));
        QVERIFY(raised);
    }

    void bounds() {
        TemplateLimits l;
        l.maxTemplateBytes = 100;
        std::string e = errorOf(std::string(101, 'x'), l);
        QVERIFY2(oneLine(e) && e.find("101 bytes, more than the 100 accepted") != std::string::npos, e.c_str());

        l = {};
        l.maxDepth = 10;
        e = errorOf("{{ " + std::string(20, '(') + "1" + std::string(20, ')') + " }}", l);
        QVERIFY2(oneLine(e) && e.find("nested deeper than 10 levels") != std::string::npos, e.c_str());
        std::string nested;
        for (int i = 0; i < 20; ++i) nested += "{% if true %}";
        for (int i = 0; i < 20; ++i) nested += "{% endif %}";
        e = errorOf(nested, l);
        QVERIFY2(oneLine(e) && e.find("nested deeper than 10 levels") != std::string::npos, e.c_str());
        // The default depth bound holds the parser's recursion on a hostile template.
        e = errorOf("{{ " + std::string(100000, '(') + " }}");
        QVERIFY2(oneLine(e) && e.find("nested deeper than 64 levels") != std::string::npos, e.c_str());
        e = errorOf("{{ " + std::string(5000, '-') + "1 }}" + std::string(5000, '['));
        QVERIFY2(oneLine(e), e.c_str());

        std::string wrap = "{% set x = 1 %}";
        for (int i = 0; i < 80; ++i) wrap += "{% set x = [x] %}";
        e = errorOf(wrap + "{{ x }}");
        QVERIFY2(oneLine(e) && e.find("a list or dict nested deeper than 64 levels") != std::string::npos, e.c_str());

        l = {};
        l.maxLoopIterations = 50;
        const std::string loops = "{% for a in messages %}{% for b in messages %}{% for c in messages %}.{% endfor %}"
                                  "{% endfor %}{% endfor %}";  // 4 + 16 + 64 iterations
        e = errorOf(loops, l);
        QVERIFY2(oneLine(e) && e.find("more than 50 loop iterations") != std::string::npos, e.c_str());
        l.maxLoopIterations = 84;
        QCOMPARE(render(loops, kChat, true, l).size(), std::size_t(64));

        l = {};
        l.maxOutputBytes = 1000;
        e = errorOf("{% for a in messages %}{% for b in messages %}{{ '" + std::string(100, 'x') + "' }}{% endfor %}{% endfor %}", l);
        QVERIFY2(oneLine(e) && e.find("would exceed 1000 bytes") != std::string::npos, e.c_str());
        e = errorOf("{% set s = '" + std::string(600, 'x') + "' %}{% set t = s + s %}", l);  // a string built, not output
        QVERIFY2(oneLine(e) && e.find("would exceed 1000 bytes") != std::string::npos, e.c_str());

        l = {};
        l.maxWorkBytes = 10000;
        e = errorOf("{% for a in messages %}{% for b in messages %}{% set s = '" + std::string(900, 'x') +
                        "' ~ b.content %}{% endfor %}{% endfor %}",
                    l);
        QVERIFY2(oneLine(e) && e.find("more than 10000 bytes built in one render") != std::string::npos, e.c_str());

        l = {};
        l.maxSteps = 100;
        e = errorOf("{% for a in messages %}{% for b in messages %}{{ 1 + 1 + 1 + 1 + 1 + 1 + 1 }}{% endfor %}{% endfor %}", l);
        QVERIFY2(oneLine(e) && e.find("more than 100 expressions evaluated") != std::string::npos, e.c_str());
    }

    // Random edits of a real template: each either renders or is refused with one line.
    void mutatedTemplatesNeverCrash() {
        const std::string base =
            "{{ bos_token }}{% for m in messages %}{% if loop.first and m['role'] == 'system' %}{{ '<<' + m.content | trim "
            "+ '>>' }}{%- elif m.role in ['user', 'assistant'] -%}{{ m.role | upper ~ ': ' ~ m.content }}{% else %}"
            "{{ raise_exception('bad role ' + m.role) }}{% endif %}{% endfor %}{% if add_generation_prompt %}A:{% endif %}";
        const std::string pieces[] = {"{", "}", "%", "#", "-", "(", ")", "[", "]", "'", "\"", ".", "|", "~",
                                      "=", ":", ",", " ", "\n", "{%", "%}", "{{", "}}", "if", "endif", "for", "not"};
        std::uint32_t seed = 12345;
        auto rnd = [&](std::uint32_t n) {
            seed = seed * 1664525u + 1013904223u;
            return (seed >> 8) % n;
        };
        int rendered = 0, refused = 0;
        for (int i = 0; i < 3000; ++i) {
            std::string s = base;
            for (int k = 0, edits = 1 + static_cast<int>(rnd(3)); k < edits; ++k) {
                const std::size_t p = rnd(static_cast<std::uint32_t>(s.size() + 1));
                if (rnd(2)) s.insert(p, pieces[rnd(sizeof pieces / sizeof pieces[0])]);
                else s.erase(p, 1 + rnd(4));
            }
            const std::string e = errorOf(s);
            if (e.empty()) ++rendered;
            else {
                ++refused;
                QVERIFY2(oneLine(e), (s + " -> " + e).c_str());
            }
        }
        QVERIFY(rendered > 0 && refused > 0);
    }

    void modelFolder() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString cfg = dir.filePath("tokenizer_config.json");
        const std::string d = dir.path().toStdString();
        ModelChatFormat f = loadModelChatFormat(d);  // no file: plain, no note
        QVERIFY(!f.tmpl && f.note.empty());

        writeFile(cfg, R"({"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>"})");
        f = loadModelChatFormat(d);
        QVERIFY(!f.tmpl && f.note.empty());
        QCOMPARE(*f.bosToken, std::string("<s>"));
        QCOMPARE(*f.eosToken, std::string("</s>"));

        writeFile(cfg, R"({"eos_token": {"content": "<|end|>"}, "chat_template": "{{ bos_token is defined }}{{ eos_token }}"})");
        f = loadModelChatFormat(d);
        QVERIFY(f.tmpl && f.note.empty());
        QVERIFY(!f.bosToken);
        QCOMPARE(f.tmpl->render(kChat, true, f.bosToken, f.eosToken), std::string("False<|end|>"));

        writeFile(cfg, R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})");
        f = loadModelChatFormat(d);
        QVERIFY(f.tmpl);
        QCOMPARE(f.tmpl->render(kChat, true, {}, {}), std::string("D"));

        writeFile(cfg, R"({"chat_template": [{"name": "tool_use", "template": "T"}]})");
        f = loadModelChatFormat(d);
        QVERIFY(!f.tmpl);
        QVERIFY2(f.note.find("tokenizer_config.json: chat_template: a list without a template named \"default\"") !=
                     std::string::npos,
                 f.note.c_str());

        writeFile(cfg, R"({"chat_template": "{% for m in messages %}\n{{ m.content | join(',') }}{% endfor %}"})");
        f = loadModelChatFormat(d);
        QVERIFY(!f.tmpl);
        QVERIFY2(oneLine(f.note), f.note.c_str());
        QCOMPARE(f.note, (dir.path() + "/tokenizer_config.json: chat_template: line 2: unsupported filter 'join'").toStdString());

        writeFile(cfg, R"({"chat_template": 7})");
        f = loadModelChatFormat(d);
        QVERIFY(!f.tmpl && f.note.find("neither a string nor a list") != std::string::npos);

        writeFile(cfg, "{not json");
        f = loadModelChatFormat(d);
        QVERIFY(!f.tmpl && oneLine(f.note));
    }
};

QTEST_APPLESS_MAIN(TestChatTemplate)
#include "test_chat_template.moc"
