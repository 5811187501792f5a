#pragma once
// The Hugging Face hub cache, read exactly as huggingface_hub writes it, so transformers,
// llama.cpp and this tool share one copy:
//   CACHE/models--ORG--NAME/blobs/ETAG            file contents, named by their hash
//   CACHE/models--ORG--NAME/snapshots/COMMIT/PATH  relative symlinks to ../../blobs/ETAG
//   CACHE/models--ORG--NAME/refs/REVISION          the commit a branch or tag pointed at
// No network here and no torch: plain files.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qcw {
class RunContext;
}

namespace qcw::hub {

struct RepoRef {
    std::string repo;                 // "org/name" (or "name")
    std::string revision = "main";    // branch, tag or 40-hex commit
    std::string str() const { return revision == "main" ? repo : repo + "@" + revision; }
};

// "org/name" or "org/name@revision"; nullopt when `s` is not shaped like a hub id. Hub ids
// have exactly one '/', letters, digits and '-', '_', '.' (no "..", no leading '.' or '-').
std::optional<RepoRef> parseRepoRef(const std::string& s);
// Throws qcw::Error naming `s` when it is not a hub id.
RepoRef requireRepoRef(const std::string& s);
bool isCommitHash(const std::string& rev);

// HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, else
// XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
std::string cacheDir();
// "models--org--name"
std::string repoFolderName(const std::string& repo);
std::string repoFolder(const std::string& repo, const std::string& cache);
// HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to 1/true/yes/on.
bool offlineMode();
// HF_ENDPOINT without a trailing '/', default https://huggingface.co.
std::string endpoint();
// --token, else HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the file HF_HOME/token
// (where `huggingface-cli login` stores it); empty when none.
std::string token(const std::string& given = {});

// The commit a revision names in the cache (the revision itself when it is a commit that has
// a snapshot); nullopt when the cache does not know it.
std::optional<std::string> cachedCommit(const RepoRef& ref, const std::string& cache);
// The snapshot folder of a revision when it is cached and holds a config.json; nullopt
// otherwise.
std::optional<std::string> cachedSnapshot(const RepoRef& ref, const std::string& cache);

struct CachedModel {
    std::string repo;          // org/name
    std::string revision;      // the ref that points at the commit ("main"), or the commit
    std::string commit;
    std::string path;          // the snapshot folder
    std::string architecture;  // from config.json
    std::int64_t bytes = 0;    // the snapshot's files (blobs followed)
    bool hasWeights = false;   // a *.safetensors in the snapshot
};
// The Phi models (config.json model_type "phi" or a Phi* architecture) with a snapshot in
// the cache, one entry per snapshot; sorted by repo. Unreadable entries are skipped.
std::vector<CachedModel> listCachedModels(const std::string& cache, bool phiOnly = true);

// The MODEL argument hook of the CLI and the workbench: an existing path is returned as is;
// a hub id resolves to its cached snapshot; a hub id that is not cached is pulled through
// `pull` (see hub_pull.h) unless offline mode is on, in which case it is a one-line error.
// Anything else is returned unchanged so the caller reports the missing folder itself.
std::string resolveModelArg(const std::string& arg, RunContext& ctx);

}  // namespace qcw::hub
