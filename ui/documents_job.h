#pragma once
// The documents pane's background job: list the inputs, read and scrub them into records
// (core's data/data.h, with the open model's tokenizer for exact token counts) and, when asked,
// write the dataset. The pane hands a Request to a worker and gets back an Analysis: the
// summary the pane shows, not the records.
#include "data/data.h"

#include <QString>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace qcw {
class RunContext;
}

namespace qcw::ui {

// What the pane asks of a worker.
struct DocumentsRequest {
    std::vector<std::string> inputs;
    std::vector<std::string> exclude;
    int maxTokens = 512;
    double evalFraction = 0.0;
    bool anonymizeIps = false, anonymizeEmails = false;
    std::string modelDir;  // the open model, for its tokenizer; empty: estimate tokens
    std::string outDir;    // set: write the dataset there
    bool replace = false;

    qcw::DataOptions options() const;
};

struct DocumentTypeCount {
    int documents = 0, records = 0;
    std::uint64_t bytes = 0;
};

// What a reading (or building) job hands back.
struct DocumentsAnalysis {
    std::vector<qcw::FileSummary> files;
    int filesRead = 0, skipped = 0;
    int records = 0, trainRecords = 0, evalRecords = 0, pairs = 0;
    int exactDuplicates = 0, nearDuplicates = 0;
    std::int64_t characters = 0, tokens = 0;
    QString tokenizer;  // the model whose tokenizer counted; empty: bytes/4 estimate
    std::map<std::string, int> redactions, anonymized;
    std::map<std::string, DocumentTypeCount> types;
    std::uint64_t bytesRead = 0;
    double seconds = 0;
    QString writtenTo;
};

// The core's dataset build (replaceable: tests slow it down to exercise cancellation).
using DatasetBuildFn = std::function<qcw::DatasetBuildResult(const std::vector<std::string>& inputs,
                                                             const qcw::DataOptions& options, qcw::RunContext& ctx)>;

// The job, on a worker thread: `onListing` gets the walk of the inputs (the core's reading
// order) before the first file is read. May throw qcw::Error or qcw::Cancelled.
DocumentsAnalysis runDocumentsJob(const DocumentsRequest& r, const DatasetBuildFn& build, qcw::RunContext& ctx,
                                  const std::function<void(const qcw::InputListing&)>& onListing);

}  // namespace qcw::ui
