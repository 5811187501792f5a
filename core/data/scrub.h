#pragma once
// Secret scrubbing: finds credentials in raw text and replaces each with a typed
// placeholder such as [REDACTED:fortigate_psk]. Hand-written scanners (no std::regex: it
// recurses per character and is slow), linear in the text size.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace qcw {

struct ScrubOptions {
    bool anonymizeIps = false;
    bool anonymizeEmails = false;
    double entropyThreshold = 3.5;     // bits/char for the generic detector (length >= 16)

    ScrubOptions& setAnonymizeIps(bool v) { anonymizeIps = v; return *this; }
    ScrubOptions& setAnonymizeEmails(bool v) { anonymizeEmails = v; return *this; }
    ScrubOptions& setEntropyThreshold(double v) { entropyThreshold = v; return *this; }
};

// One replacement. offset/length locate the placeholder in the scrubbed text;
// originalOffset/originalLength the removed bytes in the input; newlinesRemoved keeps
// line numbers mappable after a multi-line key collapses into one placeholder.
struct RedactionSpan {
    std::size_t offset = 0, length = 0;
    std::size_t originalOffset = 0, originalLength = 0;
    int newlinesRemoved = 0;
    std::string kind;                  // fortigate_psk, private_key, ip, email ...
    bool anonymization() const { return kind == "ip" || kind == "email"; }
};

// Same value -> same placeholder ([IP_1], [EMAIL_2]) across every document it sees.
class Anonymizer {
public:
    std::string placeholder(const std::string& kind, const std::string& value);
    std::size_t distinct(const std::string& kind) const;

private:
    std::map<std::string, std::map<std::string, int>> ids_;
};

struct ScrubResult {
    std::string text;
    std::vector<RedactionSpan> spans;  // sorted by offset, non-overlapping
    std::map<std::string, int> counts; // per kind (anonymizations included as ip/email)
};

ScrubResult scrubText(const std::string& raw, const ScrubOptions& options = {},
                      Anonymizer* anonymizer = nullptr);

// Shannon entropy of the bytes, bits per byte.
double shannonEntropy(const char* data, std::size_t n);

}  // namespace qcw
