// compression.json of a compressed model (the Tucker groups the loader reads).
#include "fuzz_support.h"
#include "io/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const std::string path = "fuzz/compression.json";
    try {
        auto groups = qcw::tuckerGroupsFromJson(text, path);
        (void)groups;
    } catch (const qcw::Error& e) {
        fuzz::checkError(e, path);
    }
    return 0;
}
