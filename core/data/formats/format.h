#pragma once
// Document formats: one file per format under data/formats/, registered in ONE table
// (formats/table.cpp). The document reader picks a format from the table and lets it
// decode, extract and structure the file; the scrubber runs every format's secret
// detectors (next to the generic ones in scrub.cpp) over every text, because a secret of
// one format is often quoted in another (a FortiGate config pasted into a runbook).
#include <cstddef>
#include <string>
#include <vector>

namespace qcw {

struct DataOptions;
struct DocumentReport;

namespace formats {

// How strongly a format claims a file. Signature beats extension beats content sniffing;
// among equal claims the earlier format in the table wins.
enum class Claim { None = 0, Content = 1, Extension = 2, Signature = 3 };

struct DetectInput {
    std::string path;          // as given (only the name and extension matter)
    std::string ext;           // lower-case extension without the dot ("" when none)
    const std::string* bytes;  // the whole file as read
    std::size_t start = 0;     // first byte after a UTF-8 BOM and leading whitespace
    std::string head;          // up to 512 lower-cased bytes from `start`

    DetectInput(const std::string& path, const std::string& bytes);
};

// One secret found by a detector: bytes [b, e) of the text become [REDACTED:kind].
struct SecretCandidate {
    std::size_t b = 0, e = 0;
    std::string kind;
};

// A detector scans the raw text (`low` is its ASCII-lower-cased copy; `threshold` the
// entropy threshold in bits/char) and appends candidates. Detectors run in ascending
// `order` (generic and format detectors interleaved); when two find the same range, the
// one that ran first names the kind, unless it is generic and the later one specific.
struct SecretDetector {
    const char* name;
    int order;
    void (*find)(const std::string& s, const std::string& low, double threshold, std::vector<SecretCandidate>& out);
};

class DocumentFormat {
public:
    virtual ~DocumentFormat() = default;
    // The report's `type` ("fortigate", "terraform" ...) and a name for people.
    virtual const char* id() const = 0;
    virtual const char* displayName() const = 0;
    // A refinement of another format, chosen by that format's structure() on the parsed
    // document rather than by detection (ARM templates refine JSON); nullptr otherwise.
    virtual const char* refines() const { return nullptr; }
    // Extension or signature claim on a file (no content sniffing here).
    virtual Claim detect(const DetectInput& in) const = 0;
    // Content claim for a file no format claims by extension or signature; the reader asks
    // formats in table order and takes the first that says yes.
    virtual bool sniff(const DetectInput&) const { return false; }
    // A file claimed by extension whose content is not this format is read as plain text.
    virtual bool acceptsContent(const std::string&) const { return true; }
    // Binary container (PDF): no NUL-byte or invalid-UTF-8 refusal before decoding.
    virtual bool binary() const { return false; }
    // Bytes -> UTF-8 text (PDF text extraction). Default: the bytes as they are. On false
    // the file is skipped with `reason`.
    virtual bool decode(const std::string& bytes, const DataOptions& options, std::string& text, std::string& reason,
                        std::vector<std::string>& warnings) const;
    // Repaired UTF-8 text -> the text the scrubber sees (HTML to text, CSV rows to lines).
    // On false the file is skipped with `reason`.
    virtual bool extract(const std::string& path, std::string& text, const DataOptions& options,
                         std::string& reason) const;
    // Sections and instruction pairs from the scrubbed `r.text` (may refine `r.type`).
    virtual void structure(DocumentReport& r, const DataOptions& options) const = 0;
    // This format's own secret detectors (run over every document, see above).
    virtual std::vector<SecretDetector> secretDetectors() const { return {}; }
};

// THE table, in sniffing order.
const std::vector<const DocumentFormat*>& documentFormats();
// The format with this id; nullptr when none.
const DocumentFormat* formatById(const std::string& id);
// The format the reader uses for a file: strongest detect() claim, else the first sniff().
// `sniffed` tells which way it was found. Never null (plain text sniffs everything).
const DocumentFormat& detectFormat(const DetectInput& in, bool* sniffed = nullptr);
// Every format's secret detectors, in table order.
std::vector<SecretDetector> formatSecretDetectors();

}  // namespace formats
}  // namespace qcw
