// tokenizer.json: load, then encode and decode some text with whatever loaded, and write
// the standard form back and load that. Loading throws a one-line error or gives a tokenizer
// that never crashes on any text.
#include "fuzz_support.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::string where = "fuzz/tokenizer.json";
    try {
        auto tok = qcw::Tokenizer::fromTokenizerJson(text, where);
        const std::string sample = "Hello world <|endoftext|> set psk 'x' \xC3\xA9\xF0\x9F\x98\x80 \xFF 123";
        auto enc = tok->encode(sample);
        qcw::DecodeOptions skip;
        skip.skipUnknown = true;
        (void)tok->decode(enc.ids, skip);
        (void)tok->decode({0, 1, 2, tok->vocabSize() - 1, tok->vocabSize(), -1}, skip);
        (void)tok->encode(text.substr(0, 256));
        auto again = qcw::Tokenizer::fromTokenizerJson(tok->toTokenizerJson(), where);
        if (again->encode(sample).ids != enc.ids) fuzz::violated("tokenizer.json does not round-trip");
    } catch (const qcw::Error& e) {
        fuzz::checkError(e, where);
    }
    return 0;
}
