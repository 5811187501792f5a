// Encoding arbitrary bytes (documents and prompts are outside text) with a small real
// vocabulary: never throws, and decoding gives back the text with ill-formed UTF-8 replaced.
#include "fuzz_support.h"
#include "tokenizer/tokenizer.h"

#ifndef QCW_FUZZ_TOKENIZER
#error "QCW_FUZZ_TOKENIZER: path of the tokenizer.json to encode with"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const auto tok = qcw::Tokenizer::fromTokenizerJsonFile(QCW_FUZZ_TOKENIZER);
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto enc = tok->encode(text);
    std::string back = tok->decode(enc.ids);
    if (enc.invalidUtf8 == 0 && enc.droppedBytes == 0 && back != text) fuzz::violated("decode(encode(x)) != x");
    auto sanitized = qcw::sanitizeUtf8(text);
    (void)sanitized;
    for (auto w : qcw::splitGpt2Words(text)) (void)w;
    return 0;
}
