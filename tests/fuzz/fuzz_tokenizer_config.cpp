// tokenizer_config.json of a served model (chat_template as a string or a named list,
// bos/eos tokens as strings or objects): loadModelChatFormat() falls back to the plain
// format with a one-line note naming the file, or throws a one-line qcw::Error naming it.
#include "fuzz_support.h"
#include "serve/chat_template.h"

using namespace qcw::serve;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string dir = fuzz::scratchDir();
    fuzz::writeFile(dir + "/tokenizer_config.json", std::string(reinterpret_cast<const char*>(data), size));
    TemplateLimits limits;
    limits.maxLoopIterations = 2000;
    limits.maxSteps = 20000;
    limits.maxOutputBytes = 1 << 16;
    limits.maxWorkBytes = 1 << 20;
    try {
        ModelChatFormat f = loadModelChatFormat(dir, limits);
        if (f.note.find('\n') != std::string::npos) fuzz::violated("note is not one line");
        if (!f.note.empty() && f.note.find(dir) == std::string::npos) fuzz::violated("note does not name the file");
        if (f.tmpl) {
            try {
                (void)f.tmpl->render({{"user", "hi"}}, true, f.bosToken, f.eosToken);
            } catch (const TemplateError&) {
            }
        }
    } catch (const qcw::Error& e) {
        fuzz::checkError(e, dir);
    } catch (const TemplateError& e) {
        if (std::string(e.what()).find('\n') != std::string::npos) fuzz::violated("template error is not one line");
    }
    return 0;
}
