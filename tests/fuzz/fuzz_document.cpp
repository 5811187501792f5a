// One document format of the data processor: readDocumentBytes() with the file name
// QCW_FUZZ_DOC_NAME (its extension picks the reader: .conf FortiGate, .json JSON/ARM, .tf
// Terraform, .yaml, .html, .md, .pdf (poppler), .csv, .jsonl; no extension sniffs). It never
// throws; every section and pair it reports lies inside its text; no redaction span
// overlaps another.
#include "data/data.h"
#include "fuzz_support.h"

#ifndef QCW_FUZZ_DOC_NAME
#error "QCW_FUZZ_DOC_NAME: the file name the input is read as"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    qcw::DataOptions o;
    o.setMaxTokens(64).setOverlap(8).setAnonymizeIps(true).setAnonymizeEmails(true);
    qcw::Anonymizer anon;
    qcw::DocumentReport r = qcw::readDocumentBytes(QCW_FUZZ_DOC_NAME, bytes, o, &anon);
    if (r.status != "ok" && r.status != "partial" && r.status != "skipped") fuzz::violated("unknown status");
    if (r.skipped() && r.reason.empty()) fuzz::violated("skipped without a reason");
    if (r.reason.find('\n') != std::string::npos) fuzz::violated("reason is not one line");
    std::size_t last = 0;
    for (const auto& s : r.redactions) {
        if (s.offset < last || s.offset + s.length > r.text.size()) fuzz::violated("redaction span out of order or range");
        last = s.offset + s.length;
    }
    for (const auto& s : r.sections) {
        if (s.begin > s.end || s.end > r.text.size()) fuzz::violated("section outside the text");
        if (s.verbatim && s.text != r.text.substr(s.begin, s.end - s.begin)) fuzz::violated("verbatim section differs");
        (void)r.position(s.begin, s.end);
    }
    for (const auto& p : r.pairs) {
        if (p.begin > p.end || p.end > r.text.size()) fuzz::violated("pair outside the text");
        (void)r.position(p.begin, p.end);
    }
    return 0;
}
