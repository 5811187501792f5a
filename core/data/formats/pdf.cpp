// PDF: poppler extracts the text, pages separated by form feeds; each page is a section
// (positions carry the page number). Decompression bombs and locked files are refused.
#include "data/formats/format.h"
#include "data/formats/util.h"

#ifdef QCW_HAVE_POPPLER
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>
#endif

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>

namespace qcw::formats {

namespace {

#ifndef QCW_HAVE_POPPLER
bool extractPdf(const std::string&, std::uint64_t, std::string&, std::string& reason, std::vector<std::string>&) {
    reason = "this build has no PDF reader (built without poppler-cpp)";
    return false;
}
#else
void silencePoppler(const std::string&, void*) {}

// PDF text, pages separated by form feeds. Returns false with a reason on failure.
bool extractPdf(const std::string& bytes, std::uint64_t maxTextBytes, std::string& text, std::string& reason,
                std::vector<std::string>& warnings) {
    static std::once_flag once;
    std::call_once(once, [] { poppler::set_debug_error_function(silencePoppler, nullptr); });
    if (bytes.size() > std::size_t(std::numeric_limits<int>::max())) {
        reason = "PDF too large for the PDF reader";
        return false;
    }
    std::unique_ptr<poppler::document> doc(poppler::document::load_from_raw_data(bytes.data(), int(bytes.size())));
    if (!doc) {
        reason = "corrupt or unreadable PDF (the PDF reader could not open it)";
        return false;
    }
    if (doc->is_locked()) {
        reason = "encrypted PDF (password protected), not read";
        return false;
    }
    int pages = doc->pages();
    // Decompression bombs: a few kilobytes of PDF can inflate into gigabytes of page text, or
    // declare millions of pages. Text beyond 64 times the file (at least 16 MiB, at most
    // 256 MiB) or more than 20000 pages is refused with the reason.
    constexpr int kMaxPages = 20000;
    if (pages > kMaxPages) {
        reason = "PDF has " + std::to_string(pages) + " pages, more than the limit of " + std::to_string(kMaxPages);
        return false;
    }
    const std::size_t maxText =
        maxTextBytes ? std::size_t(maxTextBytes)
                     : std::min<std::size_t>(std::max<std::size_t>(bytes.size() * 64, 16u << 20), 256u << 20);
    int empty = 0;
    for (int i = 0; i < pages; ++i) {
        std::unique_ptr<poppler::page> pg(doc->create_page(i));
        std::string t;
        if (pg) {
            poppler::byte_array ba = pg->text().to_utf8();
            t.assign(ba.begin(), ba.end());
        }
        std::replace(t.begin(), t.end(), '\f', '\n');
        if (trimmed(t).empty()) ++empty;
        if (text.size() + t.size() > maxText) {
            reason = "PDF text grows past " + std::to_string(maxText) + " bytes by page " + std::to_string(i + 1) + " of " +
                     std::to_string(pages) + " (" + std::to_string(bytes.size()) +
                     "-byte file: a decompression bomb?); not read";
            text.clear();
            return false;
        }
        if (i > 0) text += '\f';
        text += t;
        if (!t.empty() && t.back() != '\n') text += '\n';
    }
    if (pages == 0 || empty == pages) {
        reason = pages == 0 ? "PDF has no pages" : "PDF has no extractable text (scanned images?)";
        return false;
    }
    if (empty) warnings.push_back(std::to_string(empty) + " PDF page(s) without text");
    return true;
}
#endif

void parsePdf(DocumentReport& r) {
    std::size_t p = 0;
    int page = 1;
    while (p <= r.text.size()) {
        std::size_t e = r.text.find('\f', p);
        if (e == std::string::npos) e = r.text.size();
        if (!trimmed(r.text.substr(p, e - p)).empty()) {
            DocSection s;
            s.kind = "pdf_page";
            s.title = baseName(r.path) + " page " + std::to_string(page);
            s.text = r.text.substr(p, e - p);
            s.begin = p;
            s.end = e;
            s.verbatim = true;
            s.page = page;
            r.sections.push_back(std::move(s));
        }
        ++page;
        p = e + 1;
    }
}

class PdfFormat final : public DocumentFormat {
public:
    const char* id() const override { return "pdf"; }
    const char* displayName() const override { return "PDF"; }
    Claim detect(const DetectInput& in) const override {
        if (in.bytes->compare(0, 5, "%PDF-") == 0) return Claim::Signature;
        return in.ext == "pdf" ? Claim::Extension : Claim::None;
    }
    bool binary() const override { return true; }
    bool decode(const std::string& bytes, const DataOptions& options, std::string& text, std::string& reason,
                std::vector<std::string>& warnings) const override {
        return extractPdf(bytes, options.maxPdfTextBytes, text, reason, warnings);
    }
    void structure(DocumentReport& r, const DataOptions&) const override { parsePdf(r); }
};

}  // namespace

const DocumentFormat& pdfFormat() {
    static const PdfFormat f;
    return f;
}

}  // namespace qcw::formats
