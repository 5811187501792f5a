// qcompress probe MODEL [--secrets FILE --corpus DIR] --json: the memorisation probe.
#include "cli.h"
#include "common/error.h"
#include "eval/memorisation.h"
#include "model/engine.h"
#include "tokenizer/tokenizer.h"

#include <cstdio>
#include <filesystem>

QCW_COMMAND(72) {
    struct Opts {
        std::string model, secrets, corpus;
        qcw::ProbeOptions probe;
        int threads = 0;
        bool json = false, verbose = false;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand(
        "probe", "Memorisation probe: prompt with the text before each planted secret and check the completion");
    sub->add_option("MODEL", o->model, "Model directory (with tokenizer.json)")->required();
    sub->add_option("--secrets", o->secrets, "JSONL of {\"file\",\"secret\"} (default: the corpus's PLANTED_SECRETS.jsonl)");
    sub->add_option("--corpus", o->corpus, "Folder the secrets' files are relative to (default: the bundled corpus)");
    sub->add_option("--context-chars", o->probe.contextChars, "Characters of preceding text in each prompt (default 256)")
        ->check(CLI::Range(1, 1 << 20));
    sub->add_option("--extra-tokens", o->probe.extraTokens, "Tokens generated beyond the secret's length (default 8)")
        ->check(CLI::Range(0, 4096));
    sub->add_option("--threads", o->threads, "CPU threads (0: all cores)");
    sub->add_flag("--verbose", o->verbose, "Print each completion (contains no secret unless one leaked)");
    sub->add_flag("--json", o->json, "Print one JSON object on stdout");
    sub->callback([o] {
        const std::string corpus = o->corpus.empty() ? qcw::cli::defaultCorpusDir() : o->corpus;
        const std::string secrets =
            o->secrets.empty() ? (std::filesystem::path(corpus) / "PLANTED_SECRETS.jsonl").string() : o->secrets;
        const auto items = qcw::loadProbeItems(secrets, corpus, o->probe);
        auto tok = qcw::loadTokenizerForModel(o->model);
        if (!tok) qcw::fail(o->model, "the probe needs a tokenizer (tokenizer.json) in the model directory");
        auto& ctx = qcw::cli::interruptibleContext();
        auto model = qcw::Engine::load(o->model, {"cpu", "auto", o->threads}, ctx);
        const auto r = qcw::probeMemorisation(*model, *tok, items, o->probe, ctx);
        nlohmann::json rows = nlohmann::json::array();
        for (std::size_t i = 0; i < r.items.size(); ++i) {
            const auto& it = r.items[i];
            nlohmann::json row = {{"id", it.id}, {"leaked", it.leaked}, {"prefix_chars", it.prefixChars},
                                  {"secret_chars", items[i].secret.size()}};
            if (o->verbose) row["completion"] = it.completion;
            rows.push_back(row);
        }
        if (o->json) {
            qcw::cli::printJson({{"probed", r.items.size()}, {"leaked", r.leaked}, {"longest_prefix_chars", r.longestPrefix},
                                 {"items", rows}});
        } else {
            for (std::size_t i = 0; o->verbose && i < r.items.size(); ++i)
                std::printf("%-60s %s prefix %zu/%zu\n", r.items[i].id.c_str(), r.items[i].leaked ? "LEAKED" : "kept",
                            r.items[i].prefixChars, items[i].secret.size());
            std::printf("probed %zu secrets: %zu completed in full, longest reproduced prefix %zu characters\n",
                        r.items.size(), r.leaked, r.longestPrefix);
        }
    });
}
