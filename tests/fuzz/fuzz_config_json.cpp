// config.json of a Phi checkpoint: fromJsonText() validates or throws a one-line error
// naming the file; a config it accepts has shapes the model code can divide by.
#include "fuzz_support.h"
#include "io/phi_config.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::string path = "fuzz/config.json";
    try {
        qcw::PhiConfig c = qcw::PhiConfig::fromJsonText(text, path);
        if (c.numHeads <= 0 || c.hiddenSize <= 0 || c.numLayers <= 0 || c.vocabSize <= 0)
            fuzz::violated("accepted a config with a non-positive size");
        (void)c.headDim();
        (void)c.rotaryDim();
        (void)c.parameterCount();
        // What it writes it reads back the same.
        qcw::PhiConfig back = qcw::PhiConfig::fromJsonText(c.toJsonText(), path);
        if (back.hiddenSize != c.hiddenSize || back.numLayers != c.numLayers || back.vocabSize != c.vocabSize)
            fuzz::violated("config does not round-trip");
    } catch (const qcw::Error& e) {
        fuzz::checkError(e, path);
    }
    return 0;
}
