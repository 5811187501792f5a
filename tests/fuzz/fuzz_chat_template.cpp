// A model's chat_template (Jinja subset) as the server compiles and renders it: either a
// one-line TemplateError or a rendered prompt within the limits, in bounded time.
#include "fuzz_support.h"
#include "serve/chat_template.h"

using namespace qcw::serve;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string source(reinterpret_cast<const char*>(data), size);
    TemplateLimits limits;
    // Smaller bounds than the server's keep each run fast; the checks are the same.
    limits.maxLoopIterations = 2000;
    limits.maxSteps = 20000;
    limits.maxOutputBytes = 1 << 16;
    limits.maxWorkBytes = 1 << 20;
    static const std::vector<ChatMessage> messages = {
        {"system", "You are terse."}, {"user", "Hello {{ 'x' }} \xC3\xA9"}, {"assistant", "Hi."}, {"user", "Bye"}};
    try {
        auto t = ChatTemplate::compile(source, limits);
        std::string out = t->render(messages, true, std::string("<s>"), std::string("</s>"));
        if (out.size() > limits.maxOutputBytes) fuzz::violated("rendered past maxOutputBytes");
        (void)t->render({}, false, std::nullopt, std::nullopt);
    } catch (const TemplateError& e) {
        const std::string msg = e.what();
        if (msg.find('\n') != std::string::npos) fuzz::violated("template error is not one line");
    }
    return 0;
}
