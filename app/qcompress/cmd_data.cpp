// qcompress data build|inspect: corporate documents -> scrubbed training dataset.
#include "cli.h"
#include "common/error.h"
#include "data/data.h"
#if __has_include("tokenizer/tokenizer.h")
#include "tokenizer/tokenizer.h"
#define QCW_DATA_HAS_TOKENIZER 1
#endif

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

namespace {

struct DataBuildArgs {
    std::vector<std::string> inputs, exclude;
    std::string out;
    std::string tokenizer;  // tokenizer.json or a model directory; empty: approx bytes/4
    int maxTokens = 512;
    int overlap = 64;
    bool anonymizeIps = false, anonymizeEmails = false;
    double evalFraction = 0.0;
    double maxFileMb = 64.0;
    double nearDuplicate = 0.8;
    bool noDedup = false, noPairs = false, replace = false, json = false;
};

qcw::DataOptions toOptions(const DataBuildArgs& a) {
    qcw::DataOptions o;
    o.setMaxTokens(a.maxTokens)
        .setOverlap(a.overlap)
        .setAnonymizeIps(a.anonymizeIps)
        .setAnonymizeEmails(a.anonymizeEmails)
        .setEvalFraction(a.evalFraction)
        .setMaxFileBytes(std::uint64_t(a.maxFileMb * 1024.0 * 1024.0))
        .setNearDuplicateJaccard(a.nearDuplicate)
        .setDedup(!a.noDedup)
        .setInstructionPairs(!a.noPairs);
    for (const auto& e : a.exclude) o.addExclude(e);
    return o;
}

void runBuild(const DataBuildArgs& given) {
    namespace fs = std::filesystem;
    auto& ctx = qcw::cli::interruptibleContext();
    DataBuildArgs a = given;
    if (a.inputs.empty()) {
        // The bundled sample corpus is the default; its list of planted test secrets is not data.
        a.inputs.push_back(qcw::cli::defaultCorpusDir());
        a.exclude.push_back("PLANTED_SECRETS.jsonl");
        std::fprintf(stderr, "qcompress: no --in given; using the bundled sample corpus %s\n", a.inputs[0].c_str());
    }
    qcw::DataOptions options = toOptions(a);
    // An output directory inside an input directory is not read back as input.
    std::error_code ec;
    fs::path out = fs::weakly_canonical(a.out, ec);
    for (const auto& in : a.inputs) {
        fs::path root = fs::weakly_canonical(in, ec);
        fs::path rel = out.lexically_relative(root);
        if (!ec && !rel.empty() && *rel.begin() != ".." && rel != ".") {
            options.addExclude(a.inputs.size() > 1 ? root.filename().string() + "/" + rel.string() : rel.string());
        }
    }
#ifdef QCW_DATA_HAS_TOKENIZER
    std::shared_ptr<qcw::Tokenizer> tok;
    if (!a.tokenizer.empty()) {
        tok = fs::is_directory(a.tokenizer) ? qcw::loadTokenizerForModel(a.tokenizer)
                                            : qcw::Tokenizer::fromTokenizerJsonFile(a.tokenizer);
        if (!tok) qcw::fail(a.tokenizer, "no tokenizer.json or vocab.json + merges.txt in this directory");
        options.setTokenize([tok](const std::string& text) { return tok->encodeIds(text); });
    }
#else
    if (!a.tokenizer.empty()) qcw::fail("--tokenizer", "this build has no tokenizer library");
#endif
    qcw::DatasetBuildResult res = qcw::buildDataset(a.inputs, options, ctx);
    ctx.checkCancelled();
    qcw::writeDataset(res, a.out, a.replace);
    int redacted = 0;
    for (const auto& [k, v] : res.redactions) redacted += v;
    if (a.json) {
        nlohmann::json j = nlohmann::json::parse(res.manifestJson());
        j.erase("files");
        j["out"] = a.out;
        qcw::cli::printJson(j);
        return;
    }
    std::printf("%s: %zu records (%d train, %d eval, %d pairs) from %d files, %zu skipped, %d secrets redacted, "
                "%d exact + %d near duplicates dropped, %.2f MB/s\n",
                a.out.c_str(), res.records.size(), res.trainRecords(), res.evalRecords(), res.pairs, res.filesRead,
                res.skipped.size(), redacted, res.exactDuplicates, res.nearDuplicates,
                res.seconds > 0 ? double(res.bytesRead) / 1e6 / res.seconds : 0.0);
    for (const auto& s : res.skipped) std::printf("  skipped %s: %s\n", s.path.c_str(), s.reason.c_str());
}

void runInspect(const std::string& path, bool ips, bool emails, bool json) {
    qcw::DocumentReport d =
        qcw::readDocument(path, qcw::DataOptions().setAnonymizeIps(ips).setAnonymizeEmails(emails));
    if (json) {
        nlohmann::json j;
        j["path"] = d.path;
        j["type"] = d.type;
        j["status"] = d.status;
        j["reason"] = d.reason;
        j["warnings"] = d.warnings;
        j["bytes"] = d.bytes;
        j["redactions"] = d.redactionCounts;
        j["sections"] = d.sections.size();
        j["pairs"] = d.pairs.size();
        j["text"] = d.text;
        qcw::cli::printJson(j);
        return;
    }
    std::printf("%s: %s, %s%s%s\n", d.path.c_str(), d.type.c_str(), d.status.c_str(), d.reason.empty() ? "" : ": ",
                d.reason.c_str());
    for (const auto& w : d.warnings) std::printf("  warning: %s\n", w.c_str());
    for (const auto& [k, v] : d.redactionCounts) std::printf("  redacted %s: %d\n", k.c_str(), v);
    std::printf("  %zu sections, %zu pairs\n----\n%s\n", d.sections.size(), d.pairs.size(), d.text.c_str());
}

}  // namespace

QCW_COMMAND(60) {
    auto* data = root.add_subcommand("data", "Corporate documents -> scrubbed, deduplicated training dataset");
    data->require_subcommand(1);

    auto args = std::make_shared<DataBuildArgs>();
    auto* build = data->add_subcommand(
        "build",
        "Read a document folder (text, Markdown, HTML, PDF, JSON/ARM, Terraform, YAML, FortiGate config, CSV, "
        "JSONL pairs), scrub secrets, dedup, chunk; writes dataset.jsonl, eval.jsonl and manifest.json");
    build->add_option("--in", args->inputs, "Input directory or file (repeatable; default: the bundled sample corpus); never modified");
    build->add_option("--out", args->out, "Output directory; appears whole or not at all")->required();
    build->add_option("--max-tokens", args->maxTokens, "Training length of a text record in tokens")
        ->check(CLI::Range(8, 1 << 20));
    build->add_option("--tokenizer", args->tokenizer,
                      "Count tokens with this tokenizer.json or model directory (default: bytes/4 estimate)");
    build->add_option("--overlap", args->overlap, "Tokens shared by consecutive chunks")->check(CLI::Range(0, 1 << 20));
    build->add_flag("--anonymize-ips", args->anonymizeIps, "Replace IPv4 addresses with [IP_n]");
    build->add_flag("--anonymize-emails", args->anonymizeEmails, "Replace e-mail addresses with [EMAIL_n]");
    build->add_option("--eval-fraction", args->evalFraction,
                      "Share of source files held out into eval.jsonl (deterministic by path)")
        ->check(CLI::Range(0.0, 0.99));
    build->add_option("--max-file-mb", args->maxFileMb, "Skip files larger than this (MiB)")->check(CLI::PositiveNumber);
    build->add_option("--near-duplicate", args->nearDuplicate, "MinHash Jaccard at which records count as duplicates")
        ->check(CLI::Range(0.1, 1.0));
    build->add_option("--exclude", args->exclude, "Skip files whose relative path or name matches this glob (repeatable)");
    build->add_flag("--no-dedup", args->noDedup, "Keep duplicate records");
    build->add_flag("--no-pairs", args->noPairs, "Do not derive instruction pairs from structure");
    build->add_flag("--replace", args->replace, "Replace an existing non-empty output directory");
    build->add_flag("--json", args->json, "Print the manifest summary as one JSON object");
    build->callback([args] {
        if (args->overlap >= args->maxTokens) qcw::fail("data build", "--overlap must be smaller than --max-tokens");
        runBuild(*args);
    });

    auto path = std::make_shared<std::string>();
    auto flags = std::make_shared<std::array<bool, 3>>();
    auto* inspect = data->add_subcommand("inspect", "Read one document and print its scrubbed text and redactions");
    inspect->add_option("file", *path, "Document to read (read-only)")->required();
    inspect->add_flag("--anonymize-ips", (*flags)[0], "Replace IPv4 addresses with [IP_n]");
    inspect->add_flag("--anonymize-emails", (*flags)[1], "Replace e-mail addresses with [EMAIL_n]");
    inspect->add_flag("--json", (*flags)[2], "One JSON object on stdout");
    inspect->callback([path, flags] { runInspect(*path, (*flags)[0], (*flags)[1], (*flags)[2]); });
}
