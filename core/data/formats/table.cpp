// THE table of document formats, and the walks over it (detection, secret detectors).
// Adding a format: one file under formats/ defining `const DocumentFormat& xxxFormat()`,
// one declaration and one line in the table below, a fixture in tests/data/formats/.
#include "data/formats/format.h"

#include "data/formats/util.h"

#include <cctype>

namespace qcw::formats {

const DocumentFormat& pdfFormat();
const DocumentFormat& htmlFormat();
const DocumentFormat& jsonFormat();
const DocumentFormat& armFormat();
const DocumentFormat& jsonlFormat();
const DocumentFormat& fortigateFormat();
const DocumentFormat& terraformFormat();
const DocumentFormat& yamlFormat();
const DocumentFormat& csvFormat();
const DocumentFormat& markdownFormat();
const DocumentFormat& textFormat();

// Sniffing asks the formats in this order (HTML and JSON by their first character, then
// FortiGate, Terraform, Markdown); plain text takes what is left and stays last.
const std::vector<const DocumentFormat*>& documentFormats() {
    static const std::vector<const DocumentFormat*> table = {
        &pdfFormat(),       &htmlFormat(),      &jsonFormat(), &armFormat(), &jsonlFormat(), &fortigateFormat(),
        &terraformFormat(), &yamlFormat(),      &csvFormat(),  &markdownFormat(), &textFormat(),
    };
    return table;
}

DetectInput::DetectInput(const std::string& p, const std::string& b) : path(p), bytes(&b) {
    ext = extensionOf(p);
    if (b.compare(0, 3, "\xEF\xBB\xBF") == 0) start = 3;
    while (start < b.size() && std::isspace(static_cast<unsigned char>(b[start]))) ++start;
    head = lower(b.substr(start, 512));
}

bool DocumentFormat::decode(const std::string& bytes, const DataOptions&, std::string& text, std::string&,
                            std::vector<std::string>&) const {
    text = bytes;
    return true;
}

bool DocumentFormat::extract(const std::string&, std::string&, const DataOptions&, std::string&) const { return true; }

const DocumentFormat* formatById(const std::string& id) {
    for (const DocumentFormat* f : documentFormats())
        if (id == f->id()) return f;
    return nullptr;
}

const DocumentFormat& detectFormat(const DetectInput& in, bool* sniffed) {
    const DocumentFormat* best = nullptr;
    Claim bestClaim = Claim::None;
    for (const DocumentFormat* f : documentFormats()) {
        Claim c = f->detect(in);
        if (c > bestClaim) best = f, bestClaim = c;
    }
    if (sniffed) *sniffed = best == nullptr;
    if (best) return *best;
    for (const DocumentFormat* f : documentFormats())
        if (f->sniff(in)) return *f;
    return textFormat();
}

std::vector<SecretDetector> formatSecretDetectors() {
    std::vector<SecretDetector> all;
    for (const DocumentFormat* f : documentFormats())
        for (const SecretDetector& d : f->secretDetectors()) all.push_back(d);
    return all;
}

}  // namespace qcw::formats
