// Reading one document: the format from the table (data/formats/), extraction to raw text,
// scrubbing, then structure (sections and instruction pairs) from the scrubbed text only.
#include "common/error.h"
#include "data/data.h"
#include "data/formats/format.h"
#include "data/internal.h"
#include "data/parsers.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

namespace qcw {

ScrubOptions DataOptions::scrubOptions() const {
    return ScrubOptions().setAnonymizeIps(anonymizeIps).setAnonymizeEmails(anonymizeEmails).setEntropyThreshold(
        entropyThreshold);
}

namespace detail {

PositionMapper::PositionMapper(const DocumentReport& doc) : spans_(&doc.redactions), pdf_(doc.type == "pdf") {
    for (std::size_t i = 0; i < doc.text.size(); ++i) {
        if (doc.text[i] == '\n') newlines_.push_back(i);
        else if (doc.text[i] == '\f') formfeeds_.push_back(i);
    }
    delta_.push_back(0);
    removedLines_.push_back(0);
    for (const auto& s : doc.redactions) {
        delta_.push_back(delta_.back() + (long long)s.originalLength - (long long)s.length);
        removedLines_.push_back(removedLines_.back() + s.newlinesRemoved);
    }
}

std::size_t PositionMapper::toOriginal(std::size_t off, bool endOffset) const {
    const auto& sp = *spans_;
    // First span whose placeholder ends after `off`.
    auto it = std::upper_bound(sp.begin(), sp.end(), off,
                               [](std::size_t o, const RedactionSpan& s) { return o < s.offset + s.length; });
    std::size_t i = std::size_t(it - sp.begin());
    if (it != sp.end() && off > it->offset) {
        return endOffset ? it->originalOffset + it->originalLength : it->originalOffset;
    }
    return std::size_t((long long)off + delta_[i]);
}

int PositionMapper::lineOf(std::size_t off) const {
    int nl = int(std::lower_bound(newlines_.begin(), newlines_.end(), off) - newlines_.begin());
    const auto& sp = *spans_;
    auto it = std::upper_bound(sp.begin(), sp.end(), off,
                               [](std::size_t o, const RedactionSpan& s) { return o < s.offset + s.length; });
    return 1 + nl + removedLines_[std::size_t(it - sp.begin())];
}

SourcePosition PositionMapper::map(std::size_t begin, std::size_t end) const {
    SourcePosition p;
    p.byteStart = toOriginal(begin, false);
    p.byteEnd = toOriginal(end, true);
    p.lineStart = lineOf(begin);
    p.lineEnd = lineOf(end > begin ? end - 1 : begin);
    if (pdf_) p.page = 1 + int(std::lower_bound(formfeeds_.begin(), formfeeds_.end(), begin) - formfeeds_.begin());
    return p;
}

}  // namespace detail

SourcePosition DocumentReport::position(std::size_t begin, std::size_t end) const {
    return detail::PositionMapper(*this).map(begin, end);
}


namespace {

const std::set<std::string>& binaryExtensions() {
    static const std::set<std::string> s = {
        "png", "jpg", "jpeg", "gif", "bmp", "tif", "tiff", "ico", "webp", "svgz", "zip", "gz", "tgz", "bz2", "xz",
        "7z", "rar", "tar", "zst", "exe", "dll", "so", "dylib", "bin", "o", "a", "class", "jar", "pyc", "whl",
        "msi", "iso", "img", "vhd", "vhdx", "qcow2", "docx", "xlsx", "pptx", "doc", "xls", "ppt", "odt", "ods",
        "mp3", "mp4", "avi", "mov", "mkv", "wav", "flac", "woff", "woff2", "ttf", "otf", "sqlite", "db", "pfx",
        "p12", "der", "jks", "keystore", "safetensors", "pt", "pth", "onnx", "gguf", "npy", "npz", "parquet"};
    return s;
}

DocumentReport skippedReport(DocumentReport r, const std::string& reason) {
    r.status = "skipped";
    r.reason = oneLine(reason);
    r.text.clear();
    r.redactions.clear();
    r.sections.clear();
    r.pairs.clear();
    return r;
}

}  // namespace

DocumentReport readDocumentBytes(const std::string& name, const std::string& bytesIn, const DataOptions& options,
                                 Anonymizer* anonymizer) {
    DocumentReport r;
    r.path = name;
    r.bytes = bytesIn.size();
    r.status = "ok";
    if (bytesIn.empty()) return skippedReport(r, "empty file (0 bytes)");
    const formats::DetectInput in(name, bytesIn);
    const std::string& ext = in.ext;
    if (binaryExtensions().count(ext)) {
        r.type = "binary";
        return skippedReport(r, "unsupported binary format (." + ext + ")");
    }
    bool guessed = false;
    const formats::DocumentFormat* format = &formats::detectFormat(in, &guessed);
    if (!format->binary()) {
        std::size_t head = std::min<std::size_t>(bytesIn.size(), 8192);
        if (std::memchr(bytesIn.data(), '\0', head) != nullptr) {
            r.type = "binary";
            return skippedReport(r, "binary content (NUL bytes)" + (ext.empty() ? std::string() : " in a ." + ext + " file"));
        }
    }
    if (!format->acceptsContent(bytesIn)) format = formats::formatById("text");
    r.type = format->id();
    if (guessed) r.warnings.push_back("type " + r.type + " guessed from content");

    // 1. Extract raw text.
    std::string raw, reason;
    if (!format->decode(bytesIn, options, raw, reason, r.warnings)) return skippedReport(r, reason);
    if (raw.compare(0, 3, "\xEF\xBB\xBF") == 0) raw.erase(0, 3);
    std::size_t bad = repairUtf8(raw);
    if (bad > 0) {
        if (bad * 10 > raw.size() + 10 && !format->binary()) {
            r.type = "binary";
            return skippedReport(r, "not text: " + std::to_string(bad) + " invalid UTF-8 bytes");
        }
        r.warnings.push_back(std::to_string(bad) + " invalid UTF-8 byte(s) replaced with U+FFFD");
    }
    if (!format->extract(name, raw, options, reason)) return skippedReport(r, reason);

    // 2. Scrub. Nothing below sees `raw`.
    ScrubResult sr = scrubText(raw, options.scrubOptions(), anonymizer);
    raw.clear();
    raw.shrink_to_fit();
    r.text = std::move(sr.text);
    r.redactions = std::move(sr.spans);
    r.redactionCounts = std::move(sr.counts);

    // 3. Structure.
    format->structure(r, options);
    if (std::all_of(r.text.begin(), r.text.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
        return skippedReport(r, "no text content");
    // Reasons and warnings quote the document (a FortiGate block's name may be a quoted token
    // spanning lines): each stays one line.
    r.reason = oneLine(r.reason);
    for (auto& w : r.warnings) w = oneLine(w);
    // A broken file can have a problem on every line: keep the report (and the manifest) small.
    constexpr std::size_t kMaxWarnings = 50;
    if (r.warnings.size() > kMaxWarnings) {
        const std::size_t more = r.warnings.size() - kMaxWarnings;
        r.warnings.resize(kMaxWarnings);
        r.warnings.push_back("... and " + std::to_string(more) + " more warning(s) like these");
    }
    if (r.status == "ok" && !r.warnings.empty() && bad > 0) r.status = "partial";
    return r;
}

DocumentReport readDocument(const std::string& path, const DataOptions& options, Anonymizer* anonymizer) {
    DocumentReport r;
    r.path = path;
    r.status = "skipped";
    // O_NONBLOCK: a FIFO must not hang the run; it is refused below as not a regular file.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        r.reason = err == ELOOP ? "symlink loop (too many levels of symbolic links)"
                                : std::string("cannot open: ") + std::strerror(err);
        return r;
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        r.reason = std::string("cannot stat: ") + std::strerror(errno);
        ::close(fd);
        return r;
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        r.reason = S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file (device, FIFO or socket)";
        return r;
    }
    r.bytes = std::uint64_t(st.st_size);
    if (r.bytes == 0) {
        ::close(fd);
        r.reason = "empty file (0 bytes)";
        return r;
    }
    if (r.bytes > options.maxFileBytes) {
        ::close(fd);
        r.reason = "file is " + std::to_string(r.bytes) + " bytes, over the " + std::to_string(options.maxFileBytes) +
                   "-byte limit (raise --max-file-mb)";
        return r;
    }
    std::string bytes(std::size_t(r.bytes), '\0');
    std::size_t got = 0;
    while (got < bytes.size()) {
        ssize_t k = ::read(fd, bytes.data() + got, bytes.size() - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            r.reason = std::string("read failed: ") + std::strerror(errno);
            ::close(fd);
            return r;
        }
        if (k == 0) break;
        got += std::size_t(k);
    }
    // A file that shrank or grew while it was read (a log being rotated, a copy in progress)
    // is not read half: it is skipped and reported, and the next run reads it whole.
    struct stat after {};
    const bool changed = ::fstat(fd, &after) != 0 || after.st_size != st.st_size || got != bytes.size() ||
                         after.st_mtim.tv_sec != st.st_mtim.tv_sec || after.st_mtim.tv_nsec != st.st_mtim.tv_nsec;
    ::close(fd);
    if (changed) {
        r.reason = "file changed while it was read (" + std::to_string(got) + " of " + std::to_string(r.bytes) +
                   " bytes read, now " + std::to_string(std::uint64_t(after.st_size)) + "); not used";
        return r;
    }
    return readDocumentBytes(path, bytes, options, anonymizer);
}

}  // namespace qcw
