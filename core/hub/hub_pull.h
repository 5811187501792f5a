#pragma once
// Downloads a Hugging Face repository's weights, configs and tokenizer into the hub cache
// layout (see hub_cache.h) through libcurl:
//   GET  ENDPOINT/api/models/REPO/revision/REV?blobs=true   the files at a commit, with sizes
//                                                          and the sha256 of LFS files
//   GET  ENDPOINT/REPO/resolve/COMMIT/PATH                  the file (redirects followed),
//                                                          resumed with Range from
//                                                          blobs/ETAG.incomplete
// Every file is checked against the listed size, LFS files against their sha256 and plain
// files against their git blob id; a mismatch deletes the blob and says so. Pickled weights
// (.bin .pt .pth .pkl .ckpt ...) are never fetched. 429 and 5xx are retried with backoff.
#include "hub/hub_cache.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qcw {
class RunContext;
}

namespace qcw::hub {

struct PullOptions {
    std::string endpoint;                  // empty: hub::endpoint()
    std::string token;                     // empty: hub::token()
    std::string cache;                     // empty: hub::cacheDir()
    std::vector<std::string> include;      // glob patterns; empty: weights, configs, tokenizer
    int maxAttempts = 6;                   // per request, for 429 / 5xx / dropped connections
    double backoffSeconds = 1.0;           // first wait; doubles each retry (Retry-After wins)
    long lowSpeedSeconds = 60;             // a transfer under 1 byte/s for this long is retried
};

struct PulledFile {
    std::string path;                      // in the repository
    std::string etag;                      // blob name
    std::int64_t size = 0;
    std::int64_t downloaded = 0;           // bytes fetched this time (0: blob already cached)
    bool lfs = false;
};

struct PullResult {
    std::string repo, revision, commit, snapshot;
    std::vector<PulledFile> files;
    std::vector<std::string> skipped;      // listed files left out (pickles, not included)
    std::int64_t bytesDownloaded = 0, bytesReused = 0;
    bool offline = false;                  // served from the cache without the network
};

// The default include set: *.safetensors, *.json, *.txt, *.model, *.tiktoken (weights,
// configs, tokenizer files). Pickles are refused whatever the patterns.
const std::vector<std::string>& defaultIncludes();
bool isPickle(const std::string& path);
// fnmatch-style glob ('*', '?', '[...]'); '*' also crosses '/'. A pattern without '/' is
// matched against the file name as well as the full path.
bool globMatch(const std::string& pattern, const std::string& path);

// Throws qcw::Error with one line naming the repository (404, 401, a hash mismatch, offline
// and not cached ...), qcw::Cancelled when `ctx` is cancelled (the partial blob stays and a
// later pull resumes it). Progress: stage "download", step/total in bytes, metrics
// "bytes_per_s" and "eta_s", message "FILE".
PullResult pull(const RepoRef& ref, const PullOptions& opts, RunContext& ctx);

}  // namespace qcw::hub
