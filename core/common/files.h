#pragma once
// File helpers: read-only memory maps and atomic writes (temporary file, then rename),
// so user files are never modified and outputs appear whole or not at all.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

namespace qcw {

class MappedFile {
public:
    // Maps the whole file read-only; throws qcw::Error naming the path on failure.
    static std::shared_ptr<MappedFile> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::uint8_t* data() const { return data_; }
    std::size_t size() const { return size_; }
    const std::string& path() const { return path_; }

    // Tells the kernel the pages in [offset, offset+length) are not needed any more, so a
    // loader that has copied them out does not keep both copies resident.
    void release(std::size_t offset, std::size_t length) const;

private:
    MappedFile() = default;
    std::string path_;
    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

// Reads a whole (small) text file; throws qcw::Error naming the path.
std::string readTextFile(const std::string& path, std::size_t maxBytes = 64u << 20);

// Writes through `writer` into PATH.tmp-XXXX in the same directory, flushes, fsyncs and
// renames over `path`. On any failure the temporary file is removed and `path` is untouched.
void writeFileAtomically(const std::string& path, const std::function<void(std::ostream&)>& writer);
void writeTextFileAtomically(const std::string& path, const std::string& text);

// Creates `finalDir` atomically: `build` fills a temporary sibling directory, which is then
// renamed into place. An existing non-empty `finalDir` is an error unless `replace` is true.
void buildDirectoryAtomically(const std::string& finalDir,
                              const std::function<void(const std::string& tmpDir)>& build,
                              bool replace = false);

}  // namespace qcw
