#include "common/files.h"

#include "common/error.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace fs = std::filesystem;

namespace qcw {

namespace {
std::string sysError() { return std::strerror(errno); }

std::string randomSuffix() {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    std::ostringstream s;
    s << std::hex << (rng() & 0xffffffffu);
    return s.str();
}
}  // namespace

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(path, "cannot open: " + sysError());
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        fail(path, "cannot stat: " + sysError());
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(path, "not a regular file");
    }
    std::shared_ptr<MappedFile> f(new MappedFile());
    f->path_ = path;
    f->size_ = static_cast<std::size_t>(st.st_size);
    if (f->size_ > 0) {
        void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            ::close(fd);
            fail(path, "cannot memory-map: " + sysError());
        }
        f->data_ = static_cast<const std::uint8_t*>(p);
    }
    ::close(fd);
    return f;
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
}

void MappedFile::release(std::size_t offset, std::size_t length) const {
    if (!data_ || length == 0) return;
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::size_t begin = (offset + page - 1) / page * page;  // whole pages inside the range only
    std::size_t end = (offset + length) / page * page;
    if (end > begin) ::madvise(const_cast<std::uint8_t*>(data_) + begin, end - begin, MADV_DONTNEED);
}

std::string readTextFile(const std::string& path, std::size_t maxBytes) {
    std::error_code ec;
    if (!fs::exists(path, ec)) fail(path, "file not found");
    if (fs::is_directory(path, ec)) fail(path, "is a directory, expected a file");
    auto size = fs::file_size(path, ec);
    if (ec) fail(path, "cannot read size: " + ec.message());
    if (size > maxBytes)
        fail(path, "file is " + std::to_string(size) + " bytes, more than the limit of " +
                       std::to_string(maxBytes));
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, "cannot open: " + sysError());
    std::string text(static_cast<std::size_t>(size), '\0');
    in.read(text.data(), static_cast<std::streamsize>(size));
    if (!in)
        fail(path, "read failed after " + std::to_string(in.gcount()) + " of " + std::to_string(size) +
                       " bytes (the file shrank while it was read?)");
    if (in.peek() != std::char_traits<char>::eof()) fail(path, "file grew while it was read");
    return text;
}

void writeFileAtomically(const std::string& path, const std::function<void(std::ostream&)>& writer) {
    fs::path target(path);
    fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) fail(path, "directory " + dir.string() + " does not exist");
    fs::path tmp = dir / ("." + target.filename().string() + ".tmp-" + randomSuffix());
    try {
        {
            std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
            if (!out) fail(path, "cannot create a temporary file in " + dir.string() + ": " + sysError());
            writer(out);
            out.flush();
            if (!out) fail(path, "write failed: " + sysError() + " (disk full?)");
            out.close();
            if (!out) fail(path, "write failed when closing: " + sysError() + " (disk full?)");
        }
        int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ::fsync(fd);
            ::close(fd);
        }
        fs::rename(tmp, target, ec);
        if (ec) fail(path, "cannot rename temporary file into place: " + ec.message());
    } catch (...) {
        fs::remove(tmp, ec);
        throw;
    }
}

void writeTextFileAtomically(const std::string& path, const std::string& text) {
    writeFileAtomically(path, [&](std::ostream& out) { out.write(text.data(), static_cast<std::streamsize>(text.size())); });
}

void buildDirectoryAtomically(const std::string& finalDir,
                              const std::function<void(const std::string& tmpDir)>& build, bool replace) {
    fs::path target = fs::path(finalDir).lexically_normal();
    if (target.filename().empty()) target = target.parent_path();
    std::error_code ec;
    if (fs::exists(target, ec)) {
        if (!fs::is_directory(target, ec)) fail(finalDir, "exists and is not a directory");
        if (!fs::is_empty(target, ec) && !replace)
            fail(finalDir, "output directory exists and is not empty (choose another --out)");
    }
    fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
    fs::create_directories(parent, ec);
    if (ec) fail(parent.string(), "cannot create directory: " + ec.message());
    fs::path tmp = parent / ("." + target.filename().string() + ".tmp-" + randomSuffix());
    fs::create_directory(tmp, ec);
    if (ec) fail(tmp.string(), "cannot create directory: " + ec.message());
    try {
        try {
            build(tmp.string());
        } catch (const Cancelled&) {
            throw;
        } catch (const Error& e) {
            // Name the output the user asked for, not the temporary folder it is built in.
            std::string msg = e.what();
            const std::string t = tmp.string();
            for (std::size_t at; (at = msg.find(t)) != std::string::npos;) msg.replace(at, t.size(), target.string());
            throw Error(msg + " (nothing written to " + target.string() + ")");
        }
        if (fs::exists(target, ec)) {
            fs::path old = parent / ("." + target.filename().string() + ".old-" + randomSuffix());
            fs::rename(target, old, ec);
            if (ec) fail(finalDir, "cannot move the old directory aside: " + ec.message());
            fs::rename(tmp, target, ec);
            if (ec) {
                fs::rename(old, target);
                fail(finalDir, "cannot rename temporary directory into place: " + ec.message());
            }
            fs::remove_all(old, ec);
        } else {
            fs::rename(tmp, target, ec);
            if (ec) fail(finalDir, "cannot rename temporary directory into place: " + ec.message());
        }
    } catch (...) {
        fs::remove_all(tmp, ec);
        throw;
    }
}

}  // namespace qcw
