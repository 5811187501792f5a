// Plain text (.txt, .log, .rst, .adoc) and whatever no other format claims: one verbatim
// section. Last in the table: its sniff() takes every file.
#include "data/formats/format.h"
#include "data/formats/util.h"

namespace qcw::formats {

namespace {

class TextFormat final : public DocumentFormat {
public:
    const char* id() const override { return "text"; }
    const char* displayName() const override { return "Plain text"; }
    Claim detect(const DetectInput& in) const override {
        for (const char* e : {"txt", "text", "log", "rst", "adoc"})
            if (in.ext == e) return Claim::Extension;
        return Claim::None;
    }
    bool sniff(const DetectInput&) const override { return true; }
    void structure(DocumentReport& r, const DataOptions&) const override { addWholeSection(r, "text"); }
};

}  // namespace

const DocumentFormat& textFormat() {
    static const TextFormat f;
    return f;
}

}  // namespace qcw::formats
