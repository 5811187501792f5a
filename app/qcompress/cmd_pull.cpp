// qcompress pull REPO[@REV] [--include GLOB]... [--token T] [--json]: a Hugging Face repository's
// safetensors, configs and tokenizer into the hub cache (huggingface_hub's layout), resumable
// and verified. HF_ENDPOINT, HF_HUB_CACHE / HF_HOME, HF_TOKEN and HF_HUB_OFFLINE are honoured.
#include "cli.h"
#include "hub/hub_pull.h"

#include <iostream>

QCW_COMMAND(5) {
    struct Opts {
        std::string repo, token, cache;
        std::vector<std::string> include;
        bool json = false;
    };
    auto o = std::make_shared<Opts>();
    auto* sub = root.add_subcommand("pull", "Download a model from the Hugging Face hub into its cache");
    sub->add_option("REPO", o->repo, "ORG/NAME or ORG/NAME@REVISION (branch, tag or commit)")->required();
    sub->add_option("--include", o->include,
                    "Only files matching these globs (default: *.safetensors *.json *.txt *.model *.tiktoken); "
                    "pickles (.bin .pt .pkl .ckpt) are never fetched")
        ->take_all();
    sub->add_option("--token", o->token, "Access token for gated or private repositories (default: HF_TOKEN)");
    sub->add_option("--cache", o->cache, "Cache folder (default: HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub)");
    sub->add_flag("--json", o->json, "Print a JSON summary on stdout");
    sub->callback([o] {
        const auto ref = qcw::hub::requireRepoRef(o->repo);
        qcw::hub::PullOptions opts;
        opts.token = o->token;
        opts.cache = o->cache;
        opts.include = o->include;
        if (const char* b = std::getenv("QCW_HUB_BACKOFF_S")) opts.backoffSeconds = std::atof(b);
        const auto r = qcw::hub::pull(ref, opts, qcw::cli::interruptibleContext());
        for (const auto& s : r.skipped) std::cerr << "skipped " << s << "\n";
        std::cerr << ref.str() << " @ " << r.commit << ": " << r.files.size() << " files, "
                  << r.bytesDownloaded << " bytes downloaded, " << r.bytesReused << " bytes already in the cache"
                  << (r.offline ? " (offline)" : "") << "\n"
                  << r.snapshot << std::endl;
        if (o->json) {
            nlohmann::json files = nlohmann::json::array();
            for (const auto& f : r.files)
                files.push_back({{"path", f.path}, {"blob", f.etag}, {"size", f.size}, {"downloaded", f.downloaded}, {"lfs", f.lfs}});
            qcw::cli::printJson({{"repo", r.repo}, {"revision", r.revision}, {"commit", r.commit}, {"snapshot", r.snapshot},
                                 {"files", files}, {"skipped", r.skipped}, {"bytes_downloaded", r.bytesDownloaded},
                                 {"bytes_reused", r.bytesReused}, {"offline", r.offline}});
        } else {
            std::cout << r.snapshot << std::endl;
        }
    });
}
