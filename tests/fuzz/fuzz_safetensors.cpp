// The safetensors reader on arbitrary bytes: open() must validate every header field, so
// every tensor it returns lies inside the file (each view's bytes are read here, which a
// bad offset turns into an ASan report or a fault) and its shape agrees with its size.
#include "fuzz_support.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string path = fuzz::scratchDir() + "/model.safetensors";
    fuzz::writeFile(path, std::string(reinterpret_cast<const char*>(data), size));
    try {
        auto f = qcw::SafetensorsFile::open(path);
        unsigned sum = 0;
        for (const auto& t : f->tensors()) {
            if (t.fileOffset + t.nbytes > f->fileSize()) fuzz::violated("tensor beyond the end of the file");
            if (t.nbytes && (t.data[0] | t.data[t.nbytes - 1])) ++sum;
            std::int64_t n = t.numel();
            for (auto d : t.shape)
                if (d < 0) fuzz::violated("negative dimension");
            if (static_cast<std::uint64_t>(n) * qcw::dtypeSize(t.dtype) != t.nbytes) fuzz::violated("size != shape");
            if (f->find(t.name) == nullptr) fuzz::violated("tensor not found by name");
        }
        (void)sum;
    } catch (const qcw::Error& e) {
        fuzz::checkError(e, path);
    }
    return 0;
}
