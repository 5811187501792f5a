#pragma once
// A model's Jinja chat_template (tokenizer_config.json), rendered without Python: a small,
// defensive renderer for the subset of Jinja that Hugging Face chat templates use. No torch,
// no Qt; std + nlohmann_json.
//
// The subset:
//   {{ expr }}, {% if %}/{% elif %}/{% else %}/{% endif %}, {% for x in xs %}...{% endfor %}
//   (loop.index, loop.index0, loop.first, loop.last, loop.length, loop.revindex, loop.revindex0),
//   {% set name = expr %}, {# comments #}, whitespace control {%- -%} {{- -}} {#- -#} ({%+ too);
//   literals ('..', "..", integers, decimals, true/false/none, [lists], {dicts}), variables,
//   attribute and subscript access (message.content, message['role'], xs[-1], xs[1:]),
//   + - * / // % ~, == != < > <= >=, in / not in, and / or / not, `a if c else b`,
//   filters trim, length (count), upper, lower, capitalize, string, default(x), first, last,
//   tojson, tests defined, undefined, none, string, number, integer, boolean, mapping,
//   sequence, iterable (and `is not`), and raise_exception('message').
// As transformers renders templates: trim_blocks and lstrip_blocks on (the newline after a
// block tag is dropped, spaces before a block tag on its own line too), one trailing newline
// of the template dropped, tojson as Python's json.dumps (", " and ": ", non-ASCII kept).
// upper/lower/capitalize change ASCII letters only.
//
// Anything else (macros, other tags, filters, tests, functions and method calls such as
// .strip()) is refused when the template is compiled, with a one-line error naming the
// construct and its line. Work is bounded: template size, nesting depth, and per render the
// loop iterations, expressions evaluated, bytes built in all, and the size of the output and
// of every string.
#include "serve/protocol.h"

#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace qcw::serve {

struct TemplateLimits {
    std::size_t maxTemplateBytes = 256 * 1024;
    int maxDepth = 64;                           // nesting of blocks and expressions
    std::size_t maxLoopIterations = 100000;      // all loops of one render together
    std::size_t maxOutputBytes = 8 * 1024 * 1024;  // the rendered prompt, and any one string built
    std::size_t maxWorkBytes = 64 * 1024 * 1024;   // all strings and lists built in one render together
    std::size_t maxSteps = 2000000;                // expressions evaluated in one render
};

// One line. raised(): the template itself called raise_exception (its message is what()).
class TemplateError : public std::runtime_error {
public:
    explicit TemplateError(const std::string& message, bool raised = false);
    bool raised() const { return raised_; }

private:
    bool raised_;
};

class ChatTemplate {
public:
    // Throws TemplateError ("line N: ...") for templates outside the subset, malformed ones
    // and ones beyond the size and depth bounds.
    static std::shared_ptr<const ChatTemplate> compile(const std::string& source, const TemplateLimits& limits = {});
    ~ChatTemplate();

    // Renders with `messages` (a list of {role, content}), `add_generation_prompt`,
    // `bos_token` and `eos_token` (undefined when absent). Throws TemplateError.
    std::string render(const std::vector<ChatMessage>& messages, bool addGenerationPrompt,
                       const std::optional<std::string>& bosToken, const std::optional<std::string>& eosToken) const;

    struct Impl;

private:
    explicit ChatTemplate(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// How a served model's chats are formatted, from its folder's tokenizer_config.json.
struct ModelChatFormat {
    std::shared_ptr<const ChatTemplate> tmpl;  // null: the plain format (formatChatPrompt)
    std::optional<std::string> bosToken, eosToken;
    // One line, set when the model has a chat_template that cannot be used (so the plain
    // format is): "<dir>/tokenizer_config.json: chat_template: <why>".
    std::string note;
};
// chat_template is a string, or a list of {"name", "template"} (the one named "default" is
// used). bos_token / eos_token are strings or {"content": ...} objects. A folder without
// tokenizer_config.json, or one without chat_template, gets the plain format and no note.
ModelChatFormat loadModelChatFormat(const std::string& modelDir, const TemplateLimits& limits = {});

}  // namespace qcw::serve
