#pragma once
// Shared by the fuzz targets: a scratch directory per process for the parsers that read
// files, input splitting for targets that build several files from one input, and the
// contract every parser of outside bytes keeps (a one-line qcw::Error naming the file, never
// a crash, never another exception). A failed check aborts, which libFuzzer reports.
#include "common/error.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace fuzz {

// A fresh directory under $TMPDIR (or /dev/shm, which is memory, when it exists), removed
// when the process exits normally.
inline const std::string& scratchDir() {
    static const std::string dir = [] {
        std::string base = "/tmp";
        if (const char* t = std::getenv("TMPDIR"); t && *t) base = t;
        else if (std::filesystem::is_directory("/dev/shm")) base = "/dev/shm";
        std::string tmpl = base + "/qcw-fuzz-XXXXXX";
        if (!::mkdtemp(tmpl.data())) {
            std::perror("mkdtemp");
            std::abort();
        }
        static std::string keep = tmpl;
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(keep, ec);
        });
        return tmpl;
    }();
    return dir;
}

inline void writeFile(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
        std::abort();
    }
}

inline void removeFile(const std::string& path) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
}

// Splits at every occurrence of `sep` (at most maxParts parts; the last keeps the rest).
inline std::vector<std::string> split(const std::uint8_t* data, std::size_t size, const std::string& sep,
                                      std::size_t maxParts) {
    std::string all(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> parts;
    std::size_t from = 0;
    while (parts.size() + 1 < maxParts) {
        std::size_t at = all.find(sep, from);
        if (at == std::string::npos) break;
        parts.push_back(all.substr(from, at - from));
        from = at + sep.size();
    }
    parts.push_back(all.substr(from));
    return parts;
}

// The error contract: one line, and it names `where` (a path or a value).
inline void checkError(const qcw::Error& e, const std::string& where) {
    const std::string msg = e.what();
    if (msg.find('\n') != std::string::npos || msg.find('\r') != std::string::npos) {
        std::fprintf(stderr, "fuzz: error message is not one line: %s\n", msg.c_str());
        std::abort();
    }
    if (!where.empty() && msg.find(where) == std::string::npos) {
        std::fprintf(stderr, "fuzz: error message does not name %s: %s\n", where.c_str(), msg.c_str());
        std::abort();
    }
}

[[noreturn]] inline void violated(const char* what) {
    std::fprintf(stderr, "fuzz: property violated: %s\n", what);
    std::abort();
}

}  // namespace fuzz
