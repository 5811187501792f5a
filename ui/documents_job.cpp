#include "ui/documents_job.h"

#include "common/error.h"
#include "common/run_context.h"
#include "tokenizer/tokenizer.h"

#include <QFileInfo>

#include <algorithm>
#include <memory>

namespace qcw::ui {

namespace {

std::int64_t codePoints(const std::string& s) {
    std::int64_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

DocumentsAnalysis summarise(const qcw::DatasetBuildResult& r) {
    DocumentsAnalysis a;
    a.files = r.files;
    a.filesRead = r.filesRead;
    a.skipped = static_cast<int>(r.skipped.size());
    a.records = static_cast<int>(r.records.size());
    a.trainRecords = r.trainRecords();
    a.evalRecords = r.evalRecords();
    a.pairs = r.pairs;
    a.exactDuplicates = r.exactDuplicates;
    a.nearDuplicates = r.nearDuplicates;
    a.redactions = r.redactions;
    a.anonymized = r.anonymized;
    a.bytesRead = r.bytesRead;
    a.seconds = r.seconds;
    for (const auto& rec : r.records) {
        a.tokens += rec.tokens;
        a.characters += rec.kind == "text"   ? codePoints(rec.text)
                        : rec.kind == "pair" ? codePoints(rec.prompt) + codePoints(rec.completion)
                                             : codePoints(rec.messagesJson);
    }
    for (const auto& f : r.files) {
        if (f.status == "skipped") continue;
        DocumentTypeCount& t = a.types[f.type];
        ++t.documents;
        t.records += f.records;
        t.bytes += f.bytes;
    }
    return a;
}

}  // namespace

qcw::DataOptions DocumentsRequest::options() const {
    qcw::DataOptions o;
    o.setMaxTokens(maxTokens)
        .setOverlap(std::min(64, maxTokens / 4))
        .setEvalFraction(evalFraction)
        .setAnonymizeIps(anonymizeIps)
        .setAnonymizeEmails(anonymizeEmails);
    for (const auto& e : exclude) o.addExclude(e);
    return o;
}

DocumentsAnalysis runDocumentsJob(const DocumentsRequest& r, const DatasetBuildFn& build, qcw::RunContext& ctx,
                                  const std::function<void(const qcw::InputListing&)>& onListing) {
    qcw::DataOptions o = r.options();
    // The listing shows every file as queued before the first is read. The same walk (same
    // inputs and patterns) gives the core's reading order.
    onListing(qcw::listInputFiles(r.inputs, o.exclude));
    DocumentsAnalysis a;
    std::shared_ptr<qcw::Tokenizer> tok;
    if (!r.modelDir.empty()) {
        try {
            tok = std::shared_ptr<qcw::Tokenizer>(qcw::loadTokenizerForModel(r.modelDir));
        } catch (const std::exception&) {
            tok.reset();  // a broken tokenizer: counts fall back to the estimate
        }
    }
    if (tok) {
        o.setTokenize([tok](const std::string& text) { return tok->encodeIds(text); });
        a.tokenizer = QFileInfo(QString::fromStdString(r.modelDir)).fileName();
    }
    const qcw::DatasetBuildResult res = build(r.inputs, o, ctx);
    ctx.checkCancelled();
    if (!r.outDir.empty()) qcw::writeDataset(res, r.outDir, r.replace);
    const QString tokenizer = a.tokenizer;
    a = summarise(res);
    a.tokenizer = tokenizer;
    if (!r.outDir.empty()) a.writtenTo = QString::fromStdString(r.outDir);
    return a;
}

}  // namespace qcw::ui
