// qcompress tokenize: encode a text file with a model's (or a given) byte-level BPE
// tokenizer, or train a new one.
//   qcompress tokenize MODEL --text-file FILE [--json]
//   qcompress tokenize --tokenizer tokenizer.json --text-file FILE [--json]
//   qcompress tokenize --vocab encoder.json --merges vocab.bpe --text-file FILE [--json]
//   qcompress tokenize train --corpus DIR --vocab-size N --out tokenizer.json [--special TOK]...
#include "cli.h"
#include "common/error.h"
#include "common/files.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

namespace fs = std::filesystem;

namespace qcw::cli {

namespace {

struct TokenizeArgs {
    std::string model;
    std::string tokenizerJson;
    std::string vocab;
    std::string merges;
    std::string textFile;
    std::string text;
    bool json = false;
    bool noSpecial = false;
};

struct TrainArgs {
    std::string corpus;
    int vocabSize = 0;
    std::string out;
    std::vector<std::string> special;
    long long minFrequency = 2;
    bool json = false;
};

std::unique_ptr<Tokenizer> chooseTokenizer(const TokenizeArgs& a) {
    const int given = int(!a.model.empty()) + int(!a.tokenizerJson.empty()) + int(!a.vocab.empty() || !a.merges.empty());
    if (given != 1) fail("tokenize", "give exactly one of MODEL, --tokenizer FILE or --vocab FILE --merges FILE");
    if (!a.tokenizerJson.empty()) return Tokenizer::fromTokenizerJsonFile(a.tokenizerJson);
    if (!a.vocab.empty() || !a.merges.empty()) {
        if (a.vocab.empty() || a.merges.empty()) fail("tokenize", "--vocab and --merges go together");
        return Tokenizer::fromGpt2Files(a.vocab, a.merges);
    }
    std::error_code ec;
    if (!fs::is_directory(a.model, ec)) fail(a.model, "model directory does not exist");
    auto tok = loadTokenizerForModel(a.model);
    if (!tok)
        fail(a.model, "has no tokenizer (tokenizer.json, or vocab.json + merges.txt): a tokenizer is needed, "
                      "give --tokenizer FILE or --vocab/--merges");
    return tok;
}

void runTokenize(const TokenizeArgs& a) {
    if (a.textFile.empty() == a.text.empty()) fail("tokenize", "give --text-file FILE (or --text STRING)");
    auto tok = chooseTokenizer(a);
    // Read bytes as they are: invalid UTF-8 is reported, not an error.
    std::string text = a.text;
    if (!a.textFile.empty()) text = readTextFile(a.textFile, std::size_t(1) << 30);
    EncodeOptions opt;
    opt.matchSpecialTokens = !a.noSpecial;
    const auto t0 = std::chrono::steady_clock::now();
    const EncodeResult r = tok->encode(text, opt);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r.invalidUtf8)
        std::fprintf(stderr, "tokenize: %zu invalid UTF-8 sequence(s) replaced by U+FFFD\n", r.invalidUtf8);
    if (a.json) {
        nlohmann::json j;
        j["ids"] = r.ids;
        j["count"] = r.ids.size();
        j["bytes"] = text.size();
        j["invalid_utf8"] = r.invalidUtf8;
        j["vocab_size"] = tok->vocabSize();
        j["seconds"] = secs;
        printJson(j);
        return;
    }
    std::string line;
    line.reserve(r.ids.size() * 6);
    for (std::size_t i = 0; i < r.ids.size(); ++i) {
        if (i) line += ' ';
        line += std::to_string(r.ids[i]);
    }
    std::cout << line << std::endl;
}

std::vector<std::string> corpusTexts(const std::string& dir, std::size_t& files) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) fail(dir, "corpus directory does not exist");
    // A dataset folder from `qcompress data build`: its scrubbed training records.
    if (fs::is_regular_file(fs::path(dir) / "dataset.jsonl", ec)) {
        auto texts = qcw::cli::readDatasetTexts((fs::path(dir) / "dataset.jsonl").string());
        if (texts.empty()) fail(dir, "dataset.jsonl has no records");
        files = texts.size();
        return texts;
    }
    std::vector<std::string> paths;
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (it->is_regular_file(ec)) paths.push_back(it->path().string());
    }
    std::sort(paths.begin(), paths.end());  // deterministic order
    std::vector<std::string> texts;
    for (const auto& p : paths) {
        std::string t = readTextFile(p, std::size_t(1) << 30);
        if (t.find('\0') != std::string::npos) continue;  // binary file
        texts.push_back(std::move(t));
    }
    if (texts.empty()) fail(dir, "corpus directory has no text files");
    files = texts.size();
    return texts;
}

void runTrain(const TrainArgs& a) {
    std::size_t files = 0;
    const std::vector<std::string> texts = corpusTexts(a.corpus, files);
    BpeTrainerOptions opt;
    opt.vocabSize = a.vocabSize;
    opt.specialTokens = a.special;
    opt.minFrequency = a.minFrequency;
    const auto t0 = std::chrono::steady_clock::now();
    BpeTrainResult r = trainBpe(texts, opt, interruptibleContext());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.tokenizer->saveTokenizerJson(a.out);
    std::size_t tokens = 0;
    for (const auto& t : texts) tokens += r.tokenizer->encode(t).ids.size();
    const double bpt = tokens ? double(r.corpusBytes) / double(tokens) : 0.0;
    if (a.json) {
        nlohmann::json j;
        j["out"] = a.out;
        j["files"] = files;
        j["corpus_bytes"] = r.corpusBytes;
        j["unique_words"] = r.uniqueWords;
        j["vocab_size"] = r.tokenizer->vocabSize();
        j["merges"] = r.merges;
        j["stopped_early"] = r.stoppedEarly;
        j["invalid_utf8"] = r.invalidUtf8;
        j["bytes_per_token"] = bpt;
        j["seconds"] = secs;
        printJson(j);
        return;
    }
    std::printf("wrote %s: vocab %d (%zu merges%s) from %zu files, %zu bytes; %.3f bytes/token on the corpus; %.1f s\n",
                a.out.c_str(), r.tokenizer->vocabSize(), r.merges,
                r.stoppedEarly ? ", stopped early: no pair left with min frequency" : "", files, r.corpusBytes, bpt, secs);
}

}  // namespace

QCW_COMMAND(30) {
    auto args = std::make_shared<TokenizeArgs>();
    auto* cmd = root.add_subcommand("tokenize", "Encode text with a byte-level BPE tokenizer, or train one (tokenize train)");
    cmd->add_option("model", args->model, "Model directory holding tokenizer.json (or vocab.json + merges.txt)");
    cmd->add_option("--tokenizer", args->tokenizerJson, "Hugging Face tokenizer.json");
    cmd->add_option("--vocab", args->vocab, "GPT-2 encoder.json / vocab.json (with --merges)");
    cmd->add_option("--merges", args->merges, "GPT-2 vocab.bpe / merges.txt (with --vocab)");
    cmd->add_option("--text-file", args->textFile, "File to encode (bytes as they are; invalid UTF-8 is replaced and reported)");
    cmd->add_option("--text", args->text, "Text to encode instead of --text-file");
    cmd->add_flag("--json", args->json, "Print {\"ids\":[...],\"count\":N,\"invalid_utf8\":N,...}");
    cmd->add_flag("--no-special", args->noSpecial, "Encode special tokens' text as plain text");

    auto targs = std::make_shared<TrainArgs>();
    auto* train = cmd->add_subcommand("train", "Train a byte-level BPE tokenizer and write tokenizer.json");
    train->add_option("--corpus", targs->corpus, "Directory of text files (read recursively, sorted), or a dataset folder (its dataset.jsonl)")->required();
    train->add_option("--vocab-size", targs->vocabSize, "Vocabulary size, special tokens included")->required()->check(CLI::Range(257, 10'000'000));
    train->add_option("--out", targs->out, "tokenizer.json to write (atomically)")->required();
    train->add_option("--special", targs->special, "Special token (repeatable), e.g. \"<|endoftext|>\"");
    train->add_option("--min-frequency", targs->minFrequency, "Never merge a pair seen fewer times (default 2)");
    train->add_flag("--json", targs->json, "Print a JSON summary");
    train->callback([targs] { runTrain(*targs); });

    cmd->callback([cmd, args] {
        if (cmd->got_subcommand("train")) return;
        runTokenize(*args);
    });
}

}  // namespace qcw::cli
