#pragma once
// The corporate data processor: documents in, secrets out, a clean training dataset.
//
//   read bytes -> extract raw text (reader per type) -> scrub secrets -> parse structure,
//   build sections and instruction pairs -> dedup -> chunk by tokens -> split -> write.
//
// Nothing after the scrubber ever sees the raw text, so no stage can leak what it removed.
// Plain data only: no Qt, no torch. The UI uses readDocument() for its preview and
// buildDataset() for a run; the CLI (qcompress data build) adds writeDataset().
#include "common/run_context.h"
#include "data/scrub.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qcw {

// Text -> token ids. When none is given, tokens are counted as ceil(bytes / 4).
using TokenizeFn = std::function<std::vector<int>(const std::string&)>;

struct DataOptions {
    int maxTokens = 512;                   // training length of one text record
    int overlap = 64;                      // tokens shared by consecutive chunks of one section
    bool anonymizeIps = false;             // 10.0.1.4 -> [IP_1], same value same placeholder
    bool anonymizeEmails = false;          // a@b.com -> [EMAIL_1]
    double evalFraction = 0.0;             // share of source files held out into eval.jsonl
    std::uint64_t maxFileBytes = 64ull << 20;  // larger files are skipped with a size reason
    int maxNestingDepth = 256;             // JSON/HCL nesting deeper than this is refused
    // PDF page text beyond this is refused as a decompression bomb; 0: 64 times the file's
    // size, at least 16 MiB and at most 256 MiB.
    std::uint64_t maxPdfTextBytes = 0;
    bool dedup = true;                     // exact + near-duplicate removal
    double nearDuplicateJaccard = 0.8;     // MinHash Jaccard estimate at which records collide
    bool instructionPairs = true;          // pairs from config sections, resources, headings
    double entropyThreshold = 3.5;         // bits per char for the generic secret detector
    TokenizeFn tokenize;                   // optional real tokenizer
    std::vector<std::string> exclude;      // glob patterns (fnmatch) on the relative path or file name

    DataOptions& setMaxTokens(int v) { maxTokens = v; return *this; }
    DataOptions& setOverlap(int v) { overlap = v; return *this; }
    DataOptions& setAnonymizeIps(bool v) { anonymizeIps = v; return *this; }
    DataOptions& setAnonymizeEmails(bool v) { anonymizeEmails = v; return *this; }
    DataOptions& setEvalFraction(double v) { evalFraction = v; return *this; }
    DataOptions& setMaxFileBytes(std::uint64_t v) { maxFileBytes = v; return *this; }
    DataOptions& setMaxNestingDepth(int v) { maxNestingDepth = v; return *this; }
    DataOptions& setMaxPdfTextBytes(std::uint64_t v) { maxPdfTextBytes = v; return *this; }
    DataOptions& setDedup(bool v) { dedup = v; return *this; }
    DataOptions& setNearDuplicateJaccard(double v) { nearDuplicateJaccard = v; return *this; }
    DataOptions& setInstructionPairs(bool v) { instructionPairs = v; return *this; }
    DataOptions& setEntropyThreshold(double v) { entropyThreshold = v; return *this; }
    DataOptions& setTokenize(TokenizeFn f) { tokenize = std::move(f); return *this; }
    DataOptions& addExclude(std::string pattern) { exclude.push_back(std::move(pattern)); return *this; }

    ScrubOptions scrubOptions() const;
};

// Where a record came from. Offsets and lines refer to the file for text formats and to
// the extracted text for HTML and PDF; lines are 1-based, bytes are [start, end).
struct SourcePosition {
    std::uint64_t byteStart = 0, byteEnd = 0;
    int lineStart = 0, lineEnd = 0;
    int page = 0;                          // PDF page, 1-based; 0 elsewhere
};

// A piece of a document that is chunked on its own: a FortiGate `config` block, a
// Terraform block, an ARM resource rendered as text, a PDF page, or the whole text.
struct DocSection {
    std::string kind;                      // text, fortigate_config, terraform_block, arm_resource ...
    std::string title;
    std::string text;                      // scrubbed
    std::size_t begin = 0, end = 0;        // range in DocumentReport::text
    bool verbatim = false;                 // text == DocumentReport::text.substr(begin, end - begin)
    int page = 0;
};

struct InstructionPair {
    std::string prompt, completion;        // scrubbed
    std::string messagesJson;              // user chat records ({"messages":[...]}) kept as JSON
    std::string origin;                    // fortigate, arm, terraform, markdown, user
    std::size_t begin = 0, end = 0;        // range in DocumentReport::text
};

struct DocumentReport {
    std::string path;
    std::string type;                      // text, markdown, html, pdf, json, arm, jsonl, terraform,
                                           // yaml, fortigate, csv, unknown, binary
    std::string status;                    // ok, partial (read with problems), skipped
    std::string reason;                    // why skipped / what was wrong; empty when ok
    std::vector<std::string> warnings;
    std::uint64_t bytes = 0;
    std::string text;                      // the scrubbed extracted text (preview, chunking)
    std::vector<RedactionSpan> redactions; // offsets in `text`
    std::map<std::string, int> redactionCounts;
    std::vector<DocSection> sections;
    std::vector<InstructionPair> pairs;

    bool skipped() const { return status == "skipped"; }
    // Maps an offset in `text` back to the extracted text before scrubbing (and its line).
    SourcePosition position(std::size_t begin, std::size_t end) const;
};

// Reads, scrubs and parses one file. Never throws for a bad file: problems come back in
// status/reason. `anonymizer` carries IP/e-mail numbering across documents (may be null).
DocumentReport readDocument(const std::string& path, const DataOptions& options = {},
                            Anonymizer* anonymizer = nullptr);
// The same from bytes already in memory (tests, UI paste); `name` picks the type.
DocumentReport readDocumentBytes(const std::string& name, const std::string& bytes,
                                 const DataOptions& options = {}, Anonymizer* anonymizer = nullptr);

struct DataRecord {
    std::string kind;                      // text, pair, chat
    std::string text;                      // kind == text
    std::string prompt, completion;        // kind == pair
    std::string messagesJson;              // kind == chat
    std::string origin;                    // section kind or pair origin
    std::string source;                    // path relative to the input root
    SourcePosition position;
    int tokens = 0;
    bool eval = false;
};

struct SkippedFile {
    std::string path, reason;
};

struct FileSummary {
    std::string path, type, status, reason;
    std::vector<std::string> warnings;
    std::uint64_t bytes = 0;
    int records = 0;
    std::map<std::string, int> redactions;
};

struct DatasetBuildResult {
    std::vector<DataRecord> records;       // train and eval, in source order (see DataRecord::eval)
    std::vector<FileSummary> files;        // every file looked at
    std::vector<SkippedFile> skipped;
    std::map<std::string, int> redactions; // per kind, secrets only
    std::map<std::string, int> anonymized; // ip, email
    int filesRead = 0;
    int exactDuplicates = 0, nearDuplicates = 0;
    int pairs = 0;
    std::vector<std::string> evalSources;
    std::uint64_t bytesRead = 0;
    double seconds = 0;
    std::string tokenizer;                 // "callback" or "approx-bytes/4"
    int maxTokens = 0, overlap = 0;
    double evalFraction = 0;

    int trainRecords() const;
    int evalRecords() const;
    std::string manifestJson() const;      // the manifest.json text
};

// A file the walk over the inputs found: its path and its path relative to the input root
// (FileSummary::path; with several inputs prefixed by the input's own name).
struct InputFile {
    std::string path, rel;
};

struct InputListing {
    std::vector<InputFile> files;          // in the order buildDataset reads them
    std::vector<SkippedFile> skipped;      // hidden, excluded, links that loop or dangle, special files
};

// The walk of buildDataset alone (nothing is opened): lets a UI list the files before reading.
InputListing listInputFiles(const std::vector<std::string>& inputs, const std::vector<std::string>& exclude = {});

// Walks files and directories (symlink loops, special files and oversize files are
// reported, never followed or opened), reads everything, dedups, chunks and splits.
// Throws qcw::Cancelled when `ctx` is cancelled, qcw::Error when no input exists.
DatasetBuildResult buildDataset(const std::vector<std::string>& inputs, const DataOptions& options,
                                RunContext& ctx = RunContext::none());

// Writes dataset.jsonl, eval.jsonl (when there are eval records) and manifest.json into
// `outDir`, which appears whole or not at all.
void writeDataset(const DatasetBuildResult& result, const std::string& outDir, bool replace = false);

// One record as its JSON line (no newline).
std::string recordJsonLine(const DataRecord& r);

}  // namespace qcw
