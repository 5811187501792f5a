#include "hub/hub_pull.h"

#include "common/error.h"
#include "common/files.h"
#include "common/run_context.h"

#include <fnmatch.h>
#include <nlohmann/json.hpp>
#ifndef QCW_HUB_NO_CURL
#include <curl/curl.h>
#include <openssl/evp.h>
#endif

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace qcw::hub {

const std::vector<std::string>& defaultIncludes() {
    static const std::vector<std::string> v{"*.safetensors", "*.json", "*.txt", "*.model", "*.tiktoken"};
    return v;
}

bool isPickle(const std::string& path) {
    static const char* exts[] = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib", ".npy", ".npz", ".h5", ".msgpack"};
    std::string lower = path;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const char* e : exts) {
        const std::string s(e);
        if (lower.size() >= s.size() && lower.compare(lower.size() - s.size(), s.size(), s) == 0) return true;
    }
    return false;
}

bool globMatch(const std::string& pattern, const std::string& path) {
    if (::fnmatch(pattern.c_str(), path.c_str(), 0) == 0) return true;
    if (pattern.find('/') == std::string::npos) {
        const auto slash = path.rfind('/');
        if (slash != std::string::npos && ::fnmatch(pattern.c_str(), path.c_str() + slash + 1, 0) == 0) return true;
    }
    return false;
}

#ifdef QCW_HUB_NO_CURL
PullResult pull(const RepoRef& ref, const PullOptions&, RunContext&) {
    fail(ref.str(), "this build of qcompress has no libcurl, so it cannot download; use a folder or a cached model");
}
#else
namespace {

void curlInitOnce() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string lowerStr(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// An ETag as the hub sends it ("abc", W/"abc") reduced to the blob name; empty when it is not
// a plain hex/alnum name (which would be unsafe as a file name).
std::string cleanEtag(std::string e) {
    if (e.rfind("W/", 0) == 0) e = e.substr(2);
    e.erase(std::remove(e.begin(), e.end(), '"'), e.end());
    if (e.empty() || e.size() > 128) return {};
    for (unsigned char c : e)
        if (!std::isalnum(c) && c != '-' && c != '_') return {};
    return e;
}

bool safeRepoPath(const std::string& p) {
    if (p.empty() || p.front() == '/' || p.find('\\') != std::string::npos || p.find('\0') != std::string::npos) return false;
    for (const auto& part : fs::path(p)) {
        const auto s = part.string();
        if (s == ".." || s == "." || s.empty()) return false;
    }
    return true;
}

std::string urlEncodePath(const std::string& p) {
    std::string out;
    for (unsigned char c : p) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') out += static_cast<char>(c);
        else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

std::string humanBytes(double b) {
    char buf[32];
    if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
    else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
    else if (b >= 1e3) std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
    else std::snprintf(buf, sizeof buf, "%.0f B", b);
    return buf;
}

// Hash of a file: sha256 of the contents (LFS), or git's blob sha1 ("blob SIZE\0" + contents).
std::string fileDigest(const fs::path& p, bool gitBlob, RunContext& ctx) {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    if (!md) fail(p.string(), "cannot allocate a hash context");
    EVP_DigestInit_ex(md, gitBlob ? EVP_sha1() : EVP_sha256(), nullptr);
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        EVP_MD_CTX_free(md);
        fail(p.string(), "cannot be read back to check its hash");
    }
    if (gitBlob) {
        const std::string head = "blob " + std::to_string(fs::file_size(p)) + std::string(1, '\0');
        EVP_DigestUpdate(md, head.data(), head.size());
    }
    std::vector<char> buf(1 << 20);
    while (in) {
        in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        if (in.gcount() > 0) EVP_DigestUpdate(md, buf.data(), static_cast<std::size_t>(in.gcount()));
        if (ctx.isCancelled()) {
            EVP_MD_CTX_free(md);
            throw Cancelled();
        }
    }
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(md, out, &n);
    EVP_MD_CTX_free(md);
    std::string hex;
    char b[3];
    for (unsigned i = 0; i < n; ++i) {
        std::snprintf(b, sizeof b, "%02x", out[i]);
        hex += b;
    }
    return hex;
}

struct Response {
    long status = 0;
    std::map<std::string, std::string> headers;  // of the last response, names lower-case
    std::string body;                            // error bodies and API answers
    CURLcode curl = CURLE_OK;
    std::string curlError;
};

struct Transfer {
    Response* resp = nullptr;
    RunContext* ctx = nullptr;
    // Body to a file from `resumeFrom` (206) or 0 (200); nullptr: into resp->body.
    const fs::path* file = nullptr;
    std::int64_t resumeFrom = 0;
    std::FILE* out = nullptr;
    bool decided = false, failed = false;
    std::string failure;
    std::int64_t written = 0;                   // body bytes written to the file this request
    std::function<void(std::int64_t)> onBytes;  // bytes on disk for this file so far
};

size_t onHeader(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    std::string line(data, size * n);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {
        t->resp->headers.clear();  // a new response (after a redirect)
        const auto sp = line.find(' ');
        if (sp != std::string::npos) t->resp->status = std::atol(line.c_str() + sp + 1);
    } else if (auto colon = line.find(':'); colon != std::string::npos) {
        std::string v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(v.begin());
        t->resp->headers[lowerStr(line.substr(0, colon))] = v;
    }
    return size * n;
}

size_t onBody(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const size_t bytes = size * n;
    if (!t->file || t->resp->status >= 300 || t->resp->status < 200) {
        if (t->resp->body.size() < (4u << 20)) t->resp->body.append(data, bytes);
        return bytes;
    }
    if (!t->decided) {
        t->decided = true;
        bool append = false;
        if (t->resp->status == 206) {
            // Content-Range: bytes START-END/TOTAL must continue where the file stops.
            const std::string cr = t->resp->headers["content-range"];
            long long start = -1;
            if (std::sscanf(cr.c_str(), "bytes %lld-", &start) != 1 || start != t->resumeFrom) {
                t->failed = true;
                t->failure = "the server answered a resumed request with Content-Range '" + cr + "', expected bytes " +
                             std::to_string(t->resumeFrom) + "-";
                return 0;
            }
            append = true;
        }
        if (!append) t->resumeFrom = 0;  // 200: the whole file again
        t->out = std::fopen(t->file->c_str(), append ? "ab" : "wb");
        if (!t->out) {
            t->failed = true;
            t->failure = "cannot write " + t->file->string();
            return 0;
        }
        // Unbuffered: what was received is on disk, so a crash loses nothing a resume would
        // have to fetch again (curl hands over up to 16 KiB at a time).
        std::setvbuf(t->out, nullptr, _IONBF, 0);
    }
    if (std::fwrite(data, 1, bytes, t->out) != bytes) {
        t->failed = true;
        t->failure = "write failed on " + t->file->string() + " (disk full?)";
        return 0;
    }
    t->written += static_cast<std::int64_t>(bytes);
    if (t->onBytes) t->onBytes(t->resumeFrom + t->written);
    return bytes;
}

int onXfer(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    return t->ctx && t->ctx->isCancelled() ? 1 : 0;
}

bool transientCurl(CURLcode c) {
    switch (c) {
        case CURLE_PARTIAL_FILE: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR: case CURLE_OPERATION_TIMEDOUT:
        case CURLE_GOT_NOTHING: case CURLE_HTTP2: case CURLE_HTTP2_STREAM: case CURLE_COULDNT_CONNECT:
        case CURLE_SSL_CONNECT_ERROR:
            return true;
        default:
            return false;
    }
}

std::string encodeRevision(const std::string& rev) {
    std::string out;
    for (char c : urlEncodePath(rev)) {
        if (c == '/') out += "%2F";
        else out += c;
    }
    return out;
}

class Client {
public:
    Client(const PullOptions& o, RunContext& ctx) : opts_(o), ctx_(ctx) {
        curlInitOnce();
        endpoint_ = o.endpoint.empty() ? endpoint() : o.endpoint;
        while (!endpoint_.empty() && endpoint_.back() == '/') endpoint_.pop_back();
        token_ = token(o.token);
    }
    const std::string& base() const { return endpoint_; }

    // One request with retries on 429, 5xx and dropped connections. `file` set: the body goes
    // there (resumed from its current size with Range). `method` "GET" or "HEAD".
    Response request(const std::string& url, const std::string& method, bool follow, const fs::path* file,
                     const std::function<void(std::int64_t)>& onBytes, const std::string& what) {
        double wait = opts_.backoffSeconds;
        std::string lastProblem;
        for (int attempt = 1;; ++attempt) {
            ctx_.checkCancelled();
            Response r = once(url, method, follow, file, onBytes);
            if (r.curl == CURLE_ABORTED_BY_CALLBACK && ctx_.isCancelled()) throw Cancelled();
            const bool transient = r.curl != CURLE_OK ? transientCurl(r.curl) : (r.status == 429 || r.status >= 500);
            if (r.curl == CURLE_WRITE_ERROR) fail(what, r.curlError);
            if (!transient) return r;
            lastProblem = r.curl != CURLE_OK ? r.curlError : "HTTP " + std::to_string(r.status);
            if (attempt >= opts_.maxAttempts)
                fail(what, lastProblem + " after " + std::to_string(attempt) + " attempts at " + url);
            double sleepFor = wait;
            if (auto it = r.headers.find("retry-after"); it != r.headers.end()) {
                char* end = nullptr;
                const double ra = std::strtod(it->second.c_str(), &end);
                if (end != it->second.c_str() && ra >= 0) sleepFor = std::min(ra, 120.0);
            }
            ctx_.report("download", 0, 0, {{"retry", attempt}, {"wait_s", sleepFor}},
                        what + ": " + lastProblem + ", retrying");
            const auto until = Clock::now() + std::chrono::duration<double>(sleepFor);
            while (Clock::now() < until) {
                ctx_.checkCancelled();
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            wait = std::min(wait * 2, 60.0);
        }
    }

private:
    Response once(const std::string& url, const std::string& method, bool follow, const fs::path* file,
                  const std::function<void(std::int64_t)>& onBytes) {
        Response r;
        Transfer t;
        t.resp = &r;
        t.ctx = &ctx_;
        t.file = file;
        t.onBytes = onBytes;
        std::error_code ec;
        if (file && fs::exists(*file, ec)) t.resumeFrom = static_cast<std::int64_t>(fs::file_size(*file, ec));
        CURL* c = curl_easy_init();
        if (!c) fail(url, "cannot start libcurl");
        char err[CURL_ERROR_SIZE] = {0};
        curl_slist* hdrs = nullptr;
        if (!token_.empty()) hdrs = curl_slist_append(hdrs, ("Authorization: Bearer " + token_).c_str());
        hdrs = curl_slist_append(hdrs, "Accept-Encoding: identity");
        const std::string range = t.resumeFrom > 0 ? "bytes=" + std::to_string(t.resumeFrom) + "-" : std::string();
        if (!range.empty()) hdrs = curl_slist_append(hdrs, ("Range: " + range).c_str());
        curl_easy_setopt(c, CURLOPT_URL, url.c_str());
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "qcompress (huggingface_hub cache layout; libcurl)");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, follow ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, opts_.lowSpeedSeconds);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, onHeader);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, onBody);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, onXfer);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
        if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        r.curl = curl_easy_perform(c);
        if (t.out) std::fclose(t.out);
        if (t.failed) {
            r.curl = CURLE_WRITE_ERROR;
            r.curlError = t.failure;
        } else if (r.curl != CURLE_OK) {
            r.curlError = err[0] ? std::string(err) : std::string(curl_easy_strerror(r.curl));
        }
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        if (code) r.status = code;
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(c);
        return r;
    }

    PullOptions opts_;
    RunContext& ctx_;
    std::string endpoint_, token_;
};

// One line for an HTTP failure that is not retried.
[[noreturn]] void httpFail(const std::string& what, const Response& r, const std::string& url, bool haveToken) {
    std::string detail;
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("error") && j["error"].is_string()) detail = j["error"].get<std::string>();
    if (detail.size() > 200) detail = detail.substr(0, 200) + "...";
    std::string msg;
    if (r.status == 401 || r.status == 403)
        msg = "HTTP " + std::to_string(r.status) + (haveToken ? ": the token was refused for this repository"
                                                              : ": gated or private repository; pass --token or set HF_TOKEN");
    else if (r.status == 404)
        msg = "not found (HTTP 404 at " + url + ")";
    else
        msg = "HTTP " + std::to_string(r.status) + " at " + url;
    if (!detail.empty()) msg += " (" + detail + ")";
    fail(what, msg);
}

void writeRef(const fs::path& repoDir, const std::string& revision, const std::string& commit) {
    if (revision == commit) return;
    const fs::path ref = repoDir / "refs" / revision;
    fs::create_directories(ref.parent_path());
    writeTextFileAtomically(ref.string(), commit);
}

// snapshots/COMMIT/PATH -> ../../blobs/ETAG (one more ../ per folder in PATH), replaced
// atomically when it exists.
void linkSnapshot(const fs::path& repoDir, const std::string& commit, const std::string& path, const std::string& etag) {
    const fs::path link = repoDir / "snapshots" / commit / path;
    fs::create_directories(link.parent_path());
    const fs::path target = fs::relative(repoDir / "blobs" / etag, link.parent_path());
    const fs::path tmp = link.string() + ".qcw-link";
    std::error_code ec;
    fs::remove(tmp, ec);
    fs::create_symlink(target, tmp);
    fs::rename(tmp, link);
}

}  // namespace

PullResult pull(const RepoRef& ref, const PullOptions& opts, RunContext& ctx) {
    const std::string cache = opts.cache.empty() ? cacheDir() : opts.cache;
    const fs::path repoDir = repoFolder(ref.repo, cache);
    PullResult res;
    res.repo = ref.repo;
    res.revision = ref.revision;
    const std::string what = ref.str();

    if (offlineMode()) {
        auto snap = cachedSnapshot(ref, cache);
        if (!snap) fail(what, "HF_HUB_OFFLINE=1 and this revision is not in the cache " + cache);
        res.offline = true;
        res.snapshot = *snap;
        res.commit = fs::path(*snap).filename().string();
        std::error_code ec;
        for (const auto& f : fs::recursive_directory_iterator(*snap, ec)) {
            if (!fs::is_regular_file(f.path(), ec)) continue;
            PulledFile pf;
            pf.path = fs::relative(f.path(), *snap, ec).generic_string();
            pf.size = static_cast<std::int64_t>(fs::file_size(f.path(), ec));
            res.bytesReused += pf.size;
            res.files.push_back(pf);
        }
        return res;
    }

    Client client(opts, ctx);
    const bool haveToken = !token(opts.token).empty();

    // 1. The files at the revision.
    const std::string apiUrl = client.base() + "/api/models/" + ref.repo + "/revision/" + encodeRevision(ref.revision) + "?blobs=true";
    Response api = client.request(apiUrl, "GET", true, nullptr, {}, what);
    if (api.status != 200) httpFail(what, api, apiUrl, haveToken);
    auto info = nlohmann::json::parse(api.body, nullptr, false);
    if (!info.is_object() || !info.contains("siblings") || !info["siblings"].is_array())
        fail(what, "the hub's answer at " + apiUrl + " is not a repository listing");
    std::string commit = info.value("sha", std::string());
    if (!isCommitHash(commit)) fail(what, "the hub's listing names no commit (\"sha\") at " + apiUrl);
    res.commit = commit;

    struct Want {
        std::string path, sha256, blobId;
        std::int64_t size = -1;
    };
    std::vector<Want> want;
    bool anyWeights = false, anyPickledWeights = false;
    for (const auto& s : info["siblings"]) {
        if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string()) continue;
        const std::string p = s["rfilename"].get<std::string>();
        if (!safeRepoPath(p)) fail(what, "the listing names an unsafe path '" + p + "'");
        if (isPickle(p)) {
            res.skipped.push_back(p + " (pickle: never fetched)");
            anyPickledWeights = true;
            continue;
        }
        const auto& inc = opts.include.empty() ? defaultIncludes() : opts.include;
        if (!std::any_of(inc.begin(), inc.end(), [&](const std::string& g) { return globMatch(g, p); })) {
            res.skipped.push_back(p);
            continue;
        }
        Want w;
        w.path = p;
        if (s.contains("size") && s["size"].is_number_integer()) w.size = s["size"].get<std::int64_t>();
        if (s.contains("blobId") && s["blobId"].is_string()) w.blobId = s["blobId"].get<std::string>();
        if (s.contains("lfs") && s["lfs"].is_object()) {
            const auto& l = s["lfs"];
            if (l.contains("sha256") && l["sha256"].is_string()) w.sha256 = lowerStr(l["sha256"].get<std::string>());
            if (l.contains("size") && l["size"].is_number_integer()) w.size = l["size"].get<std::int64_t>();
        }
        if (fs::path(p).extension() == ".safetensors") anyWeights = true;
        want.push_back(w);
    }
    if (want.empty())
        fail(what, opts.include.empty() ? "has no files this tool fetches (safetensors, configs, tokenizer)"
                                        : "no file matches --include");
    if (!anyWeights && anyPickledWeights && opts.include.empty())
        fail(what, "has only pickled weights (.bin/.pt), which are never fetched; no safetensors to pull");

    // 2. Metadata of each file (HEAD on resolve, no redirect): blob name and size.
    struct Plan {
        Want w;
        std::string etag, url;
        std::int64_t size = 0;
        bool lfs = false, cached = false;
    };
    std::vector<Plan> plan;
    std::int64_t total = 0;
    fs::create_directories(repoDir / "blobs");
    for (const auto& w : want) {
        Plan p;
        p.w = w;
        p.url = client.base() + "/" + ref.repo + "/resolve/" + commit + "/" + urlEncodePath(w.path);
        Response h = client.request(p.url, "HEAD", false, nullptr, {}, what + " " + w.path);
        // A renamed repository answers 301/307/308 to its new name on the same hub: follow those
        // (not the 302 to the CDN, whose headers are the file's metadata).
        for (int hop = 0; hop < 3 && (h.status == 301 || h.status == 307 || h.status == 308); ++hop) {
            const auto loc = h.headers.find("location");
            if (loc == h.headers.end() || loc->second.empty() || loc->second[0] != '/') break;
            p.url = client.base() + loc->second;
            h = client.request(p.url, "HEAD", false, nullptr, {}, what + " " + w.path);
        }
        if (h.status >= 400) httpFail(what + " " + w.path, h, p.url, haveToken);
        const auto hdr = [&](const char* k) {
            auto it = h.headers.find(k);
            return it == h.headers.end() ? std::string() : it->second;
        };
        if (auto rc = hdr("x-repo-commit"); !rc.empty() && rc != commit)
            fail(what + " " + w.path, "the hub resolved it at commit " + rc + ", the listing at " + commit);
        std::string etag = cleanEtag(hdr("x-linked-etag"));
        if (etag.empty()) etag = cleanEtag(hdr("etag"));
        if (etag.empty()) etag = !w.sha256.empty() ? w.sha256 : w.blobId;
        etag = cleanEtag(etag);
        if (etag.empty()) fail(what + " " + w.path, "the hub gave no usable ETag for it");
        std::string sizeStr = hdr("x-linked-size");
        if (sizeStr.empty() && (h.status == 200)) sizeStr = hdr("content-length");
        std::int64_t size = sizeStr.empty() ? w.size : std::atoll(sizeStr.c_str());
        if (w.size >= 0 && size != w.size)
            fail(what + " " + w.path, "the hub lists " + std::to_string(w.size) + " bytes but serves " + std::to_string(size));
        if (size < 0) fail(what + " " + w.path, "the hub gives no size for it");
        p.lfs = !w.sha256.empty() || etag.size() == 64;
        if (!w.sha256.empty() && etag != w.sha256)
            fail(what + " " + w.path, "the hub's ETag " + etag + " differs from the listed sha256 " + w.sha256);
        p.etag = etag;
        p.size = size;
        std::error_code ec;
        const fs::path blob = repoDir / "blobs" / etag;
        p.cached = fs::is_regular_file(blob, ec) && static_cast<std::int64_t>(fs::file_size(blob, ec)) == size;
        if (!p.cached) total += size;
        plan.push_back(p);
    }

    // 3. Download what is missing, resuming partial blobs, then check and link.
    std::int64_t doneBefore = 0;  // bytes of finished files this run
    std::int64_t startBytes = -1;
    const auto t0 = Clock::now();
    auto lastReport = Clock::now() - std::chrono::seconds(1);
    for (auto& p : plan) {
        const fs::path blob = repoDir / "blobs" / p.etag;
        PulledFile pf;
        pf.path = p.w.path;
        pf.etag = p.etag;
        pf.size = p.size;
        pf.lfs = p.lfs;
        if (!p.cached) {
            const fs::path part = blob.string() + ".incomplete";
            std::error_code ec;
            std::int64_t have = fs::exists(part, ec) ? static_cast<std::int64_t>(fs::file_size(part, ec)) : 0;
            if (have > p.size) {
                fs::remove(part, ec);
                have = 0;
            }
            if (startBytes < 0) startBytes = 0;
            res.bytesReused += have;  // resumed: on disk already
            const std::int64_t fileStart = have;
            auto onBytes = [&](std::int64_t onDisk) {
                const auto now = Clock::now();
                if (now - lastReport < std::chrono::milliseconds(200) && onDisk < p.size) return;
                lastReport = now;
                const double secs = std::chrono::duration<double>(now - t0).count();
                const double got = static_cast<double>(doneBefore + onDisk - fileStart);
                const double rate = secs > 0 ? got / secs : 0;
                const double step = static_cast<double>(doneBefore + onDisk);
                const double eta = rate > 0 ? (static_cast<double>(total) - step) / rate : -1;
                char msg[256];
                std::snprintf(msg, sizeof msg, "%s %s/%s %s/s ETA %s", p.w.path.c_str(), humanBytes(step).c_str(),
                              humanBytes(static_cast<double>(total)).c_str(), humanBytes(rate).c_str(),
                              eta < 0 ? "?" : (std::to_string(static_cast<long long>(eta + 0.5)) + "s").c_str());
                ctx.report("download", static_cast<long long>(step), total, {{"bytes_per_s", rate}, {"eta_s", eta}}, msg);
            };
            if (have < p.size || p.size == 0) {
                // Retries resume too: each attempt re-reads the partial file's size.
                for (int restart = 0;; ++restart) {
                    Response g = client.request(p.url, "GET", true, &part, onBytes, what + " " + p.w.path);
                    if (g.status == 416) {  // Range past the end: the partial file is whole or wrong
                        const auto now = fs::exists(part, ec) ? static_cast<std::int64_t>(fs::file_size(part, ec)) : 0;
                        if (now == p.size) break;
                        fs::remove(part, ec);
                        if (restart < 1) continue;
                    }
                    if (g.status >= 300) httpFail(what + " " + p.w.path, g, p.url, haveToken);
                    break;
                }
                if (!fs::exists(part, ec)) std::ofstream(part, std::ios::binary).flush();  // an empty file
            }
            const auto got = static_cast<std::int64_t>(fs::file_size(part, ec));
            if (got != p.size) {
                fs::remove(part, ec);
                fail(what + " " + p.w.path, "downloaded " + std::to_string(got) + " bytes, the hub lists " +
                                                std::to_string(p.size) + "; the partial blob was deleted, pull again");
            }
            // Hash: sha256 for LFS files, git's blob sha1 for the others.
            const bool gitBlob = !p.lfs;
            const std::string digest = fileDigest(part, gitBlob, ctx);
            const std::string expect = p.lfs ? (p.w.sha256.empty() ? p.etag : p.w.sha256) : (p.w.blobId.empty() ? p.etag : p.w.blobId);
            if (lowerStr(digest) != lowerStr(expect)) {
                fs::remove(part, ec);
                fail(what + " " + p.w.path, std::string(gitBlob ? "git blob sha1" : "sha256") + " mismatch: expected " +
                                                expect + ", got " + digest + "; the corrupted blob was deleted");
            }
            fs::rename(part, blob);
            pf.downloaded = p.size - fileStart;
            res.bytesDownloaded += pf.downloaded;
            doneBefore += p.size;
            onBytes(p.size);
        } else {
            res.bytesReused += p.size;
        }
        linkSnapshot(repoDir, commit, p.w.path, p.etag);
        res.files.push_back(pf);
    }
    writeRef(repoDir, ref.revision, commit);
    res.snapshot = (repoDir / "snapshots" / commit).string();
    return res;
}

#endif  // QCW_HUB_NO_CURL

}  // namespace qcw::hub
