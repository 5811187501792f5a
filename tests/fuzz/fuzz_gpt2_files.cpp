// GPT-2's encoder.json (vocab.json) and vocab.bpe (merges.txt): the input is cut at
// "\n#~#\n" into the two files.
#include "fuzz_support.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string vocab = fuzz::scratchDir() + "/vocab.json";
    static const std::string merges = fuzz::scratchDir() + "/merges.txt";
    auto parts = fuzz::split(data, size, "\n#~#\n", 2);
    parts.resize(2);
    fuzz::writeFile(vocab, parts[0]);
    fuzz::writeFile(merges, parts[1]);
    try {
        auto tok = qcw::Tokenizer::fromGpt2Files(vocab, merges);
        auto enc = tok->encode("Hello world, config system interface \xE2\x80\x94 \xFF");
        qcw::DecodeOptions skip;
        skip.skipUnknown = true;
        (void)tok->decode(enc.ids, skip);
    } catch (const qcw::Error& e) {
        const std::string msg = e.what();
        fuzz::checkError(e, "");
        if (msg.find(vocab) == std::string::npos && msg.find(merges) == std::string::npos)
            fuzz::violated("error names neither file");
    }
    return 0;
}
